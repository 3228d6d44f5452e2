// Segmentation runs on the runs API: a training run without args.yaml is known by its mIoU column
// and its best epoch is the trainer's (highest mIoU, the first of equals) when no best checkpoint
// says otherwise; a best checkpoint's epoch and metrics win; a `kestrel val` run's headline numbers
// are its mIoU, mean Dice and pixel accuracy, and its pixel confusion matrix is left to the picture.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { saveSafetensors } from '../../src/checkpoint/index.js';
import { toCsv } from '../../src/engine/run-dir.js';
import { tensor } from '../../src/tensor/index.js';
import { listRuns, readRun } from '../../src/ui/runs.js';
import { tempDir } from '../data/make-images.js';

const row = (epoch: number, mIoU: number): Record<string, number> => ({ epoch, train_loss: 2 / epoch, train_ce_loss: 1 / epoch, train_dice_loss: 1 / epoch, val_loss: 1, mIoU, mean_dice: mIoU + 0.1, pixel_accuracy: 0.9, lr: 0.001, seconds: 1 });

describe('segmentation runs on the runs API', () => {
  const tmp = tempDir('ui-runs-segment');
  const project = join(tmp.dir, 'runs');

  it('knows a run by its columns, picks the best epoch by mIoU, lets the checkpoint win, and reads a val run', () => {
    const csv = join(project, 'csv');
    mkdirSync(csv, { recursive: true });
    writeFileSync(join(csv, 'results.csv'), toCsv([row(1, 0.2), row(2, 0.5), row(3, 0.5), row(4, 0.4)]));
    for (const f of ['iou_per_class.png', 'confusion_matrix.png', 'val_batch0_labels.jpg', 'val_batch0_pred.jpg']) writeFileSync(join(csv, f), 'x');
    const ckpt = join(project, 'ckpt');
    mkdirSync(join(ckpt, 'weights'), { recursive: true });
    writeFileSync(join(ckpt, 'args.yaml'), 'task: segment\nmodel: unet\nepochs: 4\n');
    writeFileSync(join(ckpt, 'results.csv'), toCsv([row(1, 0.2), row(2, 0.5), row(3, 0.5)]));
    saveSafetensors(join(ckpt, 'weights', 'best.safetensors'), { w: tensor([1]) }, { kestrel: JSON.stringify({ format: 'kestrel.segment/1', task: 'segment', epoch: 3, metrics: { miou: 0.5000001, mean_dice: 0.61, pixel_accuracy: 0.91 } }) });
    const val = join(project, 'val');
    mkdirSync(val, { recursive: true });
    writeFileSync(join(val, 'args.yaml'), 'task: segment\n');
    writeFileSync(join(val, 'metrics.json'), JSON.stringify({ weights: 'best.onnx', data: 'cells/data.yaml', count: 5, miou: 0.75, meanDice: 0.8, pixelAccuracy: 0.95, perClass: [{ class: 'background' }, { class: 'cell' }], confusionMatrix: [[900, 10], [5, 85]] }));

    const runs = new Map(listRuns(project).map((r) => [r.id, r]));
    assert.equal(runs.get('csv')!.task, 'segment');
    assert.deepEqual(runs.get('csv')!.best, { epoch: 2, mIoU: 0.5, mean_dice: 0.6, pixel_accuracy: 0.9 });
    assert.deepEqual(runs.get('ckpt')!.best, { epoch: 3, mIoU: 0.5000001, mean_dice: 0.61, pixel_accuracy: 0.91 });
    assert.deepEqual([runs.get('val')!.kind, runs.get('val')!.final], ['val', { mIoU: 0.75, mean_dice: 0.8, pixel_accuracy: 0.95, count: 5 }]);

    const detail = readRun(project, 'csv');
    assert.deepEqual(detail.plots, ['confusion_matrix.png', 'iou_per_class.png']);
    assert.deepEqual(detail.valBatches, [{ labels: 'val_batch0_labels.jpg', pred: 'val_batch0_pred.jpg' }]);
    assert.equal(readRun(project, 'val').confusion, null);
    tmp.remove();
  });
});
