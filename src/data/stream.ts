/**
 * BatchStream: the tensor-free core of DataLoader. Batches of decoded, transformed samples as
 * packed Float32Arrays (worker threads ahead of the consumer, or the main thread), so a process
 * that never loads libtorch (ONNX Runtime prediction) reads images exactly as training does.
 */
import { availableParallelism } from 'node:os';
import sharp from 'sharp';
import { processBatch, processMemoryBatch, type BatchJob, type BatchResult, type PipelineConfig, type SourceView } from './batch.js';
import { DataError, PipelineError } from './errors.js';
import { WorkerPool } from './pool.js';
import { epochPermutation } from './rng.js';
import { geometryBreaker } from './sample.js';
import { sourceLength, type DataSource } from './source.js';
import type { TransformSpec } from './transforms.js';

export interface StreamOptions {
  batchSize: number;
  /** Seeded shuffle per (seed, epoch); default false. */
  shuffle?: boolean;
  /** Drop the last, smaller batch; default false. */
  dropLast?: boolean;
  /** Per-sample transforms (see buildTransforms); the output is always CHW float. Default: none (toTensor). */
  transforms?: TransformSpec[];
  /** Seeds the shuffle and every sample's augmentation; default 0. */
  seed?: number;
  /** Worker threads; 0 runs on the main thread (synchronous for in-memory sources). Default: defaultWorkers(source). */
  workers?: number;
  /** Batches requested ahead of the one being consumed; default 2·workers. */
  prefetch?: number;
  /** Channels the model takes (grey ↔ RGB converted). Default: the length of the transforms' normalize mean when 1 or 3, else the source's (3 for files without `channels`). */
  channels?: 1 | 3;
  /** Files only: decode with the shorter side shrunk to at most this (fast JPEG shrink-on-load) before the transforms. */
  decodeSize?: number;
  /**
   * Report each sample's geometry (input = original·scale + pad), which maps predictions back to the
   * original image (unletterboxBoxes). Default: when the source has targets and every transform is
   * axis-aligned (resize, letterbox, crops, hflip, photometric ops); true with a rotation, affine,
   * mosaic or auto-augment op is an error.
   */
  geometry?: boolean;
  /** Files only: images with more pixels than this fail as samples (their `failed` reason says so); default DEFAULT_MAX_PIXELS. */
  maxPixels?: number;
}

/**
 * Threads worth starting for a source: none for in-memory images (their per-sample work is cheaper
 * than the thread hop, and spare cores belong to libtorch's intra-op threads), min(4, cores) for
 * files, whose decoding dominates.
 */
export function defaultWorkers(source: DataSource): number {
  return source.kind === 'memory' ? 0 : Math.min(4, availableParallelism());
}

const shared = new WeakMap<Uint8Array, Uint8Array>();

/** Pixels (or masks) in a SharedArrayBuffer, copied once per source array. */
function sharedImages(images: Uint8Array): Uint8Array {
  if (images.buffer instanceof SharedArrayBuffer) return images;
  let s = shared.get(images);
  if (!s) {
    s = new Uint8Array(new SharedArrayBuffer(images.byteLength));
    s.set(images);
    shared.set(images, s);
  }
  return s;
}

/** Targets that do not match the source's sample count (one sample's bad boxes only fail that sample). */
function checkTargets(s: DataSource): void {
  const n = sourceLength(s);
  if (s.boxes && s.boxes.length !== n) throw new DataError(`source has ${s.boxes.length} box entries for ${n} samples`);
  if (s.kind === 'files' && s.masks && s.masks.length !== n) throw new DataError(`source has ${s.masks.length} mask paths for ${n} samples`);
  if (s.kind === 'memory' && s.masks && s.masks.length !== n * s.height * s.width) {
    throw new DataError(`source masks hold ${s.masks.length} bytes, not ${n}·${s.height}·${s.width} (one byte per pixel of each image)`);
  }
}

/**
 * Iterates a DataSource in batches of BatchResults, one epoch at a time, deterministically: the
 * order comes from (seed, epoch) and each sample's augmentation from (seed, epoch, index), whatever
 * `workers` is. Every batch is yielded, including one whose samples all failed (`kept` empty), so
 * the consumer sees every failure. Workers start on the first epoch and are kept, but never hold
 * the process open between epochs; `close()` stops them.
 *
 * @example
 * const stream = new BatchStream({ kind: 'files', paths, labels: new Int32Array(paths.length) }, { batchSize: 8, transforms });
 * for await (const r of stream.epoch(0)) console.log(r.kept.length, r.shape, r.failed);
 * await stream.close();
 */
export class BatchStream {
  /** Batches per epoch. */
  readonly length: number;
  readonly #source: DataSource;
  readonly #opts: Required<Pick<StreamOptions, 'batchSize' | 'shuffle' | 'dropLast' | 'seed' | 'workers' | 'prefetch'>>;
  readonly #config: PipelineConfig;
  #pool: WorkerPool | null = null;
  /** Buffers to refill (recycle()). */
  readonly #spare: ArrayBuffer[] = [];

