/**
 * The fused tail's resampling pass for 8-bit RGB images in WebAssembly SIMD
 * (native/wasm/resample.ts, built into resample.wasm beside this file): the same antialiased
 * filters as geometry.ts's resampleInto, in float32 arithmetic (the JS passes accumulate
 * in double, so values differ in the last bits), about 3× faster. Node only.
 */
import { readFileSync } from 'node:fs';
import { filters, type ResampleTarget, type Window } from './geometry.js';
import type { Interpolation } from './filters.js';
import type { Img } from './pixels.js';

interface Kernel {
  memory: WebAssembly.Memory;
  hpass(src: number, rowStride: number, rows: number, start: number, count: number, weights: number, taps: number, ow: number, tmp: number): void;
  vpass(tmp: number, ow: number, start: number, count: number, weights: number, taps: number, lo: number, y0: number, oh: number, out: number, flip: number, s0: number, s1: number, s2: number, m0: number, m1: number, m2: number, row: number): void;
}

let kernel: Kernel | null | undefined;

/** The instantiated module, or null where this runtime has no WebAssembly SIMD. */
export function resampleKernel(): Kernel | null {
  if (kernel === undefined) {
    const bytes = readFileSync(new URL('./resample.wasm', import.meta.url));
    kernel = WebAssembly.validate(bytes) ? (new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports as unknown as Kernel) : null;
  }
  return kernel;
}

/** Slack after each buffer: the kernels load and store up to 16 bytes past a pixel. */
const SLACK = 16;
const PAGE = 65536;

/**
 * resampleInto for what this kernel handles: a resize of an 8-bit RGB image into a CHW target
 * (planes of the window's size, one after another). False (nothing written) for anything else,
 * or where the kernel is unavailable.
 */
export function resampleRgbWasm(img: Img, left: number, top: number, w: number, h: number, outW: number, outH: number, win: Window, t: ResampleTarget, interpolation: Interpolation = 'bilinear'): boolean {
  const k = resampleKernel();
  const { ow, oh } = win;
  const chw = t.xs === 1 && t.ys === ow && t.cs === ow * oh;
  if (!k || !chw || (w === outW && h === outH) || !(img.data instanceof Uint8Array) || img.channels !== 3) return false;
  const { cx, cy, lo, hi } = filters(w, h, outW, outH, win, interpolation);
  const rows = hi - lo;
  const { data, base: offset, flip } = t;
  const [scale, shift] = [[0, 1, 2].map((c) => t.scale[c % t.scale.length]!), [0, 1, 2].map((c) => t.shift[c % t.shift.length]!)];
  // Memory: source rows, x and y coefficients, the horizontal pass's rows, one row, the output.
  const rowStride = img.width * 3;
  const srcFrom = (top + lo) * rowStride;
  const srcLen = rows * rowStride;
  let at = 0;
  const take = (bytes: number): number => {
    const p = at;
    at += Math.ceil((bytes + SLACK) / 16) * 16;
    return p;
  };
  const src = take(srcLen);
  const [xs, xc, xw] = [take(ow * 4), take(ow * 4), take(ow * cx.taps * 4)];
  const [ys, yc, yw] = [take(outH * 4), take(outH * 4), take(outH * cy.taps * 4)];
  const tmp = take(rows * ow * 12);
  const row = take(ow * 12);
  const out = take(3 * ow * oh * 4);
  const mem = k.memory;
  if (at > mem.buffer.byteLength) mem.grow(Math.ceil((at - mem.buffer.byteLength) / PAGE));
  const buf = mem.buffer;
  new Uint8Array(buf, src, srcLen).set(img.data.subarray(srcFrom, srcFrom + srcLen));
  const xStart = new Int32Array(buf, xs, ow);
  for (let x = 0; x < ow; x++) xStart[x] = (left + cx.start[win.x0 + x]!) * 3;
  new Int32Array(buf, xc, ow).set(cx.count.subarray(win.x0, win.x0 + ow));
  new Float32Array(buf, xw, ow * cx.taps).set(cx.weights.subarray(win.x0 * cx.taps, (win.x0 + ow) * cx.taps));
  new Int32Array(buf, ys, outH).set(cy.start);
  new Int32Array(buf, yc, outH).set(cy.count);
  new Float32Array(buf, yw, outH * cy.taps).set(cy.weights);
  k.hpass(src, rowStride, rows, xs, xc, xw, cx.taps, ow, tmp);
  k.vpass(tmp, ow, ys, yc, yw, cy.taps, lo, win.y0, oh, out, flip ? 1 : 0, scale[0]!, scale[1]!, scale[2]!, shift[0]!, shift[1]!, shift[2]!, row);
  data.set(new Float32Array(buf, out, 3 * ow * oh), offset);
  return true;
}
