/**
 * Automatic augmentation policies, as torchvision's TrivialAugmentWide and RandAugment, with all
 * 14 of their ops: Identity, ShearX, ShearY, TranslateX, TranslateY, Rotate (nearest, fill 0),
 * Brightness, Color, Contrast, Sharpness, Posterize, Solarize, AutoContrast, Equalize.
 */
import { adjustBrightness, adjustContrast, adjustSaturation, adjustSharpness } from './color.js';
import { crop, rotate, rotationInverse, warpAffine } from './geometry.js';
import { clamp255, requireHwc, type Img } from './pixels.js';
import type { Rng } from './rng.js';
import { forwardAbout, type GeoMap } from './targets.js';

export const AUGMENT_OPS = [
  'Identity', 'ShearX', 'ShearY', 'TranslateX', 'TranslateY', 'Rotate', 'Brightness',
  'Color', 'Contrast', 'Sharpness', 'Posterize', 'Solarize', 'AutoContrast', 'Equalize',
] as const;
export type AugmentOp = (typeof AUGMENT_OPS)[number];

/** Maps every value, rounded to 0–255 first (the uint8 ops), through a 256-entry table per channel. */
function applyLut(img: Img, luts: readonly Uint8Array[]): Img {
  const src = img.data;
  const out = new Float32Array(src.length);
  const C = img.channels;
  for (let c = 0; c < C; c++) {
    const lut = luts[c % luts.length]!;
    for (let i = c; i < out.length; i += C) {
      const v = src[i]!;
      out[i] = lut[v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v)]!;
    }
  }
  return { data: out, width: img.width, height: img.height, channels: C };
}

const lutOf = (f: (v: number) => number): Uint8Array => Uint8Array.from({ length: 256 }, (_, v) => f(v));

/** Per-channel min/max of the values. */
function channelRange(img: Img): { lo: number[]; hi: number[] } {
  const C = img.channels;
  const lo: number[] = [];
  const hi: number[] = [];
  for (let c = 0; c < C; c++) {
    let [a, b] = [Infinity, -Infinity];
    for (let i = c; i < img.data.length; i += C) {
      const v = img.data[i]!;
      if (v < a) a = v;
      if (v > b) b = v;
    }
    lo.push(a);
    hi.push(b);
  }
  return { lo, hi };
}

function autoContrast(img: Img): Img {
  const C = img.channels;
  const { lo, hi } = channelRange(img);
  const out = new Float32Array(img.data.length);
  for (let c = 0; c < C; c++) {
    const span = hi[c]! - lo[c]!;
    const [scale, shift] = span > 0 ? [255 / span, lo[c]!] : [1, 0];
    for (let i = c; i < out.length; i += C) out[i] = clamp255((img.data[i]! - shift) * scale);
  }
  return { data: out, width: img.width, height: img.height, channels: C };
}

/** Per-channel histogram equalisation with torchvision's lookup table. */
function equalize(img: Img): Img {
  const C = img.channels;
  const luts: Uint8Array[] = [];
  for (let c = 0; c < C; c++) {
    const hist = new Float64Array(256);
    for (let i = c; i < img.data.length; i += C) hist[Math.round(clamp255(img.data[i]!))]!++;
    let last = 0;
    let total = 0;
    for (let v = 0; v < 256; v++) if (hist[v]! > 0) { total += hist[v]!; last = hist[v]!; }
    const step = Math.floor((total - last) / 255);
    const lut = new Uint8Array(256);
    let cum = 0;
    for (let v = 0; v < 256; v++) {
      lut[v] = step === 0 ? v : Math.min(255, Math.floor((cum + Math.floor(step / 2)) / step));
      cum += hist[v]!;
    }
    luts.push(lut);
  }
  return applyLut(img, luts);
}

/** Applies one op with a signed magnitude (meaning depends on the op, as torchvision's _apply_op). */
export function applyOp(img: Img, op: AugmentOp, mag: number): Img {
  requireHwc(img, op);
  switch (op) {
    case 'Identity': return img;
    case 'ShearX': return warpAffine(img, [1, -mag, 0, 0, 1, 0], [0, 0], 'nearest');
    case 'ShearY': return warpAffine(img, [1, 0, 0, -mag, 1, 0], [0, 0], 'nearest');
    case 'TranslateX': return crop(img, 0, -Math.trunc(mag), img.height, img.width);
    case 'TranslateY': return crop(img, -Math.trunc(mag), 0, img.height, img.width);
    case 'Rotate': return rotate(img, mag, 'nearest');
    case 'Brightness': return adjustBrightness(img, 1 + mag);
    case 'Color': return adjustSaturation(img, 1 + mag);
    case 'Contrast': return adjustContrast(img, 1 + mag);
    case 'Sharpness': return adjustSharpness(img, 1 + mag);
    case 'Posterize': {
      const mask = (0xff << (8 - mag)) & 0xff;
      return applyLut(img, [lutOf((v) => v & mask)]);
    }
    case 'Solarize': return applyLut(img, [lutOf((v) => (v >= mag ? 255 - v : v))]);
    case 'AutoContrast': return autoContrast(img);
    case 'Equalize': return equalize(img);
  }
}

