/** The per-sample image that transforms pass along, and small helpers shared by them. */
import { PipelineError } from './errors.js';

/**
 * One image. `layout` 'hwc' (the default) holds values on the 0–255 scale (Uint8Array from the
 * decoder, Float32Array after an interpolating or colour op); 'chw' is the float tensor layout
 * that toTensor/normalize produce.
 */
export interface Img {
  data: Float32Array | Uint8Array;
  width: number;
  height: number;
  channels: number;
  layout?: 'hwc' | 'chw';
}

/** Throws unless the image is still HWC (geometric and colour ops must come before toTensor/normalize). */
export function requireHwc(img: Img, op: string): void {
  if (img.layout === 'chw') throw new PipelineError(`transform '${op}' must come before toTensor/normalize`);
}

/** Python's round(): halves go to the even neighbour (torchvision's centre-crop offsets use it). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export const clamp255 = (v: number): number => (v < 0 ? 0 : v > 255 ? 255 : v);

/** `[h, w]` from a size given as one number (square) or a pair. */
export const pair = (s: number | readonly [number, number]): [number, number] => (typeof s === 'number' ? [s, s] : [s[0], s[1]]);

/** A float copy of the pixels (colour ops work in float, on the 0–255 scale). */
export function toFloat(img: Img): Float32Array {
  return img.data instanceof Float32Array ? new Float32Array(img.data) : Float32Array.from(img.data);
}

/** Grey value of each pixel (ITU-R 601-2 luma, as PIL and torchvision), for 1 or 3 channels. */
export function luma(img: Img): Float32Array {
  const n = img.width * img.height;
  const d = img.data;
  if (img.channels === 1) return Float32Array.from(d.subarray(0, n));
  const out = new Float32Array(n);
  for (let i = 0, j = 0; i < n; i++, j += 3) out[i] = 0.299 * d[j]! + 0.587 * d[j + 1]! + 0.114 * d[j + 2]!;
  return out;
}
