// The WebAssembly resampling pass: torchvision's values on the fixtures, and the JS pass's values
// (to float32 rounding) on random images, crops, windows and flips.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resampleInto, type ResampleTarget, type Window } from '../../src/data/geometry.js';
import { Rng } from '../../src/data/rng.js';
import { resampleKernel, resampleRgbWasm } from '../../src/data/resample-wasm.js';
import type { Img } from '../../src/data/pixels.js';
import { loadFixture, maxAbsDiff, values } from '../helpers.js';

const fx = loadFixture('transforms');

/** The fixture's CHW image as 8-bit HWC. */
function hwc(name: string): Img {
  const e = fx[name]!.inputs!['img']!;
  const [C, H, W] = e.shape as [number, number, number];
  const v = values(e);
  const data = new Uint8Array(C * H * W);
  for (let c = 0; c < C; c++) for (let i = 0; i < H * W; i++) data[i * C + c] = v[c * H * W + i]!;
  return { data, width: W, height: H, channels: C };
}

const full = (ow: number, oh: number): Window => ({ x0: 0, y0: 0, ow, oh });

/** A CHW target of `ow × oh` planes at data[base]. */
const chw = (data: Float32Array, base: number, ow: number, oh: number, flip: boolean, scale: number[], shift: number[]): ResampleTarget =>
  ({ data, base, cs: ow * oh, ys: ow, xs: 1, flip, scale, shift });

describe('WebAssembly resampling', () => {
  it('loads in this Node', () => {
    assert.notEqual(resampleKernel(), null);
  });

  for (const name of ['resized_crop', 'resize_down', 'resize_up']) {
    it(`${name} matches torchvision (atol 1e-3)`, () => {
      const c = fx[name]!;
      const img = hwc(name);
      const a = c.args as Record<string, number | number[]>;
      const [oh, ow] = a['size'] as number[] as [number, number];
      const [left, top, w, h] = name === 'resized_crop' ? [a['left'], a['top'], a['w'], a['h']] as number[] : [0, 0, img.width, img.height];
      const out = new Float32Array(3 * ow! * oh!);
      assert.ok(resampleRgbWasm(img, left!, top!, w!, h!, ow!, oh!, full(ow!, oh!), chw(out, 0, ow!, oh!, false, [1], [0])));
      assert.deepEqual(c.outputs[0]!.shape, [3, oh, ow]);
      const { diff, at } = maxAbsDiff(Array.from(out), values(c.outputs[0]!));
      assert.ok(diff <= 1e-3, `max abs diff ${diff} at ${at}`);
    });
  }

  it('agrees with the JS pass on random crops, windows and flips, and writes only its slot', () => {
    const rng = new Rng(11);
    for (let trial = 0; trial < 40; trial++) {
      const [W, H] = [rng.int(1, 90), rng.int(1, 70)];
      const img: Img = { data: Uint8Array.from({ length: W * H * 3 }, () => rng.int(0, 256)), width: W, height: H, channels: 3 };
      const [w, h] = [rng.int(1, W + 1), rng.int(1, H + 1)];
      const [left, top] = [rng.int(0, W - w + 1), rng.int(0, H - h + 1)];
      const [outW, outH] = [rng.int(1, 120), rng.int(1, 120)];
      const [ow, oh] = [rng.int(1, outW + 1), rng.int(1, outH + 1)];
      const win: Window = { x0: rng.int(0, outW - ow + 1), y0: rng.int(0, outH - oh + 1), ow, oh };
      const flip = rng.chance(0.5);
      const [scale, shift] = [[1 / 255 / 0.229, 1 / 255 / 0.224, 1 / 255 / 0.225], [2.1, 2.0, 1.8]];
      const n = 3 * ow * oh;
      // Each output in the middle of a buffer of sentinels: nothing outside its slot may change.
      const [js, wasm] = [new Float32Array(n + 10).fill(-99), new Float32Array(n + 10).fill(-99)];
      resampleInto(img, left, top, w, h, outW, outH, win, chw(js, 5, ow, oh, flip, scale, shift));
      assert.ok(resampleRgbWasm(img, left, top, w, h, outW, outH, win, chw(wasm, 5, ow, oh, flip, scale, shift)));
      const d = maxAbsDiff(Array.from(wasm), Array.from(js));
      assert.ok(d.diff <= 2e-5, `trial ${trial}: ${W}×${H} crop ${w}×${h}@${left},${top} → ${outW}×${outH} window ${JSON.stringify(win)} flip ${flip}: diff ${d.diff} at ${d.at}`);
      assert.deepEqual([...wasm.subarray(0, 5), ...wasm.subarray(n + 5)], new Array(10).fill(-99));
    }
  });

  it('declines what it does not handle (one channel, float pixels, an HWC target)', () => {
    const grey: Img = { data: new Uint8Array(16), width: 4, height: 4, channels: 1 };
    const float: Img = { data: new Float32Array(48), width: 4, height: 4, channels: 3 };
    const out = new Float32Array(3 * 4);
    assert.equal(resampleRgbWasm(grey, 0, 0, 4, 4, 2, 2, full(2, 2), chw(out, 0, 2, 2, false, [1], [0])), false);
    assert.equal(resampleRgbWasm(float, 0, 0, 4, 4, 2, 2, full(2, 2), chw(out, 0, 2, 2, false, [1], [0])), false);
    const rgb: Img = { data: new Uint8Array(48), width: 4, height: 4, channels: 3 };
    assert.equal(resampleRgbWasm(rgb, 0, 0, 4, 4, 2, 2, full(2, 2), { ...chw(out, 0, 2, 2, false, [1], [0]), cs: 1, xs: 3, ys: 6 }), false);
  });
});
