import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatTicks, niceTicks } from '../../src/plot/index.js';
import { escapeXml, fitText, textWidth } from '../../src/plot/svg.js';

describe('niceTicks', () => {
  test('[0, 1] gives 0, 0.2 … 1 labelled with one decimal', () => {
    const t = niceTicks(0, 1);
    assert.deepEqual(t.ticks, [0, 0.2, 0.4, 0.6, 0.8, 1]);
    assert.deepEqual([t.min, t.max, t.step], [0, 1, 0.2]);
    assert.deepEqual(formatTicks(t), ['0.0', '0.2', '0.4', '0.6', '0.8', '1.0']);
  });
  test('a narrow accuracy range gets steps of 0.02 enclosing it', () => {
    const t = niceTicks(0.9312, 0.9941);
    assert.deepEqual(t.ticks, [0.92, 0.94, 0.96, 0.98, 1]);
    assert.deepEqual(formatTicks(t), ['0.92', '0.94', '0.96', '0.98', '1.00']);
  });
  test('losses, negatives, integers, steps of 2.5', () => {
    assert.deepEqual(niceTicks(0.083, 2.1).ticks, [0, 0.5, 1, 1.5, 2, 2.5]);
    assert.deepEqual(niceTicks(-3.2, 7.9).ticks, [-5, 0, 5, 10]);
    assert.deepEqual(niceTicks(0, 100, { integer: true }).ticks, [0, 20, 40, 60, 80, 100]);
    assert.deepEqual(niceTicks(1, 3, { integer: true }).ticks, [1, 2, 3]);
    assert.deepEqual(niceTicks(1, 2, { integer: true, maxTicks: 10 }).ticks, [1, 2]);
    assert.deepEqual(niceTicks(0, 10, { maxTicks: 5 }).ticks, [0, 2.5, 5, 7.5, 10]);
    assert.deepEqual(formatTicks(niceTicks(0, 10, { maxTicks: 5 })), ['0.0', '2.5', '5.0', '7.5', '10.0']);
    assert.ok(niceTicks(-1, -0.2).ticks.every((v) => !Object.is(v, -0)), 'no -0 tick');
  });
  test('inside keeps the domain and puts ticks within it', () => {
    const t = niceTicks(1, 30, { integer: true, inside: true });
    assert.deepEqual(t.ticks, [5, 10, 15, 20, 25, 30]);
    assert.deepEqual([t.min, t.max], [1, 30]);
    const u = niceTicks(0.42, 1.3, { inside: true });
    assert.deepEqual(u.ticks, [0.6, 0.8, 1, 1.2]);
  });
  test('an empty range is widened around its value; non-finite bounds give [0, 1]', () => {
    const t = niceTicks(0.5, 0.5);
    assert.ok(t.min < 0.5 && t.max > 0.5 && t.ticks.includes(0.5), JSON.stringify(t));
    assert.deepEqual(niceTicks(0, 0).ticks, [-1, -0.5, 0, 0.5, 1]);
    assert.deepEqual(niceTicks(7, 7, { integer: true }).ticks, [6, 7, 8]);
    assert.deepEqual(niceTicks(7, 7, { integer: true, inside: true }).ticks, [6, 7, 8]);
    assert.deepEqual(niceTicks(NaN, 1).ticks, [0, 0.2, 0.4, 0.6, 0.8, 1]);
    assert.deepEqual(niceTicks(Infinity, -Infinity).ticks, [0, 0.2, 0.4, 0.6, 0.8, 1]);
  });
  test('tiny and huge ranges use exponents with one precision', () => {
    assert.deepEqual(formatTicks(niceTicks(1e-6, 3e-5)), ['0', '1e-5', '2e-5', '3e-5']);
    assert.deepEqual(formatTicks(niceTicks(1e-5, 1e-5)), ['9.00e-6', '9.50e-6', '1.00e-5', '1.05e-5', '1.10e-5']);
    assert.deepEqual(formatTicks(niceTicks(1234567, 9876543)), ['0', '2e6', '4e6', '6e6', '8e6', '1e7']);
    assert.deepEqual(formatTicks(niceTicks(0, 0.01)), ['0.000', '0.002', '0.004', '0.006', '0.008', '0.010']);
  });
  test('over many ranges: ticks enclose the data, are at most maxTicks, exact decimals', () => {
    let seed = 12345;
    const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 2000; i++) {
      const scale = 10 ** Math.floor(rand() * 12 - 6);
      const a = (rand() - 0.3) * scale;
      const b = a + rand() * scale * 3 + 1e-3 * scale;
      const maxTicks = 3 + Math.floor(rand() * 8);
      const t = niceTicks(a, b, { maxTicks });
      const what = `[${a}, ${b}] max ${maxTicks}: ${t.ticks.join(', ')}`;
      assert.ok(t.ticks.length >= 2 && t.ticks.length <= maxTicks, what);
      assert.ok(t.min <= a && t.max >= b, what);
      for (const v of t.ticks) assert.equal(v, Number(v.toFixed(t.decimals)), what);
      for (let k = 1; k < t.ticks.length; k++) assert.ok(Math.abs(t.ticks[k]! - t.ticks[k - 1]! - t.step) < t.step * 1e-6, what);
      const labels = formatTicks(t);
      assert.equal(new Set(labels).size, labels.length, `distinct labels ${labels.join(' ')}`);
    }
  });
});

describe('svg text helpers', () => {
  test('escapeXml escapes markup and drops characters XML forbids', () => {
    assert.equal(escapeXml(`<a&b> "q" 'x'`), '&lt;a&amp;b&gt; &quot;q&quot; &apos;x&apos;');
    assert.equal(escapeXml('a\u0000b\u001fc\td'), 'abc\td');
  });
  test('fitText cuts with an ellipsis to the width', () => {
    assert.equal(fitText('cat', 100, 12), 'cat');
    const cut = fitText('a very long class name that goes on', 80, 12);
    assert.ok(cut.endsWith('…') && textWidth(cut, 12) <= 80, cut);
  });
});
