/**
 * Per-sample transforms as serialisable specs (plain JSON: they travel to loader workers and into
 * checkpoints), applied in plain JS with a per-sample seeded Rng. Geometric and colour ops work
 * on HWC values on the 0–255 scale; toTensor / normalize end the pipeline with a CHW Float32Array.
 */
import { colorJitter, grayscale, randomHsv, type JitterSpec } from './color.js';
import { randAugment, trivialAugment } from './augment.js';
import { PipelineError } from './errors.js';
import { geometricStep } from './geometric.js';
import type { Interpolation } from './filters.js';
import type { Img } from './pixels.js';
import type { Rng } from './rng.js';

export type { Img } from './pixels.js';
export type { Interpolation } from './filters.js';
export { rrcParams } from './geometric.js';
export { buildTransforms, type AugmentLevel, type PresetOptions } from './presets.js';

type Size = number | [number, number];

/** One transform. Sizes are a number (square, or the shorter side for resize) or [h, w]. */
export type TransformSpec =
  /**
   * torchvision's Resize: antialiased, bilinear unless told; in float, or with `rounding: 'pil'`
   * in PIL's 8-bit fixed point, bit for bit (resample-pil.ts: what publishers' ImageNet scores
   * were measured with; 8-bit input only, slower, so evaluation only).
   */
  | { op: 'resize'; size: Size; maxSize?: number; interpolation?: Interpolation; rounding?: 'pil' }
  | { op: 'centerCrop'; size: Size }
  | { op: 'randomResizedCrop'; size: Size; scale?: [number, number]; ratio?: [number, number] }
  | { op: 'randomCrop'; size: Size; padding?: number; fill?: number }
  | { op: 'hflip'; p?: number }
  | { op: 'rotation'; degrees: number | [number, number]; fill?: number }
  /** Ultralytics' LetterBox: fit inside `size` keeping the aspect ratio, pad centred with `fill` (default 114). */
  | { op: 'letterbox'; size: Size; fill?: number; scaleup?: boolean }
  /**
   * Ultralytics' RandomPerspective without perspective (defaults: degrees 0, translate 0.1, scale
   * 0.5, shear 0 degrees, fill 114), onto an output of `size` (default: the input's).
   */
  | { op: 'randomAffine'; degrees?: number; translate?: number; scale?: number; shear?: number; fill?: number; size?: Size }
  /** Ultralytics' RandomHSV: hue shifted by up to ±h turns, saturation and value scaled by 1 ± s, 1 ± v (defaults 0.015, 0.7, 0.4). */
  | { op: 'hsv'; h?: number; s?: number; v?: number }
  /**
   * Four samples (this one and three drawn by its Rng) scaled to fit `size`, around a random centre
   * of a 2·size canvas whose middle `size` is kept (with `crop: false` the whole canvas is, for a
   * randomAffine onto `size` to frame, as Ultralytics does); with probability 1 − p, a letterbox to
   * `size` instead. Must come first: it loads other samples, so it runs only in BatchStream / DataLoader.
   */
  | { op: 'mosaic'; size: Size; p?: number; crop?: boolean }
  | ({ op: 'colorJitter' } & JitterSpec)
  | { op: 'grayscale'; channels?: 1 | 3; p?: number }
  | { op: 'trivialAugment'; bins?: number }
  | { op: 'randAugment'; n?: number; m?: number; bins?: number }
  | { op: 'randomErasing'; p?: number; scale?: [number, number]; ratio?: [number, number]; value?: number }
  | { op: 'toTensor' }
  | { op: 'normalize'; mean: number[]; std: number[] };

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
  const step = geometricStep(img, t, rng);
  if (step) return step.apply(img);
  switch (t.op) {
    case 'colorJitter': return colorJitter(img, t, rng);
    case 'hsv': return randomHsv(img, t.h ?? 0.015, t.s ?? 0.7, t.v ?? 0.4, rng);
    case 'mosaic': throw new PipelineError("transform 'mosaic' must be the first one, run by BatchStream or DataLoader (it loads other samples)");
    case 'grayscale': return rng.chance(t.p ?? 1) ? grayscale(img, t.channels ?? (img.channels as 1 | 3)) : img;
    case 'trivialAugment': return trivialAugment(img, rng, t.bins);
    case 'randAugment': return randAugment(img, rng, t.n, t.m, t.bins);
    case 'randomErasing': return randomErasing(img, t, rng);
    case 'toTensor': return img.layout === 'chw' ? img : toChw(img, [0], [1]);
    case 'normalize': return toChw(img, t.mean, t.std);
    default: throw new PipelineError(`transform '${(t as { op: string }).op}' is not handled here`);
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
