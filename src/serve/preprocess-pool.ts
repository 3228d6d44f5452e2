/**
 * Image preprocessing and segmentation post-processing off the event loop: decoding runs in
 * sharp's threads anyway, but the eval transforms (resize, crop, normalise) are plain JS and take
 * hundreds of milliseconds on a 12-megapixel photo, and so does resizing a segmentation model's
 * logits back to such a photo and taking each pixel's class: time in which the server could not
 * answer anyone. A few worker threads do both instead; with 0 workers they run on the main thread
 * (cheap for small images).
 */
import { Worker } from 'node:worker_threads';
import type { SampleGeometry } from '../data/targets.js';
import type { Preprocessing } from '../runtime/preprocess.js';
import { HttpError, type ErrorCode } from '../http/index.js';
import { prepareImage, segmentAnswer, type Prepared, type SegmentAnswer, type Upload } from './images.js';

export type PreprocessRequest =
  | { kind: 'prepare'; id: number; source: string; bytes: Uint8Array }
  | { kind: 'segment'; id: number; logits: Float32Array; classes: number; hw: [number, number]; geometry: SampleGeometry };

export type PreprocessReply =
  | { id: number; ok: true; data: Float32Array; geometry: Prepared['geometry'] }
  | { id: number; ok: true; answer: SegmentAnswer }
  | { id: number; ok: false; code: ErrorCode; message: string };

interface Pending {
  resolve: (reply: PreprocessReply & { ok: true }) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  pending: Map<number, Pending>;
}

const WORKER_URL = new URL('./preprocess-worker.js', import.meta.url);

/**
 * Runs `prepareImage` on `workers` threads (least busy first); a thread that dies fails its jobs
 * with a 500 and is replaced.
 *
 * @example
 * const pool = new PreprocessPool(2, classifier.preprocessing, 40e6);
 * const { data } = await pool.run({ source: 'cat.jpg', bytes });
 * await pool.close();
 */
export class PreprocessPool {
  readonly #slots: Slot[] = [];
  readonly #workerData: { pre: Preprocessing; maxPixels: number; geometry: boolean };
  #nextId = 0;
  #closed = false;

  /** `geometry`: also report where each input came from in its image (a detector's boxes go back through it). */
  constructor(readonly workers: number, readonly pre: Preprocessing, readonly maxPixels: number, readonly geometry = false) {
    if (!(Number.isInteger(workers) && workers >= 0)) throw new RangeError(`workers must be an integer ≥ 0, got ${workers}`);
    this.#workerData = { pre, maxPixels, geometry };
    for (let i = 0; i < workers; i++) this.#slots.push(this.#spawn());
  }

  #spawn(): Slot {
    const slot: Slot = { worker: new Worker(WORKER_URL, { workerData: this.#workerData }), pending: new Map() };
    const fail = (why: string): void => {
      for (const p of slot.pending.values()) p.reject(new Error(`preprocessing worker ${why}`));
      slot.pending.clear();
      const i = this.#slots.indexOf(slot);
      if (i >= 0 && !this.#closed) this.#slots[i] = this.#spawn();
    };
    slot.worker.on('message', (m: PreprocessReply) => {
      const p = slot.pending.get(m.id);
      if (!p) return;
      slot.pending.delete(m.id);
      if (m.ok) p.resolve(m);
      else p.reject(m.code === 'internal' ? new Error(m.message) : new HttpError(m.code, m.message));
    });
    slot.worker.on('error', (e) => fail(`crashed: ${e.message}`));
    slot.worker.on('exit', (code) => fail(`exited (code ${code})`));
    // Never what keeps the process alive: the server's socket does that.
    slot.worker.unref();
    return slot;
  }

  /** Jobs sent to the threads and not answered yet. */
  get pending(): number {
    return this.#slots.reduce((n, s) => n + s.pending.size, 0);
  }

  /** Sends a job to the least busy thread; `transfer` moves buffers instead of copying them. */
  #send(job: PreprocessRequest, transfer: ArrayBuffer[] = []): Promise<PreprocessReply & { ok: true }> {
    const slot = this.#slots.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
    return new Promise((resolve, reject) => {
      slot.pending.set(job.id, { resolve, reject });
      slot.worker.postMessage(job, transfer);
    });
  }

  /** The image's network input (CHW float32) and geometry, or the HttpError that refuses it. */
  async run(u: Upload): Promise<Prepared> {
    if (this.#closed) throw new Error('the preprocessing pool is closed');
    if (this.#slots.length === 0) return prepareImage(u, this.pre, this.maxPixels, this.geometry);
    const reply = await this.#send({ kind: 'prepare', id: this.#nextId++, source: u.source, bytes: u.bytes });
    if (!('data' in reply)) throw new Error('preprocessing worker answered a prepare job with something else');
    return { data: reply.data, geometry: reply.geometry };
  }

  /**
   * A segmentation answer (mask PNG at the image's size, class shares) from one image's logits
   * [classes, h, w]; the pool takes the buffer (it is moved to a thread).
   */
  async segment(logits: Float32Array, classes: number, hw: [number, number], geometry: SampleGeometry): Promise<SegmentAnswer> {
    if (this.#closed) throw new Error('the preprocessing pool is closed');
    if (this.#slots.length === 0) return segmentAnswer(logits, classes, hw, geometry, this.pre.names);
    const reply = await this.#send({ kind: 'segment', id: this.#nextId++, logits, classes, hw, geometry }, [logits.buffer as ArrayBuffer]);
    if (!('answer' in reply)) throw new Error('preprocessing worker answered a segment job with something else');
    return reply.answer;
  }

  /** Stops the threads; jobs still running fail. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all(this.#slots.map((s) => s.worker.terminate()));
  }
}
