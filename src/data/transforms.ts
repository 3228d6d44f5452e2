/**
 * Per-sample transforms as serialisable specs (plain JSON: they travel to loader workers and into
 * checkpoints), applied in plain JS with a per-sample seeded Rng. Geometric and colour ops work
 * on HWC values on the 0–255 scale; toTensor / normalize end the pipeline with a CHW Float32Array.
 */
import { colorJitter, grayscale, type JitterSpec } from './color.js';
import { randAugment, trivialAugment } from './augment.js';
import { centerCrop, crop, hflip, resample, resize, rotate } from './geometry.js';
import { pair, type Img } from './pixels.js';
import type { Rng } from './rng.js';

export type { Img } from './pixels.js';
export { buildTransforms, type AugmentLevel, type PresetOptions } from './presets.js';

type Size = number | [number, number];

/** One transform. Sizes are a number (square, or the shorter side for resize) or [h, w]. */
export type TransformSpec =
  | { op: 'resize'; size: Size; maxSize?: number }
  | { op: 'centerCrop'; size: Size }
  | { op: 'randomResizedCrop'; size: Size; scale?: [number, number]; ratio?: [number, number] }
  | { op: 'randomCrop'; size: Size; padding?: number; fill?: number }
  | { op: 'hflip'; p?: number }
  | { op: 'rotation'; degrees: number | [number, number]; fill?: number }
  | ({ op: 'colorJitter' } & JitterSpec)
  | { op: 'grayscale'; channels?: 1 | 3; p?: number }
  | { op: 'trivialAugment'; bins?: number }
  | { op: 'randAugment'; n?: number; m?: number; bins?: number }
  | { op: 'randomErasing'; p?: number; scale?: [number, number]; ratio?: [number, number]; value?: number }
  | { op: 'toTensor' }
  | { op: 'normalize'; mean: number[]; std: number[] };

/** torchvision's RandomResizedCrop.get_params: (top, left, h, w) of a crop of random area and aspect ratio. */
export function rrcParams(W: number, H: number, scale: readonly [number, number], ratio: readonly [number, number], rng: Rng): [number, number, number, number] {
  const area = W * H;
  const [lr0, lr1] = [Math.log(ratio[0]), Math.log(ratio[1])];
  for (let k = 0; k < 10; k++) {
    const target = area * rng.uniform(scale[0], scale[1]);
    const aspect = Math.exp(rng.uniform(lr0, lr1));
    const w = Math.round(Math.sqrt(target * aspect));
    const h = Math.round(Math.sqrt(target / aspect));
    if (w > 0 && h > 0 && w <= W && h <= H) return [rng.int(0, H - h + 1), rng.int(0, W - w + 1), h, w];
  }
  const r = W / H;
  let [w, h] = [W, H];
  if (r < ratio[0]) h = Math.round(w / ratio[0]);
  else if (r > ratio[1]) w = Math.round(h * ratio[1]);
  return [Math.floor((H - h) / 2), Math.floor((W - w) / 2), h, w];
}

/** torchvision's RandomErasing (on HWC or CHW): a box of random area and aspect set to `value`. */
function randomErasing(img: Img, s: Extract<TransformSpec, { op: 'randomErasing' }>, rng: Rng): Img {
  if (!rng.chance(s.p ?? 0.5)) return img;
  const [W, H, C] = [img.width, img.height, img.channels];
  const [sc, ra] = [s.scale ?? [0.02, 0.33], s.ratio ?? [0.3, 3.3]];
  for (let k = 0; k < 10; k++) {
    const area = W * H * rng.uniform(sc[0], sc[1]);
    const aspect = Math.exp(rng.uniform(Math.log(ra[0]), Math.log(ra[1])));
    const h = Math.round(Math.sqrt(area * aspect));
    const w = Math.round(Math.sqrt(area / aspect));
    if (!(h < H && w < W)) continue;
    const [top, left] = [rng.int(0, H - h + 1), rng.int(0, W - w + 1)];
    const out = img.data instanceof Uint8Array ? new Uint8Array(img.data) : new Float32Array(img.data);
    const chw = img.layout === 'chw';
    for (let y = top; y < top + h; y++) {
      for (let x = left; x < left + w; x++) {
        for (let c = 0; c < C; c++) out[chw ? (c * H + y) * W + x : (y * W + x) * C + c] = s.value ?? 0;
      }
    }
    return { ...img, data: out };
  }
  return img;
}

