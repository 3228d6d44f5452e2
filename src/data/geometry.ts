/**
 * Geometric ops on HWC images in plain JS: antialiased resampling with PIL's filters, in float
 * (what torchvision's Resize does for tensors with antialias=True; PIL images are resampled in
 * 8-bit fixed point, which resample-pil.ts reproduces),
 * crops with fill, flips and affine warps.
 */
import { filterCoeffs, type Interpolation } from './filters.js';
import { pair, requireHwc, roundHalfEven, type Img } from './pixels.js';

interface Coeffs {
  start: Int32Array;
  count: Int32Array;
  weights: Float32Array;
  taps: number;
}

/** PIL's coefficients (filters.ts) with float32 weights, as the float passes use them. */
function coeffs(inSize: number, outSize: number, interpolation: Interpolation): Coeffs {
  const c = filterCoeffs(inSize, outSize, interpolation);
  return { ...c, weights: Float32Array.from(c.weights) };
}

/**
 * Where resampled values go. Output element (y, x, c) of the window lands at
 * `base + c·cs + y·ys + x'·xs` (x' = window width − 1 − x when `flip`) as `v·scale[c] − shift[c]`:
 * HWC floats with scale 1 and shift 0, or a normalized CHW slot of a batch buffer.
 */
export interface ResampleTarget {
  data: Float32Array;
  base: number;
  cs: number;
  ys: number;
  xs: number;
  flip: boolean;
  scale: readonly number[];
  shift: readonly number[];
}

/** The part of the resampled output that is computed: `ow × oh` values from (x0, y0). */
export interface Window {
  x0: number;
  y0: number;
  ow: number;
  oh: number;
}

/** An HWC float target for an `ow × oh` window with `C` channels. */
const hwcTarget = (ow: number, oh: number, C: number): ResampleTarget => ({
  data: new Float32Array(ow * oh * C),
  base: 0,
  cs: 1,
  ys: ow * C,
  xs: C,
  flip: false,
  scale: [1],
  shift: [0],
});

let scratch = new Float32Array(0);

/**
 * Resamples the region (left, top, w, h) — which must lie inside the image — to outW × outH with
 * antialiased filtering (bilinear unless told), computing only `win` of the output and writing it into `t`.
 * Each value is accumulated in double and rounded to float32 once before the scale and shift, so
 * writing into a normalized batch slot gives the same floats as resampling, flipping and
 * normalizing one step at a time.
 */
export function resampleInto(img: Img, left: number, top: number, w: number, h: number, outW: number, outH: number, win: Window, t: ResampleTarget, interpolation: Interpolation = 'bilinear'): void {
  requireHwc(img, 'resize');
  const C = img.channels;
  if (w === outW && h === outH) return copyInto(img, left + win.x0, top + win.y0, win, t);
  const { cx, cy, lo, hi } = filters(w, h, outW, outH, win, interpolation);
  const rowLen = win.ow * C;
  if (scratch.length < (hi - lo) * rowLen) scratch = new Float32Array((hi - lo) * rowLen);
  horizontalPass(img.data, img.width, C, left, top + lo, hi - lo, cx, win.x0, win.ow, scratch);
  verticalPass(scratch, rowLen, C, cy, lo, win, t);
}

/**
 * The filters for resampling w × h to outW × outH, and the input rows [lo, hi) (from the region's
 * top) that the window's output rows read.
 */
export function filters(w: number, h: number, outW: number, outH: number, win: Window, interpolation: Interpolation = 'bilinear'): { cx: Coeffs; cy: Coeffs; lo: number; hi: number } {
  const cx = coeffs(w, outW, interpolation);
  const cy = coeffs(h, outH, interpolation);
  let lo = Infinity;
  let hi = 0;
  for (let y = win.y0; y < win.y0 + win.oh; y++) {
    lo = Math.min(lo, cy.start[y]!);
    hi = Math.max(hi, cy.start[y]! + cy.count[y]!);
  }
  return { cx, cy, lo, hi };
}

