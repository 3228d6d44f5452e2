// A detection run on the runs API: its task, the best epoch the trainer kept (from the best
// checkpoint's header, else Ultralytics' fitness on results.csv: 0.1·mAP50 + 0.9·mAP50-95), its
// curves' columns, PR/F1 curves and confusion matrix, and the validation batch drawn with its labels
// beside the predictions; a detection val run's mAP from metrics.json. Classification runs keep
// their own numbers (runs-api.test.ts, runs-best.test.ts).
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { saveSafetensors } from '../../src/checkpoint/index.js';
import { toCsv } from '../../src/engine/run-dir.js';
import { tensor } from '../../src/tensor/index.js';
import { tempDir, writeImage } from '../data/make-images.js';
import { json, serveUi } from './fixtures.js';

const tmp = tempDir('ui-runs-detect');
const project = join(tmp.dir, 'runs');
let app: FastifyInstance;
let url: string;

const row = (epoch: number, map50: number, map50_95: number): Record<string, number> => ({
  epoch, train_loss: 9 - epoch, train_box_loss: 3 - epoch / 2, train_cls_loss: 4 - epoch / 2, train_dfl_loss: 2 - epoch / 4,
  val_box_loss: 3.5 - epoch / 2, val_cls_loss: 4.5 - epoch / 2, val_dfl_loss: 2.5 - epoch / 4, precision: 0.5, recall: 0.4, mAP50: map50, 'mAP50-95': map50_95, lr: 0.001, seconds: 4,
});
// By mAP50 epoch 2 leads; by fitness epoch 3 (0.1·0.6 + 0.9·0.45 = 0.465 > 0.1·0.8 + 0.9·0.4 = 0.44).
const ROWS = [row(1, 0.3, 0.1), row(2, 0.8, 0.4), row(3, 0.6, 0.45), row(4, 0.5, 0.3)];

before(async () => {
  const ckpt = join(project, 'detect', 'train');
  mkdirSync(join(ckpt, 'weights'), { recursive: true });
  writeFileSync(join(ckpt, 'args.yaml'), 'task: detect\ndata: digits/data.yaml\nmodel: yolov8n\nepochs: 5\nimgsz: 64\n');
  writeFileSync(join(ckpt, 'results.csv'), toCsv(ROWS));
  // The trainer's best is epoch 2 here (say, EMA weights scored higher than results.csv shows).
  saveSafetensors(join(ckpt, 'weights', 'best.safetensors'), { 'w': tensor([1, 2]) }, {
    kestrel: JSON.stringify({ format: 'kestrel.detect/1', task: 'detect', epoch: 2, metrics: { precision: 0.5, recall: 0.4, map50: 0.81, map50_95: 0.41 } }),
  });
  for (const f of ['results.png', 'PR_curve.png', 'F1_curve.png', 'confusion_matrix.png', 'train_batch.png']) await writeImage(join(ckpt, f), 20, 10, 1, 'png');
  for (const f of ['val_batch0_labels.jpg', 'val_batch0_pred.jpg', 'val_batch1_labels.jpg']) await writeImage(join(ckpt, f), 20, 10, 2, 'jpeg');

  // No task in args.yaml, no checkpoint: the columns say detection, the fitness picks the best.
  const csv = join(project, 'detect', 'old');
  mkdirSync(csv, { recursive: true });
  writeFileSync(join(csv, 'args.yaml'), 'model: yolov8n\nepochs: 4\n');
  writeFileSync(join(csv, 'results.csv'), toCsv(ROWS));

  // A detection val run, metrics.json as `kestrel val` writes it.
  const val = join(project, 'detect', 'val');
  mkdirSync(val, { recursive: true });
  writeFileSync(join(val, 'metrics.json'), JSON.stringify({
    weights: 'runs/detect/train/weights/best.safetensors', data: 'digits/data.yaml', split: 'val', count: 4, images: 4, instances: 9,
    precision: 0.61, recall: 0.52, map50: 0.7, map75: 0.55, map50_95: 0.5, fitness: 0.52, coco: { AP: 0.49 },
    perClass: [{ index: 3, name: '3', images: 2, instances: 3, precision: 0.6, recall: 0.5, ap50: 0.7, ap50_95: 0.5 }],
    confusionMatrix: Array.from({ length: 11 }, () => Array(11).fill(0)),
  }));
  await writeImage(join(val, 'PR_curve.png'), 20, 10, 3, 'png');
  ({ app, url } = await serveUi({ project }));
});
after(async () => {
  await app.close();
  tmp.remove();
});

describe('a detection run on the runs API', () => {
  it('says its task and takes the best epoch and its mAP from the best checkpoint', async () => {
    const { status, body } = await json(`${url}/v1/runs/${encodeURIComponent('detect/train')}`);
    assert.equal(status, 200);
    assert.equal(body.task, 'detect');
    assert.equal(body.kind, 'train');
    assert.deepEqual(body.best, { epoch: 2, mAP50: 0.81, 'mAP50-95': 0.41 });
    assert.deepEqual(body.results, ROWS);
    assert.deepEqual(body.final, ROWS[3]);
  });

  it('lists its PR and F1 curves, confusion matrix, and the validation batches that have both pictures', async () => {
    const { body } = await json(`${url}/v1/runs/${encodeURIComponent('detect/train')}`);
    assert.deepEqual(body.plots, ['results.png', 'confusion_matrix.png', 'train_batch.png', 'PR_curve.png', 'F1_curve.png']);
    assert.deepEqual(body.valBatches, [{ labels: 'val_batch0_labels.jpg', pred: 'val_batch0_pred.jpg' }]);
    assert.equal(body.confusion, null, 'a detection matrix is a picture, with its background row');
    const img = await fetch(`${url}/v1/runs/${encodeURIComponent('detect/train')}/files/val_batch0_pred.jpg`);
    assert.equal(img.status, 200);
    assert.equal(img.headers.get('content-type'), 'image/jpeg');
  });

  it('without a task in args.yaml or a checkpoint, is known by its columns and its best is the fittest row', async () => {
    const runs = (await json(`${url}/v1/runs`)).body.runs as { id: string; task: string; best: unknown }[];
    const old = runs.find((r) => r.id === 'detect/old')!;
    assert.equal(old.task, 'detect');
    assert.deepEqual(old.best, { epoch: 3, mAP50: 0.6, 'mAP50-95': 0.45 });
  });

  it('a detection val run gives its precision, recall and mAP', async () => {
    const { body } = await json(`${url}/v1/runs/${encodeURIComponent('detect/val')}`);
    assert.equal(body.task, 'detect');
    assert.equal(body.kind, 'val');
    assert.deepEqual(body.final, { precision: 0.61, recall: 0.52, mAP50: 0.7, 'mAP50-95': 0.5, count: 4 });
    assert.equal(body.confusion, null);
    assert.deepEqual(body.plots, ['PR_curve.png']);
    assert.deepEqual(body.valBatches, []);
  });
});
