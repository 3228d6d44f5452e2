import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { entropyThreshold, HISTOGRAM_BINS, percentileThreshold, TensorStats } from '../../src/export/calibrate.js';
import { activationParams, fakeQuant, quantizeBias, quantizeWeight, roundHalfEven } from '../../src/export/qparams.js';
import { rng } from './graphs.js';

interface Case { hist: number[]; range: number; unsigned: boolean; entropy: number; entropy_bin: number; percentile: Record<string, number> }
const FIXTURE = fileURLToPath(new URL('../../../test/fixtures/calibration.json', import.meta.url));
const cases = JSON.parse(readFileSync(FIXTURE, 'utf8')) as Record<string, Case>;

describe('calibration thresholds against references (test/fixtures/gen_calibration.py)', () => {
  for (const [name, c] of Object.entries(cases)) {
    test(`${name}: entropy picks pytorch-quantization's bin, percentile within a bin of numpy's`, () => {
      const t = entropyThreshold(c.hist, c.range, c.unsigned ? 256 : 128);
      assert.equal(Math.round((t / c.range) * c.hist.length), c.entropy_bin);
      assert.ok(Math.abs(t - c.entropy) < 1e-9 * c.range, `${t} vs ${c.entropy}`);
      const width = c.range / c.hist.length;
      for (const [p, expected] of Object.entries(c.percentile)) {
        const got = percentileThreshold(c.hist, c.range, Number(p));
        // The histogram answers with the upper edge of the bin holding numpy's value.
        assert.ok(got >= expected && got - expected <= width, `p${p}: ${got} vs numpy ${expected} (bin ${width})`);
      }
    });
  }

  test('the methods order as expected on a Gaussian with outliers', () => {
    const c = cases.gaussian_outliers!;
    const entropy = entropyThreshold(c.hist, c.range, 128);
    assert.ok(entropy > 3 && entropy < 6, `entropy clips a unit Gaussian at ${entropy}`);
    assert.ok(percentileThreshold(c.hist, c.range, 99.99) < 5);
    // Uniform data: nothing to clip.
    const u = cases.uniform!;
    assert.equal(entropyThreshold(u.hist, u.range, 256), u.range);
  });
});

describe('TensorStats', () => {
  test('a histogram grown over batches equals one built at the final range', () => {
    const r = rng(5);
    const s = new TensorStats(64);
    const all: number[] = [];
    for (const scale of [1, 0.5, 3, 3.5, 20]) {
      const batch = Float32Array.from({ length: 500 }, () => scale * r.normal());
      s.add(batch);
      all.push(...batch);
    }
    assert.equal(s.count, 2500);
    assert.equal(s.min, Math.min(...all));
    assert.equal(s.max, Math.max(...all));
    const direct = new Float64Array(64);
    for (const v of all) direct[Math.min(63, Math.floor((Math.abs(v) * 64) / s.range))]!++;
    assert.deepEqual(Array.from(s.hist), Array.from(direct));
    // The range is the power of two just above the max |x|.
    const absMax = all.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    assert.ok(s.range >= absMax && s.range / 2 < absMax && Math.log2(s.range) % 1 === 0, `range ${s.range} for max ${absMax}`);
  });

  test('thresholds: minmax is the observed range; clipped methods stay inside it', () => {
    const s = new TensorStats();
    const r = rng(9);
    const data = Float32Array.from({ length: 50_000 }, () => Math.max(0, r.normal()));
    data[0] = 50; // one outlier
    s.add(data);
    assert.deepEqual(s.threshold('minmax'), [0, 50]);
    const [plo, phi] = s.threshold('percentile', 99.9);
    assert.equal(plo, 0);
    assert.ok(phi > 2.9 && phi < 3.4, `99.9th percentile of a half-normal is ~3.29, got ${phi}`);
    const [elo, ehi] = s.threshold('entropy');
    assert.equal(elo, 0);
    assert.ok(ehi > 2 && ehi < 6, `entropy threshold ${ehi}`);
    assert.throws(() => s.add(Float32Array.of(1, NaN)), /non-finite activation \(NaN\)/);
    assert.throws(() => new TensorStats().threshold('minmax'), /no calibration data/);
    assert.throws(() => s.threshold('percentile', 0), /percentile must be in \(0, 100\]/);
    assert.equal(HISTOGRAM_BINS, 2048);
  });

  test('all-zero tensors keep a zero range and later data opens it', () => {
    const s = new TensorStats(8);
    s.add(new Float32Array(10));
    assert.equal(s.range, 0);
    assert.deepEqual(s.threshold('entropy'), [0, 0]);
    s.add(Float32Array.of(3));
    assert.equal(s.range, 4);
    assert.deepEqual(Array.from(s.hist), [10, 0, 0, 0, 0, 0, 1, 0]);
  });
});

