// stochasticDepth / StochasticDepth: torchvision.ops semantics (row and batch modes, 1/(1-p) scaling).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StochasticDepth, stochasticDepth } from '../../src/nn/index.js';
import { manualSeed, ones, tidy } from '../../src/tensor/index.js';
import { assertNoLeak } from '../helpers.js';

describe('stochasticDepth', () => {
  it('is the identity outside training and at p = 0 (the same tensor back)', () => tidy(() => {
    const x = ones([4, 3]);
    assert.equal(stochasticDepth(x, 0.5, 'row', false), x);
    assert.equal(stochasticDepth(x, 0, 'row', true), x);
    const m = new StochasticDepth(0.3).eval();
    assert.equal(m.forward(x), x);
  }));

  it("'row' drops whole samples and scales the survivors by 1/(1-p)", () => tidy(() => {
    manualSeed(0);
    const rows = stochasticDepth(ones([2000, 3, 2]), 0.25, 'row').reshape(2000, 6).toArray();
    const perRow = Array.from({ length: 2000 }, (_, i) => rows.slice(i * 6, i * 6 + 6));
    for (const r of perRow) assert.ok(r.every((v) => v === r[0]) && (r[0] === 0 || Math.abs(r[0]! - 4 / 3) < 1e-6), `row ${r}`);
    const dropped = perRow.filter((r) => r[0] === 0).length / 2000;
    assert.ok(Math.abs(dropped - 0.25) < 0.04, `dropped fraction ${dropped}`);
  }));

  it("'batch' keeps or drops the whole tensor; p = 1 drops everything", () => tidy(() => {
    manualSeed(1);
    for (let i = 0; i < 10; i++) {
      const v = new Set(stochasticDepth(ones([5, 2]), 0.5, 'batch').toArray());
      assert.ok(v.size === 1 && (v.has(0) || v.has(2)), `values ${[...v]}`);
    }
    assert.deepEqual(new Set(stochasticDepth(ones([3, 2]), 1, 'row').toArray()), new Set([0]));
  }));

  it('backpropagates the same mask', () => tidy(() => {
    manualSeed(2);
    const x = ones([8, 4]).requiresGrad_(true);
    const y = stochasticDepth(x, 0.5, 'row');
    y.sum().backward();
    assert.deepEqual(x.grad!.toArray(), y.toArray());
  }));

  it('rejects bad arguments and leaks nothing', () => {
    assert.throws(() => new StochasticDepth(1.5), /probability must be in \[0, 1\], got 1.5/);
    assert.throws(() => tidy(() => stochasticDepth(ones([2]), 0.1, 'col' as 'row')), /mode must be 'row' or 'batch'/);
    const x = ones([4, 4]);
    assertNoLeak(() => { stochasticDepth(x, 0.5, 'row').dispose(); });
    x.dispose();
  });
});