const linspace = (a: number, b: number, n: number, i: number): number => (n === 1 ? a : a + ((b - a) * i) / (n - 1));

/** Magnitude of bin `i` of `bins` for an op, and whether its sign is random. `wide` picks TrivialAugmentWide's ranges, else RandAugment's. */
export function magnitude(op: AugmentOp, i: number, bins: number, wide: boolean, img: Img): { mag: number; signed: boolean } {
  switch (op) {
    case 'ShearX': case 'ShearY': return { mag: linspace(0, wide ? 0.99 : 0.3, bins, i), signed: true };
    case 'TranslateX': return { mag: linspace(0, wide ? 32 : (150 / 331) * img.width, bins, i), signed: true };
    case 'TranslateY': return { mag: linspace(0, wide ? 32 : (150 / 331) * img.height, bins, i), signed: true };
    case 'Rotate': return { mag: linspace(0, wide ? 135 : 30, bins, i), signed: true };
    case 'Brightness': case 'Color': case 'Contrast': case 'Sharpness': return { mag: linspace(0, wide ? 0.99 : 0.9, bins, i), signed: true };
    case 'Posterize': return { mag: 8 - Math.round(i / ((bins - 1) / (wide ? 6 : 4))), signed: false };
    case 'Solarize': return { mag: linspace(255, 0, bins, i), signed: false };
    default: return { mag: 0, signed: false };
  }
}

/** One op of a policy with its signed magnitude drawn. */
export interface DrawnOp {
  op: AugmentOp;
  mag: number;
}

function draw(op: AugmentOp, bin: number, bins: number, wide: boolean, img: Img, rng: Rng): DrawnOp {
  const { mag, signed } = magnitude(op, bin, bins, wide, img);
  return { op, mag: signed && rng.chance(0.5) ? -mag : mag };
}

/** TrivialAugmentWide's draw: one uniformly chosen op at a uniformly chosen magnitude bin. */
export function drawTrivial(img: Img, rng: Rng, bins = 31): DrawnOp[] {
  const op = AUGMENT_OPS[rng.int(0, AUGMENT_OPS.length)]!;
  return [draw(op, rng.int(0, bins), bins, true, img, rng)];
}

/** RandAugment's draw: `n` uniformly chosen ops, each at magnitude bin `m` of `bins` (no op changes the size, so `img` sizes them all). */
export function drawRand(img: Img, rng: Rng, n = 2, m = 9, bins = 31): DrawnOp[] {
  return Array.from({ length: n }, () => draw(AUGMENT_OPS[rng.int(0, AUGMENT_OPS.length)]!, m, bins, false, img, rng));
}

/** How a geometric op moves coordinates in a W × H image; null for the photometric ones. */
export function opMap(op: AugmentOp, mag: number, W: number, H: number): GeoMap | null {
  switch (op) {
    case 'ShearX': return { kind: 'affine', m: [1, mag, 0, 0, 1, 0], w: W, h: H };
    case 'ShearY': return { kind: 'affine', m: [1, 0, 0, mag, 1, 0], w: W, h: H };
    case 'TranslateX': return { kind: 'axis', sx: 1, sy: 1, tx: Math.trunc(mag), ty: 0, w: W, h: H };
    case 'TranslateY': return { kind: 'axis', sx: 1, sy: 1, tx: 0, ty: Math.trunc(mag), w: W, h: H };
    case 'Rotate': return { kind: 'affine', m: forwardAbout(rotationInverse(mag), W / 2, H / 2), w: W, h: H };
    default: return null;
  }
}

/** TrivialAugmentWide: one uniformly chosen op at a uniformly chosen magnitude bin. */
export function trivialAugment(img: Img, rng: Rng, bins = 31): Img {
  for (const d of drawTrivial(img, rng, bins)) img = applyOp(img, d.op, d.mag);
  return img;
}

/** RandAugment: `n` uniformly chosen ops, each at magnitude bin `m` of `bins`. */
export function randAugment(img: Img, rng: Rng, n = 2, m = 9, bins = 31): Img {
  for (const d of drawRand(img, rng, n, m, bins)) img = applyOp(img, d.op, d.mag);
  return img;
}