  constructor(source: DataSource, opts: StreamOptions) {
    if (!(Number.isInteger(opts.batchSize) && opts.batchSize > 0)) throw new RangeError(`batchSize must be a positive integer, got ${opts.batchSize}`);
    const workers = opts.workers ?? defaultWorkers(source);
    if (!(Number.isInteger(workers) && workers >= 0)) throw new RangeError(`workers must be a non-negative integer, got ${workers}`);
    this.#source = source;
    this.#opts = {
      batchSize: opts.batchSize,
      shuffle: opts.shuffle ?? false,
      dropLast: opts.dropLast ?? false,
      seed: opts.seed ?? 0,
      workers,
      prefetch: Math.max(1, opts.prefetch ?? 2 * workers),
    };
    const normMean = opts.transforms?.find((t) => t.op === 'normalize')?.mean.length;
    const implied = normMean === 1 || normMean === 3 ? normMean : undefined;
    const channels = opts.channels ?? implied ?? (source.kind === 'memory' ? source.channels : source.channels ?? 3);
    this.#config = { transforms: opts.transforms ?? [], seed: this.#opts.seed, channels };
    if (opts.decodeSize !== undefined) this.#config.decodeSize = opts.decodeSize;
    checkTargets(source);
    const transforms = this.#config.transforms;
    if (transforms.findIndex((t) => t.op === 'mosaic') > 0) throw new PipelineError("transform 'mosaic' must be the first one (it loads other samples)");
    const breaker = geometryBreaker(transforms);
    if (opts.geometry && breaker) throw new PipelineError(`geometry needs axis-aligned transforms (resize, letterbox, crops, hflip): '${breaker}' is not`);
    if (opts.geometry ?? (!breaker && (source.boxes !== undefined || source.masks !== undefined))) this.#config.geometry = true;
    if (opts.maxPixels !== undefined) this.#config.maxPixels = opts.maxPixels;
    // libvips' operation cache never hits on a stream of distinct files: it costs ~7% of each
    // decode and holds up to 50 MB. It is process-wide; sharp.cache() turns it back on.
    if (source.kind === 'files') sharp.cache(false);
    const n = sourceLength(source);
    this.length = this.#opts.dropLast ? Math.floor(n / opts.batchSize) : Math.ceil(n / opts.batchSize);
  }

  /** The order in which epoch `epoch` visits the samples. */
  order(epoch: number): Int32Array {
    const n = sourceLength(this.#source);
    return this.#opts.shuffle ? epochPermutation(n, this.#opts.seed, epoch) : Int32Array.from({ length: n }, (_, i) => i);
  }

  #jobs(epoch: number): BatchJob[] {
    const order = this.order(epoch);
    const B = this.#opts.batchSize;
    return Array.from({ length: this.length }, (_, b) => ({ epoch, batch: b, indices: Array.from(order.subarray(b * B, (b + 1) * B)) }));
  }

  /** What the batch code reads; worker threads get the pixels (and masks) in shared memory. */
  #view(forWorkers: boolean): SourceView {
    const s = this.#source;
    if (s.kind === 'files') {
      const v: SourceView = { kind: 'files', paths: s.paths };
      if (s.boxes) v.boxes = s.boxes;
      if (s.masks) v.masks = s.masks;
      return v;
    }
    const share = (a: Uint8Array): Uint8Array => (forWorkers ? sharedImages(a) : a);
    const v: SourceView = { kind: 'memory', images: share(s.images), height: s.height, width: s.width, channels: s.channels };
    if (s.boxes) v.boxes = s.boxes;
    if (s.masks) v.masks = share(s.masks);
    return v;
  }

  /**
   * The batches of one epoch, in order. Breaking out early is fine: requested batches are
   * abandoned and the workers go idle. A pipeline error fails the epoch with a one-line DataError.
   */
  async *epoch(epoch: number): AsyncGenerator<BatchResult, void, undefined> {
    const jobs = this.#jobs(epoch);
    const fail = (i: number, e: unknown): DataError => new DataError(`epoch ${epoch}, batch ${i}: ${(e as Error)?.message ?? e}`);
    if (this.#opts.workers === 0) {
      const view = this.#view(false);
      for (const [i, job] of jobs.entries()) {
        let r: BatchResult;
        try {
          r = view.kind === 'memory' ? processMemoryBatch(view, this.#config, job, this.#spare) : await processBatch(view, this.#config, job, this.#spare);
        } catch (e) {
          throw fail(i, e);
        }
        yield r;
      }
      return;
    }
    if (this.#pool === null || this.#pool.closed) this.#pool = new WorkerPool(this.#opts.workers, this.#view(true), this.#config);
    const pool = this.#pool;
    const inFlight: Promise<BatchResult>[] = [];
    let next = 0;
    pool.hold(true);
    try {
      for (let i = 0; i < jobs.length; i++) {
        while (next < jobs.length && inFlight.length < this.#opts.prefetch) {
          const give = this.#spare.pop();
          const p = pool.run(jobs[next++]!, give ? [give] : []);
          p.catch(() => undefined);
          inFlight.push(p);
        }
        let r: BatchResult;
        try {
          r = await inFlight.shift()!;
        } catch (e) {
          if (this.#pool === pool) this.#pool = null;
          await pool.terminate();
          throw fail(i, e);
        }
        yield r;
      }
    } finally {
      pool.hold(false);
    }
  }

  /**
   * Buffers of batches the consumer is done with (no tensor or view uses them any more), to be
   * refilled by later batches rather than allocating fresh memory, which costs page faults: about
   * 3 ms per 19 MB batch of 32×3×224×224 here. Buffers of another size are never used.
   */
  recycle(buffers: ArrayBuffer[]): void {
    this.#spare.push(...buffers);
    this.#spare.splice(0, Math.max(0, this.#spare.length - (this.#opts.prefetch + 2)));
  }

  /** Stops the worker threads (a later epoch starts new ones). */
  async close(): Promise<void> {
    const pool = this.#pool;
    this.#pool = null;
    await pool?.terminate();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
