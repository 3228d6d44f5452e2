/**
 * The pictures of segmentation: masks coloured over their images (predict --save, the validation
 * batch with ground truth beside prediction) and the training batch with its masks, coloured by
 * src/plot/mask-overlay.ts (which the web UI's predict page shares).
 */
import { join } from 'node:path';
import sharp from 'sharp';
import { writeFileAtomic } from '../../checkpoint/atomic.js';
import type { Batch } from '../../data/loader.js';
import { imageGrid, imageGridPng, overlayMask, type GridItem } from '../../plot/index.js';
import { tidy } from '../../tensor/scope.js';

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

/**
 * `<dir>/val_batch0_labels.jpg` (the images with their ground-truth masks) and
 * `<dir>/val_batch0_pred.jpg` (with the predicted ones), as detection writes its pair, so the runs
 * page shows them side by side; each written atomically.
 */
export async function writeValPair(s: ValSamples, dir: string, epoch: number): Promise<void> {
  if (s.count === 0) return;
  const write = async (name: string, title: string, masks: Uint8Array): Promise<void> => {
    const tiles = Array.from({ length: s.count }, (_, i) => tile(s.pixels, i, masks, ''));
    const png = await imageGridPng(tiles, { cols: 4, tile: Math.max(128, s.pixels.w), title });
    writeFileAtomic(join(dir, name), [await sharp(png).jpeg({ quality: 90 }).toBuffer()]);
  };
  await write('val_batch0_labels.jpg', 'Validation batch: ground truth', s.truth);
  await write('val_batch0_pred.jpg', `Validation batch: predictions (epoch ${epoch})`, s.pred);
}
