import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { epochPermutation, mixSeed, Rng } from '../../src/data/rng.js';
import { stratifiedSplit } from '../../src/data/split.js';

describe('Rng', () => {
  it('matches the xoshiro128** reference C code from state {1, 2, 3, 4}', () => {
    // Outputs of Blackman & Vigna's xoshiro128starstar.c with s = {1, 2, 3, 4}.
    const r = Rng.fromState([1, 2, 3, 4]);
    assert.deepEqual(Array.from({ length: 6 }, () => r.nextUint32()), [11520, 0, 5927040, 70819200, 2031721883, 1637235492]);
  });

  it('is reproducible per seed and per (seed, epoch, index)', () => {
    const seq = (r: Rng): number[] => Array.from({ length: 5 }, () => r.next());
    assert.deepEqual(seq(new Rng(7)), seq(new Rng(7)));
    assert.notDeepEqual(seq(new Rng(7)), seq(new Rng(8)));
    assert.deepEqual(seq(Rng.forSample(1, 2, 3)), seq(Rng.forSample(1, 2, 3)));
    assert.notDeepEqual(seq(Rng.forSample(1, 2, 3)), seq(Rng.forSample(1, 3, 2)));
    assert.notEqual(mixSeed(1, 2), mixSeed(1, 2, 0));
  });

  it('draws in range with plausible moments', () => {
    const r = new Rng(1);
    let sum = 0;
    let sumBeta = 0;
    for (let i = 0; i < 20000; i++) {
      const k = r.int(3, 7);
      assert.ok(k >= 3 && k < 7 && Number.isInteger(k));
      sum += r.next();
      const b = r.beta(0.4, 0.4);
      assert.ok(b >= 0 && b <= 1);
      sumBeta += b;
    }
    assert.ok(Math.abs(sum / 20000 - 0.5) < 0.01);
    assert.ok(Math.abs(sumBeta / 20000 - 0.5) < 0.02);
  });

  it('Rng.from wraps a uniform function', () => {
    let x = 0;
    const r = Rng.from(() => (x = (x + 0.37) % 1));
    assert.ok(Math.abs(r.next() - 0.37) < 1e-9);
  });

  it('epochPermutation is a seeded permutation', () => {
    const p = epochPermutation(1000, 5, 2);
    assert.deepEqual([...p].sort((a, b) => a - b), Array.from({ length: 1000 }, (_, i) => i));
    assert.deepEqual(p, epochPermutation(1000, 5, 2));
    assert.notDeepEqual(p, epochPermutation(1000, 5, 3));
  });
});

describe('stratifiedSplit', () => {
  it('keeps each class\'s share and covers every index once', () => {
    const labels = Int32Array.from({ length: 100 }, (_, i) => (i < 60 ? 0 : i < 90 ? 1 : 2));
    const { train, val } = stratifiedSplit(labels, 0.1, 0);
    assert.deepEqual(val.map((i) => labels[i]).sort(), [0, 0, 0, 0, 0, 0, 1, 1, 1, 2]);
    assert.deepEqual([...train, ...val].sort((a, b) => a - b), Array.from({ length: 100 }, (_, i) => i));
    assert.deepEqual(stratifiedSplit(labels, 0.1, 0), { train, val });
  });
});
