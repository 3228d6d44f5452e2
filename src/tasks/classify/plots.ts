/** The pictures a training run leaves behind: curves, confusion matrix, a sample of a batch. */
import type { Batch } from '../../data/loader.js';
import type { RunDir } from '../../engine/run-dir.js';
import type { ClassificationMetrics } from '../../metrics/classify.js';
import { confusionMatrixPng, imageGrid, trainingCurves } from '../../plot/index.js';
import { tensor } from '../../tensor/creation.js';
import { tidy } from '../../tensor/scope.js';
import type { Tensor } from '../../tensor/tensor.js';

export async function writeTrainPlots(run: RunDir, report: ClassificationMetrics, isBest: boolean, classes: string[]): Promise<void> {
  await trainingCurves(run.rows as Record<string, number>[], run.file('results.png'));
  if (isBest) await confusionMatrixPng(report.confusionMatrix, classes, run.file('confusion_matrix.png'), { title: 'Confusion matrix (best epoch, val)' });
}

/** Normalised NCHW float images back to 8-bit RGB tiles for display. */
export function toRgbTiles(images: Tensor, mean: number[], std: number[], limit = 16): { rgb: Uint8Array; width: number; height: number }[] {
  const [n, c, h, w] = images.shape as [number, number, number, number];
  const count = Math.min(n, limit);
  const data = tidy(() => {
    let x = images.slice(0, 0, count);
    const m = tensor(mean).reshape(1, c, 1, 1);
    const s = tensor(std).reshape(1, c, 1, 1);
    x = x.mul(s).add(m).mul(255).clamp(0, 255).round();
    if (c === 1) x = x.expand(count, 3, h, w);
    return x.permute(0, 2, 3, 1).contiguous().to('uint8').dataSync() as Uint8Array;
  });
  const size = h * w * 3;
  return Array.from({ length: count }, (_, i) => ({ rgb: data.subarray(i * size, (i + 1) * size), width: w, height: h }));
}

export async function writeSampleGrid(path: string, batch: Batch, classes: string[], mean: number[], std: number[]): Promise<void> {
  const labels = batch.labels.toArray();
  const tiles = toRgbTiles(batch.images, mean, std).map((t, i) => ({ ...t, label: classes[labels[i]!] ?? String(labels[i]) }));
  await imageGrid(tiles, path, { cols: 4, tile: Math.max(96, tiles[0]?.width ?? 96), title: 'Training batch (augmented)' });
}
