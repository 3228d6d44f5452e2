/** Default transform pipelines for classification training and evaluation. */
import type { TransformSpec } from './transforms.js';

export type AugmentLevel = 'none' | 'light' | 'standard' | 'strong';

export const IMAGENET_MEAN = [0.485, 0.456, 0.406];
export const IMAGENET_STD = [0.229, 0.224, 0.225];

export interface PresetOptions {
  /** Square input size of the model. */
  imgsz: number;
  channels: 1 | 3;
  augment?: AugmentLevel;
  /** Per-channel mean and std on the 0–1 scale (default ImageNet's for 3 channels, 0.5 / 0.5 for 1). */
  mean?: number[];
  std?: number[];
  /** The data's own size when every image has one (IDX sets), else null. */
  nativeSize?: [number, number] | null;
  /** Random horizontal flips; default on for photos, off for small images (digits and glyphs change meaning). */
  hflip?: boolean;
}

/** Below this size, images count as small (28/32 px sets): crops pad and shift rather than rescale. */
const SMALL = 64;

/**
 * Transform pipelines with sensible defaults:
 *
 * - eval (and train with augment 'none'): resize to imgsz·256/224 (imgsz ≥ 64; else to imgsz) +
 *   centerCrop(imgsz) + normalize; just normalize when the data already has the size.
 * - light: small images randomCrop(imgsz, padding 2–4); photos randomResizedCrop(scale 0.35–1) + hflip.
 * - standard: photos randomResizedCrop + hflip + trivialAugment; small images randomCrop +
 *   randAugment(2, 9) (TrivialAugmentWide's 135° rotations and strong shears destroy digits).
 * - strong: standard + randomErasing(p 0.25).
 *
 * @example
 * const train = buildTransforms('train', { imgsz: 224, channels: 3, augment: 'standard' });
 * const val = buildTransforms('eval', { imgsz: 224, channels: 3 });
 * const mnist = buildTransforms('train', { imgsz: 28, channels: 1, augment: 'light', mean: [0.1307], std: [0.3081], nativeSize: [28, 28] });
 */
export function buildTransforms(preset: 'train' | 'eval', opts: PresetOptions): TransformSpec[] {
  const { imgsz, channels } = opts;
  const mean = opts.mean ?? (channels === 3 ? IMAGENET_MEAN : [0.5]);
  const std = opts.std ?? (channels === 3 ? IMAGENET_STD : [0.5]);
  if (mean.length !== channels || std.length !== channels) throw new RangeError(`mean and std need ${channels} value(s), got ${mean.length} and ${std.length}`);
  const normalize: TransformSpec = { op: 'normalize', mean, std };
  const native = opts.nativeSize ?? null;
  const isNative = native !== null && native[0] === imgsz && native[1] === imgsz;
  const small = imgsz < SMALL;
  const level = opts.augment ?? 'standard';
  if (preset === 'eval' || level === 'none') {
    if (isNative) return [normalize];
    return [{ op: 'resize', size: small ? imgsz : Math.round((imgsz * 256) / 224) }, { op: 'centerCrop', size: imgsz }, normalize];
  }
  const flip = opts.hflip ?? !small;
  const out: TransformSpec[] = [];
  if (small) {
    if (!isNative) out.push({ op: 'resize', size: imgsz }, { op: 'centerCrop', size: imgsz });
    out.push({ op: 'randomCrop', size: imgsz, padding: Math.min(4, Math.max(2, Math.round(imgsz / 8))) });
  } else {
    out.push({ op: 'randomResizedCrop', size: imgsz, scale: level === 'light' ? [0.35, 1] : [0.08, 1] });
  }
  if (flip) out.push({ op: 'hflip', p: 0.5 });
  if (level !== 'light') out.push(small ? { op: 'randAugment', n: 2, m: 9 } : { op: 'trivialAugment' });
  out.push(normalize);
  if (level === 'strong') out.push({ op: 'randomErasing', p: 0.25 });
  return out;
}
