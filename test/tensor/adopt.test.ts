// adoptArray: a tensor over a typed array's own memory (the data loader's zero-copy batches). The
// array must stay alive exactly as long as some tensor (or view) uses its memory.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setImmediate as tick } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { adoptArray, memory, tidy, type Tensor } from '../../src/tensor/index.js';

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
