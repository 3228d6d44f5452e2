/**
 * One batch from sample indices to a packed Float32Array [B, C, H, W]: load (memory view or sharp
 * decode), convert channels, transform with each sample's own seeded Rng. The same code runs in
 * loader workers and, for `workers: 0`, on the main thread, so both give the same bytes.
 */
import { readFile } from 'node:fs/promises';
import { grayscale } from './color.js';
import { tooManyPixels } from './errors.js';
import { drawTail, fusedSample, fusedWrite, planTransforms, type Crop, type Plan } from './fused.js';
import { rrcParams } from './geometric.js';
import { resample } from './geometry.js';
import { decodeError, decodeImageDeep, decodeMask, DEFAULT_MAX_PIXELS, imageSize } from './image.js';
import { decodeLeanJpeg, leanJpegSize } from './jpeg.js';
import { drawMosaic, mosaic, type MosaicSpec } from './mosaic.js';
import { Packer, type PackedTargets } from './packer.js';
import { pair, type Img } from './pixels.js';
import { Rng } from './rng.js';
import { applySampleTransform, applySampleTransforms } from './sample.js';
import type { BoxTargets } from './source.js';
import { moveTargets, readBoxes, type Sample, type SampleGeometry } from './targets.js';
import { applyTransform, applyTransforms, type TransformSpec } from './transforms.js';

/** What a worker needs of a source: pixels (shared memory) or paths, and the targets, never the labels. */
export type SourceView =
  | { kind: 'memory'; images: Uint8Array; height: number; width: number; channels: number; boxes?: BoxTargets[]; masks?: Uint8Array }
  | { kind: 'files'; paths: string[]; boxes?: BoxTargets[]; masks?: string[] };

export interface PipelineConfig {
  transforms: TransformSpec[];
  seed: number;
  /** Channels the model takes; sources with the other count are converted. */
  channels: 1 | 3;
  /** false: apply every transform one by one (the fused tail is the default; both give the same floats). */
  fuse?: boolean;
  /** Shrink-on-load for files: decode with the shorter side at most this (sharp, before the transforms). */
  decodeSize?: number;
  /** Track each sample's geometry (input = original·scale + pad); the pipeline must be axis-aligned. */
  geometry?: boolean;
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
  /** Sources with boxes: float32 [M, 6] rows (index in `kept`, class, x1, y1, x2, y2) in the input's pixels. */
  boxes?: Float32Array;
  /** Sources with masks: kept.length · H · W class ids (255 = ignore). */
  masks?: Uint8Array;
  /** With `geometry`: one per kept sample. */
  geometry?: SampleGeometry[];
}

function withChannels(img: Img, channels: 1 | 3): Img {
  return img.channels === channels ? img : grayscale(img, channels);
}

function memorySample(src: Extract<SourceView, { kind: 'memory' }>, i: number): Img {
  const size = src.height * src.width * src.channels;
  return { data: src.images.subarray(i * size, (i + 1) * size), width: src.width, height: src.height, channels: src.channels };
}

/** How a config runs: a leading mosaic, the fused plan of the rest, and which targets samples carry (null: none, the image-only path). */
interface Flow {
  mosaic: MosaicSpec | null;
  body: TransformSpec[];
  plan: Plan;
  want: PackedTargets | null;
}

const plans = new WeakMap<PipelineConfig, Omit<Flow, 'want'>>();

function flowOf(cfg: PipelineConfig, src: SourceView): Flow {
  let p = plans.get(cfg);
  if (!p) {
    const first = cfg.transforms[0];
    const mosaic = first?.op === 'mosaic' ? first : null;
    const body = mosaic ? cfg.transforms.slice(1) : cfg.transforms;
    plans.set(cfg, (p = { mosaic, body, plan: cfg.fuse === false ? { head: body, tail: null } : planTransforms(body) }));
  }
  const want = { boxes: src.boxes !== undefined, masks: src.masks !== undefined, geometry: cfg.geometry === true };
  return { ...p, want: want.boxes || want.masks || want.geometry || p.mosaic ? want : null };
}

/** Transforms one sample into its batch slot: the head one by one (from its op `from`), then the fused tail in place. */
function transformInto(packer: Packer, slot: number, img: Img, flow: Flow, rng: Rng, from = 0): void {
  const { plan, body } = flow;
  for (const t of plan.head.slice(from)) img = applyTransform(img, t, rng);
  const fused = plan.tail && fusedSample(plan.tail, img, rng);
  if (fused) packer.write(slot, fused);
  else packer.put(slot, applyTransforms(img, body.slice(plan.head.length), rng));
}

