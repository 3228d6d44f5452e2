// Detection on the shared Trainer: a few epochs on synthetic digits learn (the class loss falls), keep
// memory flat, and leave a run folder whose best checkpoint is a detect checkpoint.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import { synthDetect } from '../../src/data/synth.js';
import { readCheckpointMeta } from '../../src/engine/checkpoint.js';
import { runTraining } from '../../src/engine/trainer.js';
import { detectTask } from '../../src/tasks/detect/task.js';
import { valDetect } from '../../src/tasks/detect/val.js';
import { predictDetect } from '../../src/tasks/detect/predict.js';
import sharp from 'sharp';
import { resolveDetectData } from '../../src/data/yolo.js';
import { cocoEvaluate } from '../../src/metrics/coco-eval.js';
import { memory } from '../../src/tensor/index.js';

let dir: string;
let yaml: string;
let bestPath = '';
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kestrel-detect-train-'));
  yaml = await synthDetect({ out: join(dir, 'digits'), train: 8, val: 4, imgsz: 64, seed: 4, size: [16, 30], count: [1, 3] });
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('detection training', () => {
  it('the class loss falls, memory stays flat, and best is a detect checkpoint with its metrics', async () => {
    const before = memory().tensors;
    const tensors: number[] = [];
    const r = await runTraining(detectTask, {
      data: yaml, imgsz: 64, batch: 8, epochs: 16, warmupEpochs: 0, lr: 1e-3, weightDecay: 0, ema: false, mosaic: 0, translate: 0, scale: 0, fliplr: 0, hsvH: 0, hsvS: 0, hsvV: 0, workers: 0, project: join(dir, 'runs'), name: 't',
    }, { quiet: true, log: () => {}, onEpoch: () => void tensors.push(memory().tensors) });
    assert.equal(r.epochs, 16);
    assert.deepEqual(tensors.slice(1), Array(15).fill(tensors[1]), `live tensors by epoch: ${tensors.join(', ')}`);
    assert.equal(memory().tensors, before, 'the run freed every tensor it made');
    const rows = parse(readFileSync(join(r.dir, 'results.csv'), 'utf8'), { columns: true, cast: true }) as Record<string, number>[];
    for (const k of ['train_loss', 'train_box_loss', 'train_cls_loss', 'train_dfl_loss', 'val_box_loss', 'precision', 'recall', 'mAP50', 'mAP50-95']) assert.ok(k in rows[0]!, k);
    // One batch of the same 8 images per epoch, no augmentation: the classification term falls
    // steadily (the box terms first rise as TAL assigns more anchors to confident classes).
    assert.ok(rows[15]!.train_cls_loss! < 0.8 * rows[0]!.train_cls_loss!, `cls loss ${rows.map((x) => x.train_cls_loss!.toFixed(2)).join(' → ')}`);
    for (const row of rows) assert.ok(row.mAP50! >= row['mAP50-95']! && row.mAP50! <= 1 && row['mAP50-95']! >= 0);
    const meta = readCheckpointMeta(join(r.dir, 'weights/best.safetensors'), { task: 'detect' });
    assert.equal(meta.model.name, 'yolov8n');
    assert.deepEqual(meta.classes, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    const best = rows.find((x) => x.epoch === meta.epoch)!;
    assert.ok(Math.abs(meta.metrics!.map50! - best.mAP50!) < 1e-6);
    for (const f of ['results.png', 'train_batch.png', 'PR_curve.png', 'F1_curve.png', 'confusion_matrix.png', 'val_batch0_labels.jpg', 'val_batch0_pred.jpg']) assert.ok(existsSync(join(r.dir, f)), f);
    bestPath = r.best!.path;
  });

  it('val writes COCO files from which the COCO evaluation gives back its own 12 statistics', async () => {
    // Validation images of 80×80 at imgsz 64: boxes must come back in the files' own pixels.
    const yaml80 = await synthDetect({ out: join(dir, 'digits80'), train: 2, val: 6, imgsz: 80, seed: 9, size: [16, 30], count: [1, 3] });
    const r = await valDetect({ weights: bestPath, data: yaml80, project: join(dir, 'runs'), name: 'val', quiet: true, log: () => {} });
    const metrics = JSON.parse(readFileSync(join(r.dir, 'metrics.json'), 'utf8')) as { coco: Record<string, number>; map50: number; count: number };
    assert.equal(metrics.count, 6);
    const dt = JSON.parse(readFileSync(join(r.dir, 'predictions.json'), 'utf8')) as { image_id: number; category_id: number; bbox: number[]; score: number }[];
    const gt = JSON.parse(readFileSync(join(r.dir, 'ground_truth.json'), 'utf8')) as { images: { id: number; file_name: string }[]; annotations: { bbox: number[]; category_id: number; image_id: number }[] };
    assert.ok(dt.length > 0);
    // Ids are the files' names without extension (000000.png → 0), the same in both files.
    assert.deepEqual(gt.images.map((im) => im.id), [0, 1, 2, 3, 4, 5]);
    for (const d of dt) {
      assert.ok(gt.images.some((im) => im.id === d.image_id));
      assert.ok(d.category_id >= 0 && d.category_id < 10 && d.score > 0.001 && d.score <= 1);
      const [x, y, w, h] = d.bbox as [number, number, number, number];
      assert.ok(x >= 0 && y >= 0 && x + w <= 80.001 && y + h <= 80.001, `bbox ${d.bbox}`);
    }
    // The ground truth equals the label files, in pixels of the 80×80 originals.
    const labels = await resolveDetectData(yaml80);
    assert.equal(gt.annotations.length, labels.splits.val.boxes!.reduce((n, t) => n + t.classes.length, 0));
    const stats = cocoEvaluate(gt as never, dt).stats;
    const names = ['AP', 'AP50', 'AP75', 'AP_small', 'AP_medium', 'AP_large', 'AR1', 'AR10', 'AR100', 'AR_small', 'AR_medium', 'AR_large'];
    names.forEach((k, i) => assert.ok(Math.abs(stats[i]! - metrics.coco[k]!) < 1e-9, `${k}: ${stats[i]} vs ${metrics.coco[k]}`));
  });

  it('predict streams boxes in the original pixels, best first, and --save draws them', async () => {
    const src = join(dir, 'digits80', 'images', 'val');
    const lines = [];
    const savedTo: string[] = [];
    for await (const r of predictDetect({ weights: bestPath, source: src, conf: 0.001, save: true, project: join(dir, 'runs'), name: 'pred', onSaveDir: (d) => savedTo.push(d) })) lines.push(r);
    assert.deepEqual(savedTo, [join(dir, 'runs', 'pred')]);
    assert.equal(lines.length, 6);
    let drawn = 0;
    for (const r of lines) {
      assert.ok(!('error' in r), JSON.stringify(r));
      if ('error' in r) continue;
      const scores = r.boxes.map((b) => b.score);
      assert.deepEqual(scores, [...scores].sort((a, b) => b - a));
      for (const b of r.boxes) {
        assert.ok(b.score > 0.001 && b.label === String(b.class));
        assert.ok(b.box[0] >= 0 && b.box[1] >= 0 && b.box[2] <= 80 && b.box[3] <= 80 && b.box[2] >= b.box[0] && b.box[3] >= b.box[1], `${b.box}`);
      }
      drawn += r.boxes.length;
    }
    assert.ok(drawn > 0, 'some boxes at conf 0.001');
    const first = lines[0]!;
    const copy = await sharp(join(dir, 'runs', 'pred', '000000.png')).raw().toBuffer();
    const orig = await sharp(first.source).raw().toBuffer();
    assert.equal(copy.length, orig.length);
    assert.equal(copy.equals(orig), !('boxes' in first) || first.boxes.length === 0, 'the copy differs from the original exactly when it has boxes');
    const one = [];
    for await (const r of predictDetect({ weights: bestPath, source: src, conf: 0.001, maxDet: 1 })) one.push(r);
    assert.ok(one.every((r) => 'boxes' in r && r.boxes.length <= 1));
  });

  it('kestrel train refuses the other task\'s flags in one line', () => {
    const cli = join(process.cwd(), 'dist/src/cli/main.js');
    const run = (...args: string[]) => spawnSync(process.execPath, [cli, 'train', ...args], { encoding: 'utf8' });
    const a = run('--task', 'detect', '--data', yaml, '--label-smoothing', '0.2', '--mixup', '0.1');
    assert.equal(a.status, 1);
    assert.equal(a.stderr.trim(), 'kestrel: --label-smoothing, --mixup apply to --task classify only');
    const b = run('--data', 'mnist', '--mosaic', '0.5');
    assert.equal(b.status, 1);
    assert.equal(b.stderr.trim(), 'kestrel: --mosaic applies to --task detect only');
  });
});
