/**
 * A fixed set of loader worker threads. Jobs go to the least-busy worker; workers are ref'd only
 * while an epoch runs, so an idle pool never keeps the process alive; a crashed worker fails its
 * pending jobs.
 */
import { Worker } from 'node:worker_threads';
import type { BatchJob, BatchResult, PipelineConfig, SourceView } from './batch.js';
import { PipelineError } from './errors.js';

/** A worker's answer to job `id` (ids are unique per pool, so a stale answer from an abandoned epoch never meets a new job). */
export type Reply = { id: number; ok: true; result: BatchResult } | { id: number; ok: false; error: string; name: string };

interface Pending {
  resolve: (r: BatchResult) => void;
  reject: (e: Error) => void;
}

class Slot {
  readonly pending = new Map<number, Pending>();
  /** Set once the worker exits or crashes: it takes no more jobs. */
  dead = false;
  constructor(readonly worker: Worker) {}
}

const WORKER_URL = new URL('./loader-worker.js', import.meta.url);

export class WorkerPool {
  readonly #slots: Slot[];
  #closed = false;
  #nextId = 0;
  #holds = 0;

  constructor(n: number, source: SourceView, config: PipelineConfig) {
    this.#slots = Array.from({ length: n }, () => this.#spawn(source, config));
  }

  #spawn(source: SourceView, config: PipelineConfig): Slot {
    const slot = new Slot(new Worker(WORKER_URL, { workerData: { source, config } }));
    const failAll = (e: Error): void => {
      for (const p of slot.pending.values()) p.reject(e);
      slot.pending.clear();
    };
    slot.worker.on('message', (m: Reply) => {
      const p = slot.pending.get(m.id);
      if (!p) return;
      slot.pending.delete(m.id);
      if (m.ok) p.resolve(m.result);
      else p.reject(m.name === 'PipelineError' ? new PipelineError(m.error) : new Error(`loader worker: ${m.error}`));
    });
    slot.worker.on('error', (e) => {
      slot.dead = true;
      failAll(new Error(`loader worker crashed: ${e.message}`));
    });
    slot.worker.on('exit', (code) => {
      slot.dead = true;
      if (!this.#closed) failAll(new Error(`loader worker exited unexpectedly (code ${code})`));
    });
    slot.worker.unref();
    return slot;
  }

  /** Runs a job on the least-busy worker, handing it `give` (transferred) to fill. */
  run(job: BatchJob, give: ArrayBuffer[] = []): Promise<BatchResult> {
    if (this.#closed) return Promise.reject(new Error('worker pool is closed'));
    const live = this.#slots.filter((s) => !s.dead);
    if (live.length === 0) return Promise.reject(new Error('every loader worker has exited; see the errors above'));
    const slot = live.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
    const id = this.#nextId++;
    return new Promise<BatchResult>((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      slot.worker.postMessage({ id, job, give }, give);
    });
  }

  /** While held (by any running epoch), the workers keep the process alive. */
  hold(on: boolean): void {
    const before = this.#holds;
    this.#holds = Math.max(0, this.#holds + (on ? 1 : -1));
    if ((before === 0) === (this.#holds === 0)) return;
    for (const s of this.#slots) {
      if (on) s.worker.ref();
      else s.worker.unref();
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Stops every worker; pending jobs fail. */
  async terminate(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const err = new Error('worker pool was closed');
    for (const s of this.#slots) {
      for (const p of s.pending.values()) p.reject(err);
      s.pending.clear();
    }
    await Promise.all(this.#slots.map((s) => s.worker.terminate()));
  }
}