describe('quantization parameters', () => {
  test('round half to even', () => {
    assert.deepEqual([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 2.4, -2.6].map(roundHalfEven), [-2, -2, -0, 0, 2, 2, 2, -3]);
  });

  test('activation params: uint8, zero exact, as ORT computes them', () => {
    const p = activationParams(-1, 3);
    assert.equal(p.scale, Math.fround(4 / 255));
    assert.equal(p.zeroPoint, 64); // round(1 / (4/255)) = round(63.75)
    assert.equal(fakeQuant(0, p), 0);
    assert.deepEqual(activationParams(0.5, 2), { scale: Math.fround(2 / 255), zeroPoint: 0 }); // widened to include 0
    assert.deepEqual(activationParams(-4, -1), { scale: Math.fround(4 / 255), zeroPoint: 255 });
    assert.deepEqual(activationParams(0, 0), { scale: 1, zeroPoint: 0 });
    // Quantization error is at most half a step inside the range, and saturates outside it.
    for (const x of [-1, -0.3, 0.77, 2.99]) assert.ok(Math.abs(fakeQuant(x, p) - x) <= p.scale / 2 + 1e-7);
    assert.ok(Math.abs(fakeQuant(10, p) - 3) < p.scale);
  });

  test('per-channel symmetric weights: scales from each channel’s max |w|', () => {
    // Conv-like [2, 1, 2, 2]: channel 0 has max |w| 2, channel 1 max 0.5, axis 0.
    const w = Float32Array.of(1, -2, 0.5, 0.25, 0.5, -0.1, 0.3, 0);
    const { q, scales } = quantizeWeight(w, [2, 1, 2, 2], 0);
    assert.deepEqual(Array.from(scales), [2 / 127, 0.5 / 127].map(Math.fround));
    assert.deepEqual(Array.from(q), [64, -127, 32, 16, 127, -25, 76, 0]); // 63.5→64, 31.75→32, 15.875→16, 25.4→25, 76.2→76
    // Axis 1 of a [K=2, N=3] MatMul weight: one scale per column.
    const m = quantizeWeight(Float32Array.of(1, 2, 3, -4, 5, 0), [2, 3], 1);
    assert.deepEqual(Array.from(m.scales), [4 / 127, 5 / 127, 3 / 127].map(Math.fround));
    assert.deepEqual(Array.from(m.q), [32, 51, 127, -127, 127, 0]);
    // Per tensor, reduced range, and an all-zero channel.
    assert.deepEqual(Array.from(quantizeWeight(Float32Array.of(-6.3, 3), [2], null, true).q), [-63, 30]);
    assert.deepEqual(Array.from(quantizeWeight(new Float32Array(4), [2, 2], 0).scales), [1, 1]);
  });

  test('int32 bias: scale = input scale × weight scale per channel', () => {
    const { q, scales } = quantizeBias(Float32Array.of(0.1, -0.2), 0.02, Float32Array.of(0.01, 0.5));
    assert.deepEqual(Array.from(scales), [0.0002, 0.01].map(Math.fround));
    assert.deepEqual(Array.from(q), [500, -20]);
  });
});
