/**
 * The pictures a detection run leaves: a training batch with its boxes (train_batch.png), and for
 * the best epoch a validation batch drawn twice, with its labels and with the model's predictions
 * (val_batch0_labels.jpg beside val_batch0_pred.jpg, as Ultralytics writes them).
 */
import { join } from 'node:path';
import sharp from 'sharp';
import { writeFileAtomic } from '../../checkpoint/atomic.js';
import type { Batch } from '../../data/loader.js';
import { drawBoxes, imageGrid, imageGridPng, type DrawnBox, type GridItem } from '../../plot/index.js';
import { tidy } from '../../tensor/scope.js';
import type { ImageDetections } from './postprocess.js';

/** One image of a batch as 8-bit RGB, with boxes in its pixels. */
export interface PlotImage {
  rgb: Uint8Array;
  width: number;
  height: number;
  boxes: DrawnBox[];
}

/** Ultralytics draws predictions above this confidence in its validation pictures. */
export const PLOT_CONF = 0.25;
const LIMIT = 16;

/**
 * Up to `limit` images of a batch (0–1 floats, letterboxed) with their labels in the batch's pixels.
 * Copies the pixels out, so the batch may be disposed after.
 */
export function batchImages(batch: Batch, classes: readonly string[], limit = LIMIT): PlotImage[] {
  const [n, , h, w] = batch.images.shape as [number, number, number, number];
  const count = Math.min(n, limit);
  const rgb = tidy(() => batch.images.slice(0, 0, count).mul(255).clamp(0, 255).round().permute(0, 2, 3, 1).contiguous().to('uint8').dataSync() as Uint8Array);
  const rows = batch.boxes ? batch.boxes.toArray() : [];
  return Array.from({ length: count }, (_, i) => {
    const boxes: DrawnBox[] = [];
    for (let r = 0; r < rows.length; r += 6) {
      if (rows[r] !== i) continue;
      const cls = rows[r + 1]!;
      boxes.push({ box: [rows[r + 2]!, rows[r + 3]!, rows[r + 4]!, rows[r + 5]!], cls, label: classes[cls] ?? String(cls) });
    }
    return { rgb: rgb.slice(i * h * w * 3, (i + 1) * h * w * 3), width: w, height: h, boxes };
  });
}

/** Detections (in the image's pixels) above `conf` as drawn boxes labelled "name score". */
export function drawnDetections(d: ImageDetections, classes: readonly string[], conf = PLOT_CONF): DrawnBox[] {
  const out: DrawnBox[] = [];
  d.scores.forEach((score, i) => {
    if (score < conf) return;
    const cls = d.classes[i]!;
    const b = d.boxes.subarray(i * 4, i * 4 + 4);
    out.push({ box: [b[0]!, b[1]!, b[2]!, b[3]!], cls, label: `${classes[cls] ?? String(cls)} ${score.toFixed(2)}` });
  });
  return out;
}

async function tiles(images: readonly PlotImage[], boxes: (i: number) => readonly DrawnBox[]): Promise<GridItem[]> {
  return Promise.all(images.map(async (im, i) => {
    const png = await sharp(Buffer.from(im.rgb.buffer, im.rgb.byteOffset, im.rgb.byteLength), { raw: { width: im.width, height: im.height, channels: 3 } }).png().toBuffer();
    const { data } = await sharp(await drawBoxes(png, boxes(i))).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    return { rgb: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: im.width, height: im.height };
  }));
}

const tileEdge = (images: readonly PlotImage[]): number => Math.max(128, ...images.map((im) => im.width));

/** Up to 16 images of a batch (0–1 floats) with their boxes and class names, as one grid. */
export async function writeDetectBatch(batch: Batch, classes: readonly string[], path: string, limit = LIMIT): Promise<void> {
  const images = batchImages(batch, classes, limit);
  await imageGrid(await tiles(images, (i) => images[i]!.boxes), path, { cols: 4, tile: tileEdge(images), title: 'Training batch (augmented) with its boxes' });
}

/**
 * `<dir>/val_batch0_labels.jpg` (the images with their labels) and `<dir>/val_batch0_pred.jpg` (the
 * same images with the predictions above PLOT_CONF), each written atomically.
 */
export async function writeValBatch(images: readonly PlotImage[], predicted: readonly DrawnBox[][], dir: string, epoch: number): Promise<void> {
  if (images.length === 0) return;
  const write = async (name: string, title: string, boxes: (i: number) => readonly DrawnBox[]): Promise<void> => {
    const png = await imageGridPng(await tiles(images, boxes), { cols: 4, tile: tileEdge(images), title });
    writeFileAtomic(join(dir, name), [await sharp(png).jpeg({ quality: 90 }).toBuffer()]);
  };
  await write('val_batch0_labels.jpg', 'Validation batch: labels', (i) => images[i]!.boxes);
  await write('val_batch0_pred.jpg', `Validation batch: predictions (epoch ${epoch}, score ≥ ${PLOT_CONF})`, (i) => predicted[i] ?? []);
}