/** The same for a sample with targets (after its mosaic, if any), which move with the pixels. */
function transformSampleInto(packer: Packer, slot: number, s: Sample, flow: Flow, rng: Rng): void {
  const { plan, body } = flow;
  for (const t of plan.head) s = applySampleTransform(s, t, rng);
  const fused = plan.tail && fusedSample(plan.tail, s.img, rng);
  if (fused) {
    packer.write(slot, fused);
    packer.targets(slot, moveTargets(s, fused.map));
    return;
  }
  const done = applySampleTransforms(s, body.slice(plan.head.length), rng);
  packer.put(slot, done.img);
  packer.targets(slot, done);
}

const newGeometry = (h: number, w: number): SampleGeometry => ({ size: [h, w], scale: [1, 1], pad: [0, 0] });

/** A memory sample with its targets, or why it cannot be used. */
function memoryLoad(src: Extract<SourceView, { kind: 'memory' }>, cfg: PipelineConfig, i: number): Sample | string {
  const s: Sample = { img: withChannels(memorySample(src, i), cfg.channels) };
  if (src.boxes) {
    const b = readBoxes(src.boxes[i]);
    if (typeof b === 'string') return b;
    [s.boxes, s.classes] = [b.boxes, b.classes];
  }
  if (src.masks) s.mask = src.masks.subarray(i * src.height * src.width, (i + 1) * src.height * src.width);
  if (cfg.geometry) s.geometry = newGeometry(src.height, src.width);
  return s;
}

/** Partner draws a mosaic makes before it gives up on a sample (a partner that fails to load is replaced). */
const PARTNER_DRAWS = 8;
const noPartners = (last: string): string => `mosaic: ${PARTNER_DRAWS} draws gave fewer than 3 other samples that load (last: ${last})`;

/** The synchronous path for in-memory sources. */
export function processMemoryBatch(src: Extract<SourceView, { kind: 'memory' }>, cfg: PipelineConfig, job: BatchJob, spare?: ArrayBuffer[]): BatchResult {
  const flow = flowOf(cfg, src);
  const packer = new Packer(job.indices.length, spare, flow.want);
  const failed: BatchResult['failed'] = [];
  job.indices.forEach((i, slot) => {
    const rng = Rng.forSample(cfg.seed, job.epoch, i);
    if (!flow.want) return transformInto(packer, slot, withChannels(memorySample(src, i), cfg.channels), flow, rng);
    let s = memoryLoad(src, cfg, i);
    if (typeof s !== 'string' && flow.mosaic) s = memoryMosaic(src, cfg, flow.mosaic, s, rng);
    if (typeof s === 'string') failed.push({ index: i, reason: s });
    else transformSampleInto(packer, slot, s, flow, rng);
  });
  return result(job, packer, failed);
}

/** A memory sample's mosaic, its partners drawn from its Rng. */
function memoryMosaic(src: Extract<SourceView, { kind: 'memory' }>, cfg: PipelineConfig, spec: MosaicSpec, s: Sample, rng: Rng): Sample | string {
  const draw = drawMosaic(spec, rng);
  const n = src.images.length / (src.height * src.width * src.channels);
  const tiles = [s];
  let last = '';
  for (let k = 0; draw.apply && k < PARTNER_DRAWS && tiles.length < 4; k++) {
    const p = memoryLoad(src, cfg, rng.int(0, n));
    if (typeof p === 'string') last = p;
    else tiles.push(p);
  }
  return draw.apply && tiles.length < 4 ? noPartners(last) : mosaic(spec, tiles, draw, rng);
}

function result(job: BatchJob, packer: Packer, failed: BatchResult['failed']): BatchResult {
  const { slots, ...packed } = packer.finish();
  return { batch: job.batch, ...packed, kept: slots.map((s) => job.indices[s]!), failed };
}

/** The first line of an error, with file-system codes in words. */
function why(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err.code === 'ENOENT' ? 'file not found' : err.code ? `cannot read file (${err.code})` : String(err.message ?? e).split('\n')[0]!;
}