/** The unscaled case: the window's pixels, from (left, top) of the image, straight into the target. */
function copyInto(img: Img, left: number, top: number, win: Window, t: ResampleTarget): void {
  const { data: src, width: W, channels: C } = img;
  const { data: out, cs, ys, flip } = t;
  const xs = flip ? -t.xs : t.xs;
  const xBase = flip ? (win.ow - 1) * t.xs : 0;
  for (let c = 0; c < C; c++) {
    const [s, m] = [t.scale[c % t.scale.length]!, t.shift[c % t.shift.length]!];
    for (let y = 0; y < win.oh; y++) {
      const o0 = t.base + c * cs + y * ys + xBase;
      for (let x = 0, p = ((top + y) * W + left) * C + c, o = o0; x < win.ow; x++, p += C, o += xs) out[o] = src[p]! * s - m;
    }
  }
}

/** Rows `rows` of the region from `top`, each resampled to the window's columns of cx. */
function horizontalPass(src: Uint8Array | Float32Array, W: number, C: number, left: number, top: number, rows: number, cx: Coeffs, x0: number, ow: number, tmp: Float32Array): void {
  const { start, count, weights, taps } = cx;
  let t = 0;
  for (let yy = 0; yy < rows; yy++) {
    const rowBase = ((top + yy) * W + left) * C;
    for (let xx = x0; xx < x0 + ow; xx++) {
      let p = rowBase + start[xx]! * C;
      const n = count[xx]!;
      const wo = xx * taps;
      if (C === 3) {
        let a = 0;
        let b = 0;
        let c = 0;
        for (let k = 0; k < n; k++, p += 3) {
          const wk = weights[wo + k]!;
          a += src[p]! * wk;
          b += src[p + 1]! * wk;
          c += src[p + 2]! * wk;
        }
        tmp[t++] = a;
        tmp[t++] = b;
        tmp[t++] = c;
      } else {
        for (let c = 0; c < C; c++) {
          let acc = 0;
          for (let k = 0, q = p + c; k < n; k++, q += C) acc += src[q]! * weights[wo + k]!;
          tmp[t++] = acc;
        }
      }
    }
  }
}

/** The window's output rows from tmp (whose first row is input row `lo`), into the target. */
function verticalPass(tmp: Float32Array, rowLen: number, C: number, cy: Coeffs, lo: number, win: Window, t: ResampleTarget): void {
  const { start, count, weights, taps } = cy;
  const { data: out, cs, ys, flip } = t;
  const xs = flip ? -t.xs : t.xs;
  const xBase = flip ? (win.ow - 1) * t.xs : 0;
  const sc = Array.from({ length: C }, (_, c) => t.scale[c % t.scale.length]!);
  const sh = Array.from({ length: C }, (_, c) => t.shift[c % t.shift.length]!);
  const fr = Math.fround;
  for (let y = 0; y < win.oh; y++) {
    const yy = win.y0 + y;
    const n = count[yy]!;
    const r0 = (start[yy]! - lo) * rowLen;
    const wy = yy * taps;
    const ob = t.base + y * ys + xBase;
    if (C === 3) {
      const [s0, s1, s2] = sc as [number, number, number];
      const [m0, m1, m2] = sh as [number, number, number];
      if (n === 2) {
        const [w0, w1] = [weights[wy]!, weights[wy + 1]!];
        for (let x = 0, i = r0, j = r0 + rowLen, o = ob; x < win.ow; x++, i += 3, j += 3, o += xs) {
          out[o] = fr(tmp[i]! * w0 + tmp[j]! * w1) * s0 - m0;
          out[o + cs] = fr(tmp[i + 1]! * w0 + tmp[j + 1]! * w1) * s1 - m1;
          out[o + 2 * cs] = fr(tmp[i + 2]! * w0 + tmp[j + 2]! * w1) * s2 - m2;
        }
        continue;
      }
      if (n === 3) {
        const [w0, w1, w2] = [weights[wy]!, weights[wy + 1]!, weights[wy + 2]!];
        for (let x = 0, i = r0, j = r0 + rowLen, l = r0 + 2 * rowLen, o = ob; x < win.ow; x++, i += 3, j += 3, l += 3, o += xs) {
          out[o] = fr(tmp[i]! * w0 + tmp[j]! * w1 + tmp[l]! * w2) * s0 - m0;
          out[o + cs] = fr(tmp[i + 1]! * w0 + tmp[j + 1]! * w1 + tmp[l + 1]! * w2) * s1 - m1;
          out[o + 2 * cs] = fr(tmp[i + 2]! * w0 + tmp[j + 2]! * w1 + tmp[l + 2]! * w2) * s2 - m2;
        }
        continue;
      }
      for (let x = 0, i = r0, o = ob; x < win.ow; x++, i += 3, o += xs) {
        let a = 0;
        let b = 0;
        let c = 0;
        for (let k = 0, q = i; k < n; k++, q += rowLen) {
          const wk = weights[wy + k]!;
          a += tmp[q]! * wk;
          b += tmp[q + 1]! * wk;
          c += tmp[q + 2]! * wk;
        }
        out[o] = fr(a) * s0 - m0;
        out[o + cs] = fr(b) * s1 - m1;
        out[o + 2 * cs] = fr(c) * s2 - m2;
      }
      continue;
    }
    for (let x = 0, i = r0, o = ob; x < win.ow; x++, i += C, o += xs) {
      for (let c = 0; c < C; c++) {
        let acc = 0;
        for (let k = 0, q = i + c; k < n; k++, q += rowLen) acc += tmp[q]! * weights[wy + k]!;
        out[o + c * cs] = fr(acc) * sc[c]! - sh[c]!;
      }
    }
  }
}

