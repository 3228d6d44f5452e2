/**
 * DataLoader: batches of transformed samples as tensors. Worker threads decode and transform
 * whole batches ahead of the training loop; the main thread only wraps their buffers in tensors.
 */
import { availableParallelism } from 'node:os';
import { tensor } from '../tensor/creation.js';
import type { Tensor } from '../tensor/tensor.js';
import { processBatch, processMemoryBatch, type BatchJob, type BatchResult, type PipelineConfig, type SourceView } from './batch.js';
import { DataError } from './errors.js';
import { WorkerPool } from './pool.js';
import { epochPermutation } from './rng.js';
import { sampleId, sourceLength, type DataSource, type Skipped } from './source.js';
import type { TransformSpec } from './transforms.js';

export interface LoaderOptions {
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
  /** Called for each sample that could not be loaded (it is left out of its batch). */
  onSkip?: (path: string, reason: string) => void;
}

/** One batch. The tensors belong to the caller: dispose them (or `using` the batch). */
export interface Batch {
  /** float32 [B, C, H, W] */
  images: Tensor;
  /** int64 [B] */
  labels: Tensor;
  /** Dataset indices of the samples. */
  indices: number[];
  /** Sample ids (memory ids, or file paths). */
  ids: string[];
  /** Disposes both tensors. */
  dispose(): void;
  [Symbol.dispose](): void;
}

const shared = new WeakMap<Uint8Array, Uint8Array>();

/** The pixels in a SharedArrayBuffer, copied once per source array. */
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

/**
 * Threads worth starting for a source: none for in-memory images (their per-sample work is cheaper
 * than the thread hop, and spare cores belong to libtorch's intra-op threads), min(4, cores) for
 * files, whose decoding dominates.
 */
export function defaultWorkers(source: DataSource): number {
  return source.kind === 'memory' ? 0 : Math.min(4, availableParallelism());
}

/**
 * Iterates a DataSource in batches, one epoch at a time, deterministically: the order comes from
 * (seed, epoch) and each sample's augmentation from (seed, epoch, index), whatever `workers` is.
 * A sample that fails to load is skipped (`onSkip`, `skipped`); a batch whose samples all fail is
 * dropped. Workers are started on the first epoch and kept, but never hold the process open
 * between epochs; `close()` stops them.
 *
 * @example
 * const loader = new DataLoader(data.splits.train, { batchSize: 64, shuffle: true, seed: 0,
 *   transforms: buildTransforms('train', { imgsz: 28, channels: 1, augment: 'light', nativeSize: [28, 28] }) });
 * for (let e = 0; e < epochs; e++) {
 *   for await (const b of loader.epoch(e)) {
 *     tidy(() => step(b.images, b.labels));
 *     b.dispose();
 *   }
 * }
 * await loader.close();
 */
export class DataLoader {
  /** Batches per epoch (before any dropped for failed samples). */
  readonly length: number;
  /** Samples that failed to load, one entry per path. */
  readonly skipped: Skipped[] = [];
  readonly #source: DataSource;
  readonly #opts: Required<Pick<LoaderOptions, 'batchSize' | 'shuffle' | 'dropLast' | 'seed' | 'workers' | 'prefetch'>>;
  readonly #config: PipelineConfig;
  readonly #onSkip: LoaderOptions['onSkip'];
  #pool: WorkerPool | null = null;
  readonly #skippedPaths = new Set<string>();

  constructor(source: DataSource, opts: LoaderOptions) {
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
    this.#onSkip = opts.onSkip;
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

  /** What the batch code reads; worker threads get the pixels in shared memory. */
  #view(forWorkers: boolean): SourceView {
    const s = this.#source;
    if (s.kind === 'files') return { kind: 'files', paths: s.paths };
    return { kind: 'memory', images: forWorkers ? sharedImages(s.images) : s.images, height: s.height, width: s.width, channels: s.channels };
  }

  /** Wraps a result in tensors, reporting failed samples; null when nothing was kept. */
  #toBatch(r: BatchResult): Batch | null {
    for (const f of r.failed) {
      const path = sampleId(this.#source, f.index);
      if (!this.#skippedPaths.has(path)) {
        this.#skippedPaths.add(path);
        this.skipped.push({ path, reason: f.reason });
      }
      this.#onSkip?.(path, f.reason);
    }
    if (r.kept.length === 0) return null;
    const images = tensor(r.data, { shape: [r.kept.length, ...r.shape] });
    const labels = tensor(BigInt64Array.from(r.kept, (i) => BigInt(this.#source.labels[i]!)), { shape: [r.kept.length] });
    const dispose = (): void => {
      images.dispose();
      labels.dispose();
    };
    return { images, labels, indices: r.kept, ids: r.kept.map((i) => sampleId(this.#source, i)), dispose, [Symbol.dispose]: dispose };
  }

  /**
   * The batches of one epoch, in order. Breaking out early is fine: requested batches are
   * abandoned and the workers go idle.
   */
  async *epoch(epoch: number): AsyncGenerator<Batch, void, undefined> {
    const jobs = this.#jobs(epoch);
    const fail = (i: number, e: unknown): DataError => new DataError(`epoch ${epoch}, batch ${i}: ${(e as Error)?.message ?? e}`);
    if (this.#opts.workers === 0) {
      const view = this.#view(false);
      for (const [i, job] of jobs.entries()) {
        let r: BatchResult;
        try {
          r = view.kind === 'memory' ? processMemoryBatch(view, this.#config, job) : await processBatch(view, this.#config, job);
        } catch (e) {
          throw fail(i, e);
        }
        const b = this.#toBatch(r);
        if (b) yield b;
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
          const p = pool.run(jobs[next++]!);
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
        const b = this.#toBatch(r);
        if (b) yield b;
      }
    } finally {
      pool.hold(false);
    }
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
