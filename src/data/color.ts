/**
 * Colour ops on HWC images, on the 0–255 scale, in float and clamped to [0, 255] as torchvision's
 * adjust_* functions: brightness, contrast, saturation, hue, sharpness, greyscale.
 */
import type { Rng } from './rng.js';
import { clamp255, luma, requireHwc, toFloat, type Img } from './pixels.js';

const withData = (img: Img, data: Float32Array, channels = img.channels): Img => ({ data, width: img.width, height: img.height, channels });

/** Blends the image with `other`: img·f + other·(1 − f), clamped; `other` is a constant, one value per pixel (`perPixel`), or a same-shape image. */
function blend(img: Img, f: number, other: Float32Array | number, perPixel = false): Img {
  const src = img.data;
  const out = new Float32Array(src.length);
  const g = 1 - f;
  const C = img.channels;
  if (typeof other === 'number') {
    const k = other * g;
    for (let i = 0; i < out.length; i++) out[i] = clamp255(src[i]! * f + k);
  } else if (perPixel) {
    for (let p = 0, i = 0; i < out.length; p++) {
      const k = other[p]! * g;
      for (let c = 0; c < C; c++, i++) out[i] = clamp255(src[i]! * f + k);
    }
  } else {
    for (let i = 0; i < out.length; i++) out[i] = clamp255(src[i]! * f + other[i]! * g);
  }
  return withData(img, out);
}

export const adjustBrightness = (img: Img, f: number): Img => (requireHwc(img, 'brightness'), blend(img, f, 0));

export function adjustContrast(img: Img, f: number): Img {
  requireHwc(img, 'contrast');
  const g = luma(img);
  let mean = 0;
  for (let i = 0; i < g.length; i++) mean += g[i]!;
  return blend(img, f, mean / g.length);
}

export function adjustSaturation(img: Img, f: number): Img {
  requireHwc(img, 'saturation');
  return img.channels === 1 ? img : blend(img, f, luma(img), true);
}

/** Shifts hue by `h` turns (−0.5…0.5) through HSV, as torchvision's adjust_hue. */
export function adjustHue(img: Img, h: number): Img {
  requireHwc(img, 'hue');
  if (img.channels === 1 || h === 0) return img;
  const out = toFloat(img);
  for (let i = 0; i < out.length; i += 3) {
    const r = out[i]! / 255;
    const g = out[i + 1]! / 255;
    const b = out[i + 2]! / 255;
    const max = Math.max(r, g, b);
    const min = Math.min(r, g, b);
    const cr = max - min;
    const s = max === 0 ? 0 : cr / max;
    let hue = 0;
    if (cr > 0) {
      if (max === r) hue = (g - b) / cr;
      else if (max === g) hue = 2 + (b - r) / cr;
      else hue = 4 + (r - g) / cr;
    }
    hue = (((hue / 6 + h) % 1) + 1) % 1;
    const v = max;
    const k = hue * 6;
    const sector = Math.floor(k) % 6;
    const f = k - Math.floor(k);
    const p = v * (1 - s);
    const q = v * (1 - s * f);
    const t = v * (1 - s * (1 - f));
    const rgb = [[v, t, p], [q, v, p], [p, v, t], [p, q, v], [t, p, v], [v, p, q]][sector]!;
    out[i] = rgb[0]! * 255;
    out[i + 1] = rgb[1]! * 255;
    out[i + 2] = rgb[2]! * 255;
  }
  return withData(img, out);
}