/**
 * Crops the region (left, top, w, h) — which must lie inside the image — and resizes it to
 * outW × outH with antialiased filtering (crop first, so the filter never reads outside the
 * region, as torchvision's resized_crop).
 */
export function resample(img: Img, left: number, top: number, w: number, h: number, outW: number, outH: number, interpolation: Interpolation = 'bilinear'): Img {
  requireHwc(img, 'resize');
  if (w === outW && h === outH) return crop(img, top, left, h, w);
  const t = hwcTarget(outW, outH, img.channels);
  resampleInto(img, left, top, w, h, outW, outH, { x0: 0, y0: 0, ow: outW, oh: outH }, t, interpolation);
  return { data: t.data, width: outW, height: outH, channels: img.channels };
}

/** torchvision's Resize size rule: a number sets the shorter side (the longer one truncated), a pair is [h, w]. */
export function resizeTarget(width: number, height: number, size: number | readonly [number, number], maxSize?: number): [number, number] {
  if (typeof size !== 'number') return [size[0], size[1]];
  const [short, long] = width <= height ? [width, height] : [height, width];
  let [newShort, newLong] = [size, Math.floor((size * long) / short)];
  if (maxSize !== undefined && newLong > maxSize) [newShort, newLong] = [Math.floor((maxSize * newShort) / newLong), maxSize];
  return width <= height ? [newLong, newShort] : [newShort, newLong];
}

/** Resizes to `size` (see resizeTarget) with antialiased filtering. */
export function resize(img: Img, size: number | readonly [number, number], maxSize?: number, interpolation: Interpolation = 'bilinear'): Img {
  const [h, w] = resizeTarget(img.width, img.height, size, maxSize);
  return resample(img, 0, 0, img.width, img.height, w, h, interpolation);
}

/** The h × w window at (top, left); parts outside the image are `fill`. Keeps the element type. */
export function crop(img: Img, top: number, left: number, h: number, w: number, fill = 0): Img {
  requireHwc(img, 'crop');
  const C = img.channels;
  const src = img.data;
  const out = src instanceof Uint8Array ? new Uint8Array(h * w * C) : new Float32Array(h * w * C);
  if (fill !== 0) out.fill(fill);
  const x0 = Math.max(0, -left);
  const x1 = Math.min(w, img.width - left);
  for (let y = 0; y < h; y++) {
    const sy = top + y;
    if (sy < 0 || sy >= img.height || x1 <= x0) continue;
    const from = (sy * img.width + left + x0) * C;
    out.set(src.subarray(from, from + (x1 - x0) * C), (y * w + x0) * C);
  }
  return { data: out, width: w, height: h, channels: C };
}

/** torchvision's center_crop: offsets round half to even; pads with 0 when the image is smaller. */
export function centerCrop(img: Img, size: number | readonly [number, number]): Img {
  const [h, w] = pair(size);
  return crop(img, roundHalfEven((img.height - h) / 2), roundHalfEven((img.width - w) / 2), h, w);
}

