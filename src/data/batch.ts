/**
 * One batch from sample indices to a packed Float32Array [B, C, H, W]: load (memory view or sharp
 * decode), convert channels, transform with each sample's own seeded Rng. The same code runs in
 * loader workers and, for `workers: 0`, on the main thread, so both give the same bytes.
 */
import { readFile } from 'node:fs/promises';
import { grayscale } from './color.js';
import { PipelineError } from './errors.js';
import { fusedSample, planTransforms, type FusedSample, type Plan } from './fused.js';
import { decodeImage } from './image.js';
import type { Img } from './pixels.js';
import { Rng } from './rng.js';
import { applyTransform, applyTransforms, type TransformSpec } from './transforms.js';

/** What a worker needs of a source: pixels (shared memory) or paths, never the labels. */
export type SourceView =
  | { kind: 'memory'; images: Uint8Array; height: number; width: number; channels: number }
  | { kind: 'files'; paths: string[] };

export interface PipelineConfig {
  transforms: TransformSpec[];
  seed: number;
  /** Channels the model takes; sources with the other count are converted. */
  channels: 1 | 3;
  /** false: apply every transform one by one (the fused tail is the default; both give the same floats). */
  fuse?: boolean;
  /** Shrink-on-load for files: decode with the shorter side at most this (sharp, before the transforms). */
  decodeSize?: number;
  /** Files: refuse (as a failed sample) images with more pixels than this; default DEFAULT_MAX_PIXELS. */
  maxPixels?: number;
}

export interface BatchJob {
  epoch: number;
  batch: number;
  indices: number[];
}

export interface BatchResult {
  batch: number;
  /** Kept samples, packed: kept.length · C·H·W values. */
  data: Float32Array;
  shape: [number, number, number];
  /** Dataset indices of the samples in `data`, in batch order. */
  kept: number[];
  failed: { index: number; reason: string }[];
}

function withChannels(img: Img, channels: 1 | 3): Img {
  return img.channels === channels ? img : grayscale(img, channels);
}

function memorySample(src: Extract<SourceView, { kind: 'memory' }>, i: number): Img {
  const size = src.height * src.width * src.channels;
  return { data: src.images.subarray(i * size, (i + 1) * size), width: src.width, height: src.height, channels: src.channels };
}

class Packer {
  #data: Float32Array | null = null;
  #shape: [number, number, number] = [0, 0, 0];
  readonly #filled: boolean[];

  /** `spare`: buffers of earlier batches to refill (one of exactly the batch's size is taken). */
  constructor(n: number, private readonly spare: ArrayBuffer[] = []) {
    this.#filled = new Array<boolean>(n).fill(false);
  }

  /** Where sample `slot`, of CHW shape `shape`, goes in the batch buffer (allocated by the first sample). */
  #at(slot: number, shape: [number, number, number]): number {
    const size = shape[0] * shape[1] * shape[2];
    if (this.#data === null) {
      this.#shape = shape;
      // A spare buffer, else an uninitialized one (no memset of the whole batch): every kept slot
      // is written in full, and finish() hands out only those.
      const n = this.#filled.length * size;
      const k = this.spare.findIndex((b) => b.byteLength === n * 4);
      const buffer = k >= 0 ? this.spare.splice(k, 1)[0]! : Buffer.allocUnsafeSlow(n * 4).buffer;
      this.#data = new Float32Array(buffer, 0, n);
    } else if (shape.some((v, k) => v !== this.#shape[k])) {
      throw new PipelineError(`samples in a batch differ in size (${shape.join('×')} vs ${this.#shape.join('×')}): end the transforms with a fixed-size crop or resize`);
    }
    this.#filled[slot] = true;
    return slot * size;
  }

  put(slot: number, img: Img & { data: Float32Array }): void {
    const at = this.#at(slot, [img.channels, img.height, img.width]);
    this.#data!.set(img.data, at);
  }

  /** Lets the fused tail write the sample in place. */
  write(slot: number, s: FusedSample): void {
    const at = this.#at(slot, s.shape);
    s.write(this.#data!, at);
  }

  finish(job: BatchJob, failed: BatchResult['failed']): BatchResult {
    const kept: number[] = [];
    const data = this.#data ?? new Float32Array(0);
    const size = this.#shape[0] * this.#shape[1] * this.#shape[2];
    this.#filled.forEach((filled, slot) => {
      if (!filled) return;
      if (kept.length !== slot) data.copyWithin(kept.length * size, slot * size, (slot + 1) * size);
      kept.push(job.indices[slot]!);
    });
    return { batch: job.batch, data: data.subarray(0, kept.length * size), shape: this.#shape, kept, failed };
  }
}

const plans = new WeakMap<PipelineConfig, Plan>();

/** Transforms one sample into its batch slot: the head one by one, then the fused tail in place. */
function transformInto(packer: Packer, slot: number, img: Img, cfg: PipelineConfig, rng: Rng): void {
  let plan = plans.get(cfg);
  if (!plan) plans.set(cfg, (plan = cfg.fuse === false ? { head: cfg.transforms, tail: null } : planTransforms(cfg.transforms)));
  for (const t of plan.head) img = applyTransform(img, t, rng);
  const fused = plan.tail && fusedSample(plan.tail, img, rng);
  if (fused) packer.write(slot, fused);
  else packer.put(slot, applyTransforms(img, cfg.transforms.slice(plan.head.length), rng));
}

/** The synchronous path for in-memory sources. */
export function processMemoryBatch(src: Extract<SourceView, { kind: 'memory' }>, cfg: PipelineConfig, job: BatchJob, spare?: ArrayBuffer[]): BatchResult {
  const packer = new Packer(job.indices.length, spare);
  job.indices.forEach((i, slot) => {
    transformInto(packer, slot, withChannels(memorySample(src, i), cfg.channels), cfg, Rng.forSample(cfg.seed, job.epoch, i));
  });
  return packer.finish(job, []);
}

const DECODE_AHEAD = 8;

/** Any source; files are decoded with up to DECODE_AHEAD in flight, and a file that fails to decode is reported, not thrown. */
export async function processBatch(src: SourceView, cfg: PipelineConfig, job: BatchJob, spare?: ArrayBuffer[]): Promise<BatchResult> {
  if (src.kind === 'memory') return processMemoryBatch(src, cfg, job, spare);
  const packer = new Packer(job.indices.length, spare);
  const failed: BatchResult['failed'] = [];
  let next = 0;
  const run = async (): Promise<void> => {
    while (next < job.indices.length) {
      const slot = next++;
      const i = job.indices[slot]!;
      let img: Img;
      try {
        const opts = { channels: cfg.channels, ...(cfg.decodeSize === undefined ? {} : { size: cfg.decodeSize, shrinkOnly: true }), ...(cfg.maxPixels === undefined ? {} : { maxPixels: cfg.maxPixels }) };
        // Read here, decode from memory: libvips opening the file itself costs ~10% more per image.
        img = await decodeImage(await readFile(src.paths[i]!), opts);
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        const why = err.code === 'ENOENT' ? 'file not found' : err.code ? `cannot read file (${err.code})` : String(err.message ?? e).split('\n')[0];
        failed.push({ index: i, reason: `decode failed: ${why}` });
        continue;
      }
      transformInto(packer, slot, img, cfg, Rng.forSample(cfg.seed, job.epoch, i));
    }
  };
  await Promise.all(Array.from({ length: Math.min(DECODE_AHEAD, job.indices.length) }, run));
  failed.sort((a, b) => job.indices.indexOf(a.index) - job.indices.indexOf(b.index));
  return packer.finish(job, failed);
}
