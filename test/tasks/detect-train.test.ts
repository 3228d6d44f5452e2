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
import { memory } from '../../src/tensor/index.js';

let dir: string;
let yaml: string;
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
    for (const f of ['results.png', 'train_batch.png', 'PR_curve.png', 'F1_curve.png', 'confusion_matrix.png']) assert.ok(existsSync(join(r.dir, f)), f);
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
