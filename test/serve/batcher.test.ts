// MicroBatcher: batches by size and by waiting time, bounded concurrency, cancellation of waiting
// items, errors, shutdown (flush and close).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { BatcherClosedError, MicroBatcher, type BatcherOptions } from '../../src/serve/batcher.js';

/** A batch function that records its batches and can be held open until released. */
function recorder(hold = false) {
  const batches: number[][] = [];
  const gates: (() => void)[] = [];
  let active = 0;
  let peak = 0;
  const run = async (xs: number[]): Promise<number[]> => {
    batches.push(xs);
    active++;
    peak = Math.max(peak, active);
    if (hold) await new Promise<void>((r) => gates.push(r));
    active--;
    return xs.map((x) => x * 10);
  };
  return { run, batches, release: () => gates.splice(0).forEach((g) => g()), peak: () => peak };
}

const opts = (o: Partial<BatcherOptions>): BatcherOptions => ({ maxBatch: 4, maxWaitMs: 1000, maxConcurrency: 1, ...o });

describe('MicroBatcher', () => {
  it('runs a batch as soon as maxBatch items wait, each item getting its own output', async () => {
    const r = recorder();
    const b = new MicroBatcher(r.run, opts({ maxBatch: 3, maxWaitMs: 10_000 }));
    const t0 = performance.now();
    const out = await Promise.all([1, 2, 3].map((x) => b.submit(x)));
    assert.deepEqual(out, [10, 20, 30]);
    assert.deepEqual(r.batches, [[1, 2, 3]]);
    assert.ok(performance.now() - t0 < 5000, 'did not wait for maxWaitMs');
    await b.close();
  });

  it('runs a partial batch once the first item has waited maxWaitMs', async () => {
    const r = recorder();
    // The window is wide enough that a loaded machine still submits the second item inside it.
    const b = new MicroBatcher(r.run, opts({ maxBatch: 8, maxWaitMs: 400 }));
    const t0 = performance.now();
    const p1 = b.submit(1);
    await sleep(20);
    const p2 = b.submit(2);
    assert.equal(b.depth, 2);
    assert.deepEqual(await Promise.all([p1, p2]), [10, 20]);
    const waited = performance.now() - t0;
    assert.ok(waited >= 395, `waited ${waited} ms`);
    assert.deepEqual(r.batches, [[1, 2]]);
    await b.close();
  });

  it('maxBatch 1 runs every item alone; maxWaitMs 0 never waits', async () => {
    const r = recorder();
    const b = new MicroBatcher(r.run, opts({ maxBatch: 1, maxConcurrency: 4 }));
    await Promise.all([1, 2, 3].map((x) => b.submit(x)));
    assert.deepEqual(r.batches, [[1], [2], [3]]);
    const r0 = recorder();
    const b0 = new MicroBatcher(r0.run, opts({ maxBatch: 8, maxWaitMs: 0 }));
    assert.equal(await b0.submit(7), 70);
    assert.deepEqual(r0.batches, [[7]]);
    await Promise.all([b.close(), b0.close()]);
  });

  it('holds maxConcurrency batches in flight; items that arrive meanwhile leave together', async () => {
    const r = recorder(true);
    const b = new MicroBatcher(r.run, opts({ maxBatch: 2, maxWaitMs: 0, maxConcurrency: 2 }));
    const ps = [1, 2, 3, 4, 5, 6, 7].map((x) => b.submit(x));
    await sleep(10);
    // Two single-item batches started at once (no waiting); the rest queue behind them.
    assert.deepEqual(r.batches, [[1], [2]]);
    assert.equal(b.running, 2);
    assert.equal(b.depth, 5);
    while (r.batches.length < 5) {
      r.release();
      await sleep(5);
    }
    r.release();
    assert.deepEqual(await Promise.all(ps), [10, 20, 30, 40, 50, 60, 70]);
    assert.deepEqual(r.batches.slice(2), [[3, 4], [5, 6], [7]]);
    assert.equal(r.peak(), 2);
    await b.close();
  });

  it('an aborted signal takes a waiting item out of the queue, and the rest still run', async () => {
    const r = recorder();
    const b = new MicroBatcher(r.run, opts({ maxBatch: 4, maxWaitMs: 50 }));
    const ac = new AbortController();
    const gone = b.submit(1, ac.signal);
    const kept = b.submit(2);
    ac.abort(new Error('client left'));
    await assert.rejects(gone, /client left/);
    assert.equal(b.depth, 1);
    assert.equal(await kept, 20);
    assert.deepEqual(r.batches, [[2]]);
    await assert.rejects(b.submit(3, ac.signal), /client left/);
    await b.close();
  });

  it('a failing batch fails its items only; a wrong output count is an error', async () => {
    let calls = 0;
    const b = new MicroBatcher(async (xs: number[]) => {
      calls++;
      if (xs.includes(13)) throw new Error('unlucky');
      return xs.length === 2 ? [1] : xs;
    }, opts({ maxBatch: 1, maxWaitMs: 0 }));
    await assert.rejects(b.submit(13), /unlucky/);
    assert.equal(await b.submit(5), 5);
    const b2 = new MicroBatcher(async (xs: number[]) => (xs.length === 2 ? [1] : xs), opts({ maxBatch: 2 }));
    await assert.rejects(Promise.all([b2.submit(1), b2.submit(2)]), /gave 1 outputs for 2 items/);
    assert.equal(calls, 2);
    await Promise.all([b.close(), b2.close()]);
  });

  it('flush and close run waiting items at once; close waits for running batches and refuses new items', async () => {
    const r = recorder(true);
    const b = new MicroBatcher(r.run, opts({ maxBatch: 8, maxWaitMs: 10_000 }));
    const p = b.submit(1);
    b.flush();
    await sleep(5);
    assert.deepEqual(r.batches, [[1]]);
    let closed = false;
    const c = b.close().then(() => (closed = true));
    await assert.rejects(b.submit(2), BatcherClosedError);
    await sleep(10);
    assert.equal(closed, false, 'close waits for the running batch');
    r.release();
    await c;
    assert.equal(await p, 10);
    assert.equal(b.close(), b.close(), 'close is idempotent');
  });

  it('rejects bad options', () => {
    assert.throws(() => new MicroBatcher(async (x: number[]) => x, opts({ maxBatch: 0 })), /maxBatch must be an integer ≥ 1, got 0/);
    assert.throws(() => new MicroBatcher(async (x: number[]) => x, opts({ maxWaitMs: -1 })), /maxWaitMs must be an integer ≥ 0/);
    assert.throws(() => new MicroBatcher(async (x: number[]) => x, opts({ maxConcurrency: 1.5 })), /maxConcurrency/);
  });
});