/** Mirrors left ↔ right. */
export function hflip(img: Img): Img {
  requireHwc(img, 'hflip');
  const { width: W, height: H, channels: C, data: src } = img;
  const out = src instanceof Uint8Array ? new Uint8Array(src.length) : new Float32Array(src.length);
  for (let y = 0; y < H; y++) {
    const row = y * W * C;
    if (C === 3) {
      for (let s = row, d = row + (W - 1) * 3; d >= row; s += 3, d -= 3) {
        out[d] = src[s]!;
        out[d + 1] = src[s + 1]!;
        out[d + 2] = src[s + 2]!;
      }
      continue;
    }
    for (let x = 0; x < W; x++) {
      const s = row + x * C;
      const d = row + (W - 1 - x) * C;
      for (let c = 0; c < C; c++) out[d + c] = src[s + c]!;
    }
  }
  return { data: out, width: W, height: H, channels: C };
}

/**
 * Warps by an inverse affine map: output pixel centre (x, y), taken relative to (cx, cy), reads the
 * source at (a·dx + b·dy + c + cx, d·dx + e·dy + f + cy). Points outside read `fill`. The output
 * is `size` = [width, height] (default: the input's).
 */
export function warpAffine(img: Img, inv: readonly number[], center: readonly [number, number], interp: 'nearest' | 'bilinear', fill = 0, size?: readonly [number, number]): Img {
  requireHwc(img, 'affine');
  const { width: W, height: H, channels: C, data: src } = img;
  const [OW, OH] = size ?? [W, H];
  const [a, b, c, d, e, f] = inv as [number, number, number, number, number, number];
  const [cx, cy] = center;
  const out = new Float32Array(OW * OH * C);
  if (fill !== 0) out.fill(fill);
  for (let y = 0; y < OH; y++) {
    const dy = y + 0.5 - cy;
    for (let x = 0; x < OW; x++) {
      const dx = x + 0.5 - cx;
      const sx = a * dx + b * dy + c + cx - 0.5;
      const sy = d * dx + e * dy + f + cy - 0.5;
      const o = (y * OW + x) * C;
      if (interp === 'nearest') {
        const ix = Math.round(sx);
        const iy = Math.round(sy);
        if (ix < 0 || iy < 0 || ix >= W || iy >= H) continue;
        const p = (iy * W + ix) * C;
        for (let k = 0; k < C; k++) out[o + k] = src[p + k]!;
        continue;
      }
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const fx = sx - x0;
      const fy = sy - y0;
      const w00 = (1 - fx) * (1 - fy);
      const w01 = fx * (1 - fy);
      const w10 = (1 - fx) * fy;
      const w11 = fx * fy;
      const okX0 = x0 >= 0 && x0 < W;
      const okX1 = x0 + 1 >= 0 && x0 + 1 < W;
      const okY0 = y0 >= 0 && y0 < H;
      const okY1 = y0 + 1 >= 0 && y0 + 1 < H;
      const p00 = okX0 && okY0 ? (y0 * W + x0) * C : -1;
      const p01 = okX1 && okY0 ? (y0 * W + x0 + 1) * C : -1;
      const p10 = okX0 && okY1 ? ((y0 + 1) * W + x0) * C : -1;
      const p11 = okX1 && okY1 ? ((y0 + 1) * W + x0 + 1) * C : -1;
      for (let k = 0; k < C; k++) {
        out[o + k] =
          (p00 < 0 ? fill : src[p00 + k]!) * w00 +
          (p01 < 0 ? fill : src[p01 + k]!) * w01 +
          (p10 < 0 ? fill : src[p10 + k]!) * w10 +
          (p11 < 0 ? fill : src[p11 + k]!) * w11;
      }
    }
  }
  return { data: out, width: OW, height: OH, channels: C };
}

/** The inverse matrix (about the image centre) of a counter-clockwise rotation by `degrees`, as warpAffine takes it. */
export function rotationInverse(degrees: number): [number, number, number, number, number, number] {
  const t = (degrees * Math.PI) / 180;
  const [cs, sn] = [Math.cos(t), Math.sin(t)];
  return [cs, -sn, 0, sn, cs, 0];
}

/** Rotates counter-clockwise by `degrees` about the image centre, keeping the size. */
export function rotate(img: Img, degrees: number, interp: 'nearest' | 'bilinear' = 'bilinear', fill = 0): Img {
  return warpAffine(img, rotationInverse(degrees), [img.width / 2, img.height / 2], interp, fill);
}
