/**
 * Dynamic micro-batching: items submitted one by one (by concurrent requests) run together as one
 * batch. A batch leaves when `maxBatch` items are waiting or the oldest has waited `maxWaitMs`;
 * at most `maxConcurrency` batches run at once, and items that arrive meanwhile wait and leave
 * together when a run ends (so under load batches fill up even with `maxWaitMs` 0).
 */

export interface BatcherOptions {
  /** Items per batch at most (1 turns batching off). */
  maxBatch: number;
  /** How long the first waiting item may wait for others (0: leave as soon as a run slot is free). */
  maxWaitMs: number;
  /** Batches running at once. */
  maxConcurrency: number;
}

/** What the batcher reports about each batch it ran. */
export interface BatchReport {
  size: number;
  seconds: number;
  ok: boolean;
}

/** Submitting to a batcher that is closing. */
export class BatcherClosedError extends Error {
  override readonly name = 'BatcherClosedError';
  constructor() {
    super('the server is shutting down');
  }
}

interface Job<I, O> {
  item: I;
  at: number;
  resolve: (o: O) => void;
  reject: (e: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/**
 * Runs `run(items)` on batches of submitted items; `run` must return one output per item, in order.
 *
 * @example
 * const b = new MicroBatcher(async (xs: number[]) => xs.map((x) => x * 2), { maxBatch: 8, maxWaitMs: 5, maxConcurrency: 1 });
 * await Promise.all([b.submit(1), b.submit(2)]); // [2, 4], computed in one call of run
 * await b.close();
 */
export class MicroBatcher<I, O> {
  readonly #run: (items: I[]) => Promise<O[]>;
  readonly #opts: BatcherOptions;
  readonly #onBatch: ((r: BatchReport) => void) | undefined;
  #queue: Job<I, O>[] = [];
  #running = 0;
  #timer: NodeJS.Timeout | null = null;
  #closing = false;
  #urgent = false;
  #drained: (() => void) | null = null;
  #closed: Promise<void> | null = null;

  constructor(run: (items: I[]) => Promise<O[]>, opts: BatcherOptions, onBatch?: (r: BatchReport) => void) {
    for (const [k, min] of [['maxBatch', 1], ['maxWaitMs', 0], ['maxConcurrency', 1]] as const) {
      if (!(Number.isInteger(opts[k]) && opts[k] >= min)) throw new RangeError(`${k} must be an integer ≥ ${min}, got ${opts[k]}`);
    }
    this.#run = run;
    this.#opts = { ...opts };
    this.#onBatch = onBatch;
  }

  /** Items waiting for a batch. */
  get depth(): number {
    return this.#queue.length;
  }

  /** Batches running now. */
  get running(): number {
    return this.#running;
  }

  /**
   * Queues one item; resolves with its output. An aborted `signal` takes a waiting item out of the
   * queue (and rejects with the signal's reason); once its batch runs, the item is no longer cancellable.
   */
  submit(item: I, signal?: AbortSignal): Promise<O> {
    if (this.#closing) return Promise.reject(new BatcherClosedError());
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<O>((resolve, reject) => {
      const job: Job<I, O> = { item, at: performance.now(), resolve, reject, signal, onAbort: undefined };
      if (signal) {
        job.onAbort = () => {
          const i = this.#queue.indexOf(job);
          if (i < 0) return;
          this.#queue.splice(i, 1);
          reject(signal.reason);
          this.#pump();
        };
        signal.addEventListener('abort', job.onAbort, { once: true });
      }
      this.#queue.push(job);
      this.#pump();
    });
  }

  /** Starts every batch that is due, and arms the timer for the next one. */
  #pump(): void {
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    const { maxBatch, maxWaitMs, maxConcurrency } = this.#opts;
    while (this.#queue.length > 0 && this.#running < maxConcurrency) {
      const wait = this.#queue[0]!.at + maxWaitMs - performance.now();
      if (this.#queue.length < maxBatch && wait > 0 && !this.#urgent) {
        this.#timer = setTimeout(() => this.#pump(), Math.ceil(wait));
        break;
      }
      this.#start(this.#queue.splice(0, maxBatch));
    }
    if (this.#queue.length === 0 && this.#running === 0) this.#drained?.();
  }

  #start(jobs: Job<I, O>[]): void {
    for (const j of jobs) if (j.onAbort) j.signal!.removeEventListener('abort', j.onAbort);
    this.#running++;
    const t0 = performance.now();
    const settle = (ok: boolean, outs: O[] | null, err: unknown): void => {
      this.#running--;
      this.#onBatch?.({ size: jobs.length, seconds: (performance.now() - t0) / 1000, ok });
      jobs.forEach((j, i) => (ok ? j.resolve(outs![i]!) : j.reject(err)));
      this.#pump();
    };
    let p: Promise<O[]>;
    try {
      p = this.#run(jobs.map((j) => j.item));
    } catch (e) {
      p = Promise.reject(e);
    }
    p.then(
      (outs) => {
        if (Array.isArray(outs) && outs.length === jobs.length) settle(true, outs, null);
        else settle(false, null, new Error(`the batch function gave ${Array.isArray(outs) ? outs.length : 'no'} outputs for ${jobs.length} items`));
      },
      (e: unknown) => settle(false, null, e),
    );
  }

  /** From now on no item waits for others: what is queued runs as soon as a run slot is free (shutdown has begun). */
  flush(): void {
    this.#urgent = true;
    this.#pump();
  }

  /** Stops taking items, runs every waiting one at once, and resolves when the last batch has finished. */
  close(): Promise<void> {
    if (this.#closed === null) {
      this.#closing = true;
      this.#urgent = true;
      this.#closed = new Promise<void>((resolve) => {
        this.#drained = resolve;
      });
      this.#pump();
    }
    return this.#closed;
  }
}