/** Blends with a 3×3 smoothed copy (PIL's SMOOTH kernel; border pixels kept), as adjust_sharpness. */
export function adjustSharpness(img: Img, f: number): Img {
  requireHwc(img, 'sharpness');
  const { width: W, height: H, channels: C } = img;
  const src = toFloat(img);
  const smooth = new Float32Array(src);
  const row = W * C;
  for (let y = 1; y < H - 1; y++) {
    for (let i = y * row + C, end = (y + 1) * row - C; i < end; i++) {
      const sum =
        src[i - row - C]! + src[i - row]! + src[i - row + C]! +
        src[i - C]! + 5 * src[i]! + src[i + C]! +
        src[i + row - C]! + src[i + row]! + src[i + row + C]!;
      smooth[i] = Math.round(sum / 13);
    }
  }
  return blend(withData(img, src), f, smooth);
}

/** Converts to `channels` grey channels (1, or 3 equal ones); a grey image asked for 3 channels is replicated. */
export function grayscale(img: Img, channels: 1 | 3): Img {
  requireHwc(img, 'grayscale');
  const g = luma(img);
  if (channels === 1) return withData(img, g, 1);
  const out = new Float32Array(g.length * 3);
  for (let i = 0; i < g.length; i++) out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = g[i]!;
  return withData(img, out, 3);
}

export interface JitterSpec {
  brightness?: number;
  contrast?: number;
  saturation?: number;
  hue?: number;
}

/** torchvision's ColorJitter: factors drawn from [1 − x, 1 + x] (hue from [−x, x]), applied in a random order. */
export function colorJitter(img: Img, spec: JitterSpec, rng: Rng): Img {
  const order = rng.shuffle([0, 1, 2, 3]);
  const draw = (x: number | undefined): number | null => (x ? rng.uniform(Math.max(0, 1 - x), 1 + x) : null);
  const b = draw(spec.brightness);
  const c = draw(spec.contrast);
  const s = draw(spec.saturation);
  const h = spec.hue ? rng.uniform(-spec.hue, spec.hue) : null;
  for (const k of order) {
    if (k === 0 && b !== null) img = adjustBrightness(img, b);
    if (k === 1 && c !== null) img = adjustContrast(img, c);
    if (k === 2 && s !== null) img = adjustSaturation(img, s);
    if (k === 3 && h !== null) img = adjustHue(img, h);
  }
  return img;
}

/**
 * Ultralytics' RandomHSV: gains drawn from [−1, 1] (always three draws), then hue shifted by
 * r₀·h turns, saturation and value scaled by 1 + r₁·s and 1 + r₂·v, clamped. Grey images get the
 * value gain only.
 */
export function randomHsv(img: Img, h: number, s: number, v: number, rng: Rng): Img {
  requireHwc(img, 'hsv');
  const dh = rng.uniform(-1, 1) * h;
  const fs = 1 + rng.uniform(-1, 1) * s;
  const fv = 1 + rng.uniform(-1, 1) * v;
  const out = toFloat(img);
  if (img.channels === 1) {
    for (let i = 0; i < out.length; i++) out[i] = clamp255(out[i]! * fv);
    return withData(img, out);
  }
  for (let i = 0; i < out.length; i += 3) {
    const [r, g, b] = [out[i]!, out[i + 1]!, out[i + 2]!];
    const max = Math.max(r, g, b);
    const cr = max - Math.min(r, g, b);
    let hue = 0;
    if (cr > 0) hue = max === r ? (g - b) / cr : max === g ? 2 + (b - r) / cr : 4 + (r - g) / cr;
    hue = (((hue / 6 + dh) % 1) + 1) % 1;
    const sat = Math.min(1, (max === 0 ? 0 : cr / max) * fs);
    const val = clamp255(max * fv);
    const k = hue * 6;
    const f = k - Math.floor(k);
    const [p, q, t] = [val * (1 - sat), val * (1 - sat * f), val * (1 - sat * (1 - f))];
    const rgb = [[val, t, p], [q, val, p], [p, val, t], [p, q, val], [t, p, val], [val, p, q]][Math.floor(k) % 6]!;
    out[i] = rgb[0]!;
    out[i + 1] = rgb[1]!;
    out[i + 2] = rgb[2]!;
  }
  return withData(img, out);
}
