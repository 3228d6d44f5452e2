// adoptArray: a tensor over a typed array's own memory (the data loader's zero-copy batches). The
// array must stay alive exactly as long as some tensor (or view) uses its memory.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setImmediate as tick } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { adoptArray, memory, reclaimArrays, tidy, type Tensor } from '../../src/tensor/index.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

async function collect(): Promise<void> {
  for (let i = 0; i < 4; i++) {
    gc();
    await tick();
  }
}

/** A tensor over a fresh array that nothing else references, and a weak handle on that array. */
function adopted(n: number, fill: number): { t: Tensor; weak: WeakRef<Float32Array> } {
  const a = new Float32Array(n).fill(fill);
  return { t: adoptArray(a, [n]), weak: new WeakRef(a) };
}

describe('adoptArray', () => {
  it('shares memory both ways, without a copy', () => {
    const a = Float32Array.from({ length: 6 }, (_, i) => i);
    const t = adoptArray(a, [2, 3]);
    assert.deepEqual(t.shape, [2, 3]);
    a[0] = 42;
    assert.equal(tidy(() => t.flatten().toArray()[0]), 42);
    t.mul_(2);
    assert.deepEqual(Array.from(a), [84, 2, 4, 6, 8, 10]);
    t.dispose();
  });

  it('keeps the array alive while the tensor lives, and lets it go after dispose', async () => {
    const { t, weak } = adopted(4096, 3);
    await collect();
    assert.ok(weak.deref() !== undefined, 'the tensor keeps its array');
    assert.equal(tidy(() => t.sum().item()), 3 * 4096);
    t.dispose();
    await collect();
    assert.equal(weak.deref(), undefined, 'released once no tensor uses it');
  });

  it('with recycle, reclaimArrays hands the array back once the tensor and its views are freed', () => {
    reclaimArrays();
    const a = new Float32Array(64).fill(2);
    const plain = new Float32Array(64);
    const t = adoptArray(a, [8, 8], { recycle: true });
    const p = adoptArray(plain, [64]);
    const v = t.narrow(0, 0, 4);
    t.dispose();
    p.dispose();
    assert.deepEqual(reclaimArrays(), [], 'a view still uses it; the plain one is never returned');
    assert.equal(tidy(() => v.sum().item()), 64);
    v.dispose();
    const back = reclaimArrays();
    assert.equal(back.length, 1);
    assert.equal(back[0], a, 'the same array object');
    assert.deepEqual(reclaimArrays(), [], 'handed back once');
  });

  it('keeps at most the 16 latest recycled arrays', () => {
    reclaimArrays();
    const arrays = Array.from({ length: 20 }, () => new Float32Array(4));
    for (const a of arrays) adoptArray(a, [4], { recycle: true }).dispose();
    const back = reclaimArrays();
    assert.equal(back.length, 16);
    assert.deepEqual(back, arrays.slice(4), 'the oldest four were let go');
  });

  it('a view outlives the adopted tensor and holds the array until it goes too', async () => {
    const before = memory().tensors;
    const { t, weak } = adopted(64, 1);
    const v = t.reshape([8, 8]);
    t.dispose();
    await collect();
    assert.ok(weak.deref() !== undefined);
    assert.equal(tidy(() => v.sum().item()), 64);
    v.dispose();
    await collect();
    assert.equal(weak.deref(), undefined);
    assert.equal(memory().tensors, before);
  });

  it('refuses a shape that does not match the bytes', () => {
    assert.throws(() => adoptArray(new Float32Array(6), [4, 2]), /data has 24 bytes but shape \[4, 2\] of Float needs 32/);
  });
});