/** A file sample decoded, with its targets (scaled with the image when `decodeSize` shrank it), or why it cannot be used. */
async function fileLoad(src: Extract<SourceView, { kind: 'files' }>, cfg: PipelineConfig, i: number, want: PackedTargets | null, read?: Buffer): Promise<Sample | string> {
  let buf: Buffer;
  let img: Img;
  try {
    const opts = { channels: cfg.channels, ...(cfg.decodeSize === undefined ? {} : { size: cfg.decodeSize, shrinkOnly: true }), ...(cfg.maxPixels === undefined ? {} : { maxPixels: cfg.maxPixels }) };
    // Read here, decode from memory: libvips opening the file itself costs ~10% more per image.
    buf = read ?? (await readFile(src.paths[i]!));
    img = await decodeImageDeep(buf, opts);
  } catch (e) {
    return `decode failed: ${why(e)}`;
  }
  if (!want) return { img };
  let [h0, w0] = [img.height, img.width];
  if (cfg.decodeSize !== undefined) [h0, w0] = await imageSize(buf);
  const s: Sample = { img: { ...img, width: w0, height: h0 } };
  if (src.boxes) {
    const b = readBoxes(src.boxes[i]);
    if (typeof b === 'string') return b;
    [s.boxes, s.classes] = [b.boxes, b.classes];
  }
  if (src.masks) {
    try {
      const m = await decodeMask(await readFile(src.masks[i]!));
      if (m.width !== w0 || m.height !== h0) return `mask: ${m.width}×${m.height}, image ${w0}×${h0}`;
      s.mask = m.data;
    } catch (e) {
      return `mask: ${why(e)}`;
    }
  }
  if (cfg.geometry) s.geometry = newGeometry(h0, w0);
  if (w0 === img.width && h0 === img.height) return { ...s, img };
  return { ...moveTargets(s, { kind: 'axis', sx: img.width / w0, sy: img.height / h0, tx: 0, ty: 0, w: img.width, h: img.height }), img };
}


/**
 * Shrink-on-load: the largest DCT scale (1, 2, 4, 8) that leaves the crop at least twice the
 * output's size, so a crop four times the output or more is decoded smaller by the IDCT itself.
 * The factor of two left to the antialiased resampler is libvips' rule for its own JPEG
 * shrink-on-load: the IDCT's block shrink alone aliases (at 1/8 it is a plain 8×8 mean).
 */
function shrinkFor(c: Crop): number {
  let s = 1;
  while (s < 8 && c.w >= 4 * s * c.outW && c.h >= 4 * s * c.outH) s *= 2;
  return s;
}

/** A crop in the pixels of the image decoded at 1/s of its size ([W, H] its full size). */
function scaledCrop<T extends Crop>(c: T, s: number, [W, H]: [number, number]): T {
  if (s === 1) return c;
  const [Ws, Hs] = [Math.ceil(W / s), Math.ceil(H / s)];
  const [left, top] = [Math.min(Ws - 1, Math.round(c.left / s)), Math.min(Hs - 1, Math.round(c.top / s))];
  return { ...c, left, top, w: Math.max(1, Math.min(Ws - left, Math.round(c.w / s))), h: Math.max(1, Math.min(Hs - top, Math.round(c.h / s))) };
}

/**
 * Decodes the part of a lean JPEG (jpeg.ts) that a crop drawn from its header's size needs: only
 * the rows and iMCU columns that hold it, with a pixel's margin so the chroma upsampling at the
 * region's edges never reaches the crop; crops of four times the output or more at 1/2, 1/4 or
 * 1/8 scale (shrinkFor). Returns the region and the crop in its pixels.
 */
async function decodeCrop<T extends Crop>(buf: Buffer, size: [number, number], maxPixels: number, crop: T): Promise<{ img: Img; crop: T; origin: [number, number] }> {
  const s = shrinkFor(crop);
  const c = scaledCrop(crop, s, size);
  const [W, H] = [Math.ceil(size[0] / s), Math.ceil(size[1] / s)];
  const [x0, y0] = [Math.max(0, c.left - 1), Math.max(0, c.top - 1)];
  const region = { x: x0, y: y0, w: Math.min(W, c.left + c.w + 1) - x0, h: Math.min(H, c.top + c.h + 1) - y0 };
  const px = await decodeLeanJpeg(buf, maxPixels, region, s);
  return { img: { data: px.data, width: px.width, height: px.height, channels: 3 }, crop: c, origin: [px.x, px.y] };
}

/** Whether samples may be cropped before decoding: image only, RGB, no decodeSize, and the transforms start with a RandomResizedCrop. */
function cropsFirst(cfg: PipelineConfig, flow: Flow): boolean {
  return !flow.want && flow.body[0]?.op === 'randomResizedCrop' && cfg.channels === 3 && cfg.decodeSize === undefined;
}

/**
 * A lean JPEG cropped before it is decoded: its RandomResizedCrop is drawn from the header's size
 * (the same draws as on the decoded image), then only the crop is decoded (decodeCrop) and the
 * rest of the pipeline runs, fused or not: for crops under four times the output, the pixels of
 * decoding the whole image. null when done, a reason when the file fails, 'not-lean' (nothing
 * drawn) for any file that is not a lean JPEG.
 */
