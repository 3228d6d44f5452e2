/**
 * The pictures of segmentation: masks coloured over their images (predict --save, the validation
 * batch with ground truth beside prediction) and the training batch with its masks. Class 0 is
 * the background by the data sets' convention (synth, VOC, COCO conversion) and stays uncoloured,
 * as do ignore pixels (255).
 */
import type { Batch } from '../../data/loader.js';
import { BOX_COLOURS, imageGrid, type GridItem } from '../../plot/index.js';
import { tidy } from '../../tensor/scope.js';

/**
 * The colour of class k as [r, g, b], from detection's palette (Ultralytics') taken 7 apart, since
 * its neighbours are alike (red, salmon, orange) and adjacent regions need distinct colours.
 */
export function classColour(k: number): [number, number, number] {
  const n = BOX_COLOURS.length;
  const hex = BOX_COLOURS[((((k - 1) * 7) % n) + n) % n]!;
  return [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)) as [number, number, number];
}

/** `rgb` (HWC, 1 or 3 channels) as RGB with the mask's classes blended in at `alpha` (class 0 and 255 left as they are). */
export function overlayMask(rgb: Uint8Array, channels: 1 | 3, mask: Uint8Array, alpha = 0.5): Uint8Array {
  const out = new Uint8Array(mask.length * 3);
  const colours = new Map<number, [number, number, number]>();
  for (let i = 0; i < mask.length; i++) {
    const k = mask[i]!;
    for (let c = 0; c < 3; c++) out[i * 3 + c] = rgb[i * channels + (channels === 3 ? c : 0)]!;
    if (k === 0 || k === 255) continue;
    let col = colours.get(k);
    if (!col) colours.set(k, (col = classColour(k)));
    for (let c = 0; c < 3; c++) out[i * 3 + c] = Math.round(out[i * 3 + c]! * (1 - alpha) + col[c]! * alpha);
  }
  return out;
}

/** Images of a batch (0–1 floats, mean 0 and std 1) as 8-bit HWC, with their shape. */
export function batchPixels(images: Batch['images'], count: number): { data: Uint8Array; c: 1 | 3; h: number; w: number } {
  const [, c, h, w] = images.shape as [number, 1 | 3, number, number];
  const data = tidy(() => images.slice(0, 0, count).mul(255).clamp(0, 255).round().permute(0, 2, 3, 1).contiguous().to('uint8').dataSync() as Uint8Array);
  return { data: Uint8Array.from(data), c, h, w };
}

/** One tile: the image with a mask over it. */
const tile = (px: { data: Uint8Array; c: 1 | 3; h: number; w: number }, i: number, mask: Uint8Array, label: string): GridItem => {
  const n = px.h * px.w;
  return { rgb: overlayMask(px.data.subarray(i * n * px.c, (i + 1) * n * px.c), px.c, mask.subarray(i * n, (i + 1) * n)), width: px.w, height: px.h, label };
};

/** Up to 16 augmented training images with their masks over them (train_batch.png). */
export async function writeSegmentBatch(batch: Batch, path: string, limit = 16): Promise<void> {
  const count = Math.min(batch.images.shape[0]!, limit);
  const px = batchPixels(batch.images, count);
  const masks = batch.masks!.slice(0, 0, count).contiguous().dataSync() as Uint8Array;
  const tiles = Array.from({ length: count }, (_, i) => tile(px, i, masks, ''));
  await imageGrid(tiles, path, { cols: 4, tile: Math.max(128, px.w), title: 'Training batch (augmented) with its masks' });
}

/** Validation images as they entered the network, with their ground-truth and predicted masks. */
export interface ValSamples {
  pixels: { data: Uint8Array; c: 1 | 3; h: number; w: number };
  truth: Uint8Array;
  pred: Uint8Array;
  count: number;
}

/** Ground truth beside prediction for each sample, two tiles per image (val_batch.png). */
export async function writeValBatch(s: ValSamples, path: string, epoch: number): Promise<void> {
  const tiles: GridItem[] = [];
  for (let i = 0; i < s.count; i++) tiles.push(tile(s.pixels, i, s.truth, 'ground truth'), tile(s.pixels, i, s.pred, 'prediction'));
  await imageGrid(tiles, path, { cols: 4, tile: Math.max(128, s.pixels.w), title: `Validation (epoch ${epoch}): ground truth beside prediction` });
}
