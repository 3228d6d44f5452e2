import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { fromHalfArray, fromHalfBits, toHalfArray, toHalfBits } from '../../src/onnx/half.js';

const FIXTURE = fileURLToPath(new URL('../../../test/fixtures/fp16.json', import.meta.url));
const hex = (n: number): string => `0x${n.toString(16)}`;

test('float32 → fp16 bits match numpy astype(float16) on 6,020 values', () => {
  const fx = JSON.parse(readFileSync(FIXTURE, 'utf8')) as { f32_bits: number[]; f16_bits: number[] };
  const src = new Float32Array(Uint32Array.from(fx.f32_bits).buffer);
  const got = toHalfArray(src, Infinity);
  let bad = 0;
  for (let i = 0; i < src.length; i++) {
    if (got[i] !== fx.f16_bits[i]) {
      if (bad++ < 5) console.log(`${src[i]} (${hex(fx.f32_bits[i]!)}): got ${hex(got[i]!)}, numpy ${hex(fx.f16_bits[i]!)}`);
    }
  }
  assert.equal(bad, 0);
  assert.ok(src.length > 6000);
});

test('every finite fp16 value round-trips, and midpoints between neighbours round to even', () => {
  for (let h = 0; h < 0x10000; h++) {
    const v = fromHalfBits(h);
    if (Number.isNaN(v)) {
      assert.equal((h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0, true);
      assert.ok(Number.isNaN(fromHalfBits(toHalfBits(v))));
      continue;
    }
    assert.equal(toHalfBits(v), h === 0x8000 ? 0x8000 : h, `round trip of ${hex(h)}`);
    const next = h + 1;
    if ((next & 0x7fff) >= 0x7c00) continue; // no finite upper neighbour
    // The midpoint between neighbours is exact in float32; it must go to the even one.
    const mid = (v + fromHalfBits(next)) / 2;
    const even = (h & 1) === 0 ? h : next;
    assert.equal(toHalfBits(mid), even, `tie ${mid} between ${hex(h)} and ${hex(next)}`);
    // Just off the midpoint, the nearer neighbour wins.
    const [below, above] = [Math.abs(mid) * (1 - 2 ** -23), Math.abs(mid) * (1 + 2 ** -22)].map((m) => Math.sign(mid) * m);
    const lower = Math.abs(v) < Math.abs(fromHalfBits(next)) ? h : next;
    const upper = lower === h ? next : h;
    assert.equal(toHalfBits(below!), Math.abs(below!) < Math.abs(mid) ? lower : upper);
    assert.equal(toHalfBits(above!), Math.abs(above!) > Math.abs(mid) ? upper : lower);
  }
});

test('special values: signed zero, infinities, subnormal edges, overflow, clamping', () => {
  assert.equal(toHalfBits(-0), 0x8000);
  assert.equal(toHalfBits(Infinity), 0x7c00);
  assert.equal(toHalfBits(-Infinity), 0xfc00);
  assert.equal(toHalfBits(2 ** -24), 0x0001); // smallest subnormal
  assert.equal(toHalfBits(2 ** -25), 0x0000); // tie with zero → even (zero)
  assert.equal(toHalfBits(2 ** -25 * 1.5), 0x0001);
  assert.equal(toHalfBits(2 ** -14), 0x0400); // smallest normal
  assert.equal(toHalfBits(65504), 0x7bff);
  assert.equal(toHalfBits(65519), 0x7bff); // rounds down to the largest finite
  assert.equal(toHalfBits(65520), 0x7c00); // the tie rounds to even: infinity
  assert.equal(toHalfBits(1e-40), 0); // float32 subnormal
  assert.equal(fromHalfBits(0x3555), 0.333251953125);
  // The array form clamps finite values to ±65504 instead of overflowing.
  assert.deepEqual(Array.from(toHalfArray(Float32Array.of(1e6, -7e4, Infinity, -Infinity, 1))), [0x7bff, 0xfbff, 0x7c00, 0xfc00, 0x3c00]);
  assert.deepEqual(Array.from(fromHalfArray(Uint16Array.of(0x3c00, 0xc000, 0x0001))), [1, -2, 2 ** -24]);
});