async function regionLoad(buf: Buffer, cfg: PipelineConfig, flow: Flow, packer: Packer, slot: number, rng: Rng): Promise<string | null | 'not-lean'> {
  const size = leanJpegSize(buf);
  if (!size) return 'not-lean';
  const maxPixels = cfg.maxPixels ?? DEFAULT_MAX_PIXELS;
  if (size[0] * size[1] > maxPixels) return `decode failed: ${tooManyPixels(maxPixels, size).message}`;
  const { plan } = flow;
  try {
    if (plan.head.length === 0 && plan.tail?.rrc) {
      const r = await decodeCrop(buf, size, maxPixels, drawTail(plan.tail, size[0], size[1], rng)!);
      packer.write(slot, fusedWrite(plan.tail, r.img, r.crop, r.origin));
      return null;
    }
    const rrc = flow.body[0] as Extract<TransformSpec, { op: 'randomResizedCrop' }>;
    const [outH, outW] = pair(rrc.size);
    const [top, left, h, w] = rrcParams(size[0], size[1], rrc.scale ?? [0.08, 1], rrc.ratio ?? [3 / 4, 4 / 3], rng);
    const r = await decodeCrop(buf, size, maxPixels, { left, top, w, h, outW, outH });
    const c = r.crop;
    transformInto(packer, slot, resample(r.img, c.left - r.origin[0], c.top - r.origin[1], c.w, c.h, outW, outH), flow, rng, 1);
    return null;
  } catch (e) {
    return `decode failed: ${why(decodeError(e, buf))}`;
  }
}

/** One image-only sample cropped before decoding when it is a lean JPEG, else loaded and transformed as usual. */
async function regionSample(src: Extract<SourceView, { kind: 'files' }>, cfg: PipelineConfig, flow: Flow, packer: Packer, slot: number, i: number, rng: Rng): Promise<string | null> {
  let buf: Buffer;
  try {
    buf = await readFile(src.paths[i]!);
  } catch (e) {
    return `decode failed: ${why(e)}`;
  }
  const r = await regionLoad(buf, cfg, flow, packer, slot, rng);
  if (r !== 'not-lean') return r;
  const s = await fileLoad(src, cfg, i, null, buf);
  if (typeof s === 'string') return s;
  transformInto(packer, slot, s.img, flow, rng);
  return null;
}

const DECODE_AHEAD = 8;

/** Any source; files are decoded with up to DECODE_AHEAD in flight, and a file that fails to decode is reported, not thrown. */
export async function processBatch(src: SourceView, cfg: PipelineConfig, job: BatchJob, spare?: ArrayBuffer[]): Promise<BatchResult> {
  if (src.kind === 'memory') return processMemoryBatch(src, cfg, job, spare);
  const flow = flowOf(cfg, src);
  const packer = new Packer(job.indices.length, spare, flow.want);
  const failed: BatchResult['failed'] = [];
  const region = cropsFirst(cfg, flow);
  let next = 0;
  const run = async (): Promise<void> => {
    while (next < job.indices.length) {
      const slot = next++;
      const i = job.indices[slot]!;
      if (region) {
        const reason = await regionSample(src, cfg, flow, packer, slot, i, Rng.forSample(cfg.seed, job.epoch, i));
        if (reason !== null) failed.push({ index: i, reason });
        continue;
      }
      let s = await fileLoad(src, cfg, i, flow.want);
      const rng = Rng.forSample(cfg.seed, job.epoch, i);
      if (typeof s !== 'string' && flow.mosaic) s = await fileMosaic(src, cfg, flow, s, rng);
      if (typeof s === 'string') failed.push({ index: i, reason: s });
      else if (flow.want) transformSampleInto(packer, slot, s, flow, rng);
      else transformInto(packer, slot, s.img, flow, rng);
    }
  };
  await Promise.all(Array.from({ length: Math.min(DECODE_AHEAD, job.indices.length) }, run));
  failed.sort((a, b) => job.indices.indexOf(a.index) - job.indices.indexOf(b.index));
  return result(job, packer, failed);
}

/** A file sample's mosaic, its partners drawn from its Rng and decoded here. */
async function fileMosaic(src: Extract<SourceView, { kind: 'files' }>, cfg: PipelineConfig, flow: Flow, s: Sample, rng: Rng): Promise<Sample | string> {
  const draw = drawMosaic(flow.mosaic!, rng);
  const tiles = [s];
  let last = '';
  for (let k = 0; draw.apply && k < PARTNER_DRAWS && tiles.length < 4; k++) {
    const p = await fileLoad(src, cfg, rng.int(0, src.paths.length), flow.want);
    if (typeof p === 'string') last = p;
    else tiles.push(p);
  }
  return draw.apply && tiles.length < 4 ? noPartners(last) : mosaic(flow.mosaic!, tiles, draw, rng);
}
