/**
 * Image preprocessing off the event loop: decoding runs in sharp's threads anyway, but the eval
 * transforms (resize, crop, normalise) are plain JS and take hundreds of milliseconds on a
 * 12-megapixel photo, time in which the server could not answer anyone. A few worker threads do
 * them instead; with 0 workers they run on the main thread (cheap for small images).
 */
import { Worker } from 'node:worker_threads';
import type { Preprocessing } from '../runtime/preprocess.js';
import { HttpError, type ErrorCode } from '../http/index.js';
import { prepareImage, type Upload } from './images.js';

export interface PreprocessRequest {
  id: number;
  source: string;
  bytes: Uint8Array;
}

export type PreprocessReply =
  | { id: number; ok: true; data: Float32Array }
  | { id: number; ok: false; code: ErrorCode; message: string };

interface Pending {
  resolve: (data: Float32Array) => void;
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
 * const chw = await pool.run({ source: 'cat.jpg', bytes });
 * await pool.close();
 */
export class PreprocessPool {
  readonly #slots: Slot[] = [];
  readonly #workerData: { pre: Preprocessing; maxPixels: number };
  #nextId = 0;
  #closed = false;

  constructor(readonly workers: number, readonly pre: Preprocessing, readonly maxPixels: number) {
    if (!(Number.isInteger(workers) && workers >= 0)) throw new RangeError(`workers must be an integer ≥ 0, got ${workers}`);
    this.#workerData = { pre, maxPixels };
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
      if (m.ok) p.resolve(m.data);
      else p.reject(m.code === 'internal' ? new Error(m.message) : new HttpError(m.code, m.message));
    });
    slot.worker.on('error', (e) => fail(`crashed: ${e.message}`));
    slot.worker.on('exit', (code) => fail(`exited (code ${code})`));
    // Never what keeps the process alive: the server's socket does that.
    slot.worker.unref();
    return slot;
  }

  /** The image's network input (CHW float32), or the HttpError that refuses it. */
  run(u: Upload): Promise<Float32Array> {
    if (this.#closed) return Promise.reject(new Error('the preprocessing pool is closed'));
    if (this.#slots.length === 0) return prepareImage(u, this.pre, this.maxPixels);
    const slot = this.#slots.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
    const id = this.#nextId++;
    return new Promise<Float32Array>((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      slot.worker.postMessage({ id, source: u.source, bytes: u.bytes } satisfies PreprocessRequest);
    });
  }

  /** Stops the threads; jobs still running fail. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all(this.#slots.map((s) => s.worker.terminate()));
  }
}