/** HWC on the 0–255 scale → CHW Float32Array, (v/255 − mean) / std (mean 0, std 1 for toTensor). */
function toChw(img: Img, mean: readonly number[], std: readonly number[]): Img {
  const { width: W, height: H, channels: C, data } = img;
  const out = new Float32Array(W * H * C);
  const plane = W * H;
  if (img.layout === 'chw') {
    for (let c = 0; c < C; c++) {
      const [m, s] = [mean[c % mean.length]!, std[c % std.length]!];
      for (let i = c * plane; i < (c + 1) * plane; i++) out[i] = (data[i]! - m) / s;
    }
  } else if (C === 3) {
    const [s0, s1, s2] = [0, 1, 2].map((c) => 1 / (255 * std[c % std.length]!)) as [number, number, number];
    const [m0, m1, m2] = [0, 1, 2].map((c) => mean[c % mean.length]! / std[c % std.length]!) as [number, number, number];
    for (let i = 0, j = 0; i < plane; i++, j += 3) {
      out[i] = data[j]! * s0 - m0;
      out[plane + i] = data[j + 1]! * s1 - m1;
      out[2 * plane + i] = data[j + 2]! * s2 - m2;
    }
  } else {
    for (let c = 0; c < C; c++) {
      const scale = 1 / (255 * std[c % std.length]!);
      const shift = mean[c % mean.length]! / std[c % std.length]!;
      for (let i = 0, j = c; i < plane; i++, j += C) out[c * plane + i] = data[j]! * scale - shift;
    }
  }
  return { data: out, width: W, height: H, channels: C, layout: 'chw' };
}

/** Applies one transform to one sample. */
export function applyTransform(img: Img, t: TransformSpec, rng: Rng): Img {
  switch (t.op) {
    case 'resize': return resize(img, t.size, t.maxSize);
    case 'centerCrop': return centerCrop(img, t.size);
    case 'randomResizedCrop': {
      const [h, w] = pair(t.size);
      const [top, left, ch, cw] = rrcParams(img.width, img.height, t.scale ?? [0.08, 1], t.ratio ?? [3 / 4, 4 / 3], rng);
      return resample(img, left, top, cw, ch, w, h);
    }
    case 'randomCrop': {
      const [h, w] = pair(t.size);
      const p = t.padding ?? 0;
      const top = rng.int(0, img.height + 2 * p - h + 1) - p;
      const left = rng.int(0, img.width + 2 * p - w + 1) - p;
      return crop(img, top, left, h, w, t.fill ?? 0);
    }
    case 'hflip': return rng.chance(t.p ?? 0.5) ? hflip(img) : img;
    case 'rotation': {
      const [lo, hi] = typeof t.degrees === 'number' ? [-t.degrees, t.degrees] : t.degrees;
      return rotate(img, rng.uniform(lo, hi), 'bilinear', t.fill ?? 0);
    }
    case 'colorJitter': return colorJitter(img, t, rng);
    case 'grayscale': return rng.chance(t.p ?? 1) ? grayscale(img, t.channels ?? (img.channels as 1 | 3)) : img;
    case 'trivialAugment': return trivialAugment(img, rng, t.bins);
    case 'randAugment': return randAugment(img, rng, t.n, t.m, t.bins);
    case 'randomErasing': return randomErasing(img, t, rng);
    case 'toTensor': return img.layout === 'chw' ? img : toChw(img, [0], [1]);
    case 'normalize': return toChw(img, t.mean, t.std);
  }
}

/**
 * Runs a pipeline on one sample and returns CHW float data (toTensor is implied at the end).
 *
 * @example
 * const out = applyTransforms(img, [{ op: 'hflip', p: 1 }, { op: 'normalize', mean: [0.5], std: [0.5] }], new Rng(0));
 * out.layout; // 'chw'
 */
export function applyTransforms(img: Img, specs: readonly TransformSpec[], rng: Rng): Img & { data: Float32Array } {
  for (const t of specs) img = applyTransform(img, t, rng);
  if (img.layout !== 'chw') img = toChw(img, [0], [1]);
  return img as Img & { data: Float32Array };
}
