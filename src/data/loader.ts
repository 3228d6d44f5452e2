/**
 * DataLoader: batches of transformed samples as tensors. Worker threads decode and transform
 * whole batches ahead of the training loop; the main thread only wraps their buffers in tensors.
 */
import { adoptArray, reclaimArrays, tensor } from '../tensor/creation.js';
import type { Tensor } from '../tensor/tensor.js';
import type { BatchResult } from './batch.js';
import { sampleId, type DataSource, type Skipped } from './source.js';
import { BatchStream, type StreamOptions } from './stream.js';
import type { SampleGeometry } from './targets.js';

export { defaultWorkers } from './stream.js';

export interface LoaderOptions extends StreamOptions {
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
  /** Sources with boxes: float32 [M, 6], rows (index in batch, class, x1, y1, x2, y2) in the input's pixels. */
  boxes?: Tensor;
  /** Sources with masks: uint8 [B, H, W] class ids, 255 = ignore (padding included). */
  masks?: Tensor;
  /** One per sample when tracked (StreamOptions.geometry): input = original·scale + pad; see unletterboxBoxes. */
  geometry?: SampleGeometry[];
  /** Disposes every tensor. */
  dispose(): void;
  [Symbol.dispose](): void;
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
 *
 * // Detection: sources with `boxes` (or `masks`) give batches that carry them, moved with the pixels.
 * const det = new DataLoader({ kind: 'files', paths, labels: new Int32Array(paths.length), boxes }, {
 *   batchSize: 16, transforms: [{ op: 'letterbox', size: 640 }, { op: 'toTensor' }] });
 * for await (const b of det.epoch(0)) {
 *   b.boxes;      // float32 [M, 6]: (index in batch, class, x1, y1, x2, y2) in the 640×640 input
 *   b.geometry;   // per sample { size, scale, pad }: unletterboxBoxes(xyxy, b.geometry[k]) maps back
 *   b.dispose();
 * }
 */
export class DataLoader {
  /** Batches per epoch (before any dropped for failed samples). */
  readonly length: number;
  /** Samples that failed to load, one entry per path. */
  readonly skipped: Skipped[] = [];
  readonly #source: DataSource;
  readonly #stream: BatchStream;
  readonly #onSkip: LoaderOptions['onSkip'];
  readonly #skippedPaths = new Set<string>();

  constructor(source: DataSource, opts: LoaderOptions) {
    const { onSkip, ...streamOpts } = opts;
    this.#source = source;
    this.#stream = new BatchStream(source, streamOpts);
    this.#onSkip = onSkip;
    this.length = this.#stream.length;
  }

  /** The order in which epoch `epoch` visits the samples. */
  order(epoch: number): Int32Array {
    return this.#stream.order(epoch);
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
    // The workers' buffer becomes the tensor's memory: nothing else holds r.data. Once the tensor
    // and its views are freed, reclaimArrays() returns it and the stream refills it.
    const images = adoptArray(r.data, [r.kept.length, ...r.shape], { recycle: true });
    const labels = tensor(BigInt64Array.from(r.kept, (i) => BigInt(this.#source.labels[i]!)), { shape: [r.kept.length] });
    const b: Batch = { images, labels, indices: r.kept, ids: r.kept.map((i) => sampleId(this.#source, i)), dispose: () => undefined, [Symbol.dispose]: () => undefined };
    if (r.boxes) b.boxes = adoptArray(r.boxes, [r.boxes.length / 6, 6]);
    if (r.masks) b.masks = adoptArray(r.masks, [r.kept.length, r.shape[1], r.shape[2]]);
    if (r.geometry) b.geometry = r.geometry;
    b.dispose = b[Symbol.dispose] = (): void => {
      images.dispose();
      labels.dispose();
      b.boxes?.dispose();
      b.masks?.dispose();
    };
    return b;
  }

  /**
   * The batches of one epoch, in order. Breaking out early is fine: requested batches are
   * abandoned and the workers go idle.
   */
  async *epoch(epoch: number): AsyncGenerator<Batch, void, undefined> {
    for await (const r of this.#stream.epoch(epoch)) {
      this.#stream.recycle(reclaimArrays().map((a) => a.buffer as ArrayBuffer));
      const b = this.#toBatch(r);
      if (b) yield b;
    }
  }

  /** Stops the worker threads (a later epoch starts new ones). */
  async close(): Promise<void> {
    await this.#stream.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
