// Acceptance: a generated ImageFolder (with a corrupt and a non-image file) goes through
// `kestrel train` → `kestrel val` → `kestrel predict`, and the reported metrics are recomputed
// from predictions.csv.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import { CLASSES, writeShapesFolder } from './shapes.js';

const CLI = join(process.cwd(), 'dist/src/cli/main.js');
let root: string;

function run(args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: root, encoding: 'utf8', timeout: 240_000 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'kestrel-cls-'));
  await writeShapesFolder(join(root, 'data'), { train: 24, val: 8 });
  writeFileSync(join(root, 'data/train/circle/broken.jpg'), Buffer.from('not a jpeg at all, just bytes'));
  writeFileSync(join(root, 'data/train/square/notes.txt'), 'a stray file');
});

after(() => rmSync(root, { recursive: true, force: true }));

describe('kestrel train → val → predict on an ImageFolder', () => {
  const runDir = (): string => join(root, 'runs/t');

  it('train writes the run folder and reports the skipped files', () => {
    const r = run(['train', '--data', 'data', '--model', 'smallcnn', '--imgsz', '32', '--epochs', '4', '--batch', '8', '--augment', 'light', '--workers', '1', '--project', 'runs', '--name', 't']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /skipped 2 unreadable file/);
    for (const f of ['args.yaml', 'results.csv', 'train.log', 'results.png', 'confusion_matrix.png', 'train_batch.png', 'weights/last.safetensors', 'weights/best.safetensors']) {
      assert.ok(existsSync(join(runDir(), f)), `${f} exists`);
    }
    const log = readFileSync(join(runDir(), 'train.log'), 'utf8');
    assert.match(log, /broken\.jpg/);
    assert.match(log, /notes\.txt/);
    const rows = parse(readFileSync(join(runDir(), 'results.csv'), 'utf8'), { columns: true }) as Record<string, string>[];
    assert.deepEqual(rows.map((x) => Number(x.epoch)), [1, 2, 3, 4]);
    for (const k of ['train_loss', 'val_loss', 'val_accuracy', 'lr', 'seconds']) assert.ok(Number.isFinite(Number(rows[0]![k])), k);
    assert.ok(readdirSync(join(runDir(), 'weights')).every((f) => !f.endsWith('.tmp')), 'no temp files left');
    // The best epoch's confusion matrix and wrong validation images, for the web UI.
    const cm = JSON.parse(readFileSync(join(runDir(), 'confusion_matrix.json'), 'utf8'));
    const errors = JSON.parse(readFileSync(join(runDir(), 'val_errors/index.json'), 'utf8'));
    assert.deepEqual(cm.classes, CLASSES);
    assert.equal(cm.epoch, errors.epoch);
    const total = cm.matrix.flat().reduce((a: number, b: number) => a + b, 0);
    const right = CLASSES.reduce((a, _, i) => a + cm.matrix[i][i], 0);
    assert.equal(total, CLASSES.length * 8);
    assert.equal(errors.total, total);
    assert.equal(errors.wrong, total - right);
    assert.equal(errors.items.length, errors.wrong);
    for (const it of errors.items) assert.ok(existsSync(join(runDir(), 'val_errors', it.file)), it.file);
  });

  it('val metrics equal the ones recomputed from predictions.csv', () => {
    const r = run(['val', '--weights', 'runs/t/weights/best.safetensors', '--data', 'data', '--split', 'val', '--workers', '1', '--project', 'runs', '--name', 'v']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /precision/);
    const dir = join(root, 'runs/v');
    const metrics = JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8'));
    assert.ok(existsSync(join(dir, 'confusion_matrix.png')));
    const preds = parse(readFileSync(join(dir, 'predictions.csv'), 'utf8'), { columns: true }) as Record<string, string>[];
    assert.equal(preds.length, CLASSES.length * 8);
    const cm = CLASSES.map(() => CLASSES.map(() => 0));
    for (const p of preds) cm[CLASSES.indexOf(p.true!)]![CLASSES.indexOf(p.pred!)]!++;
    assert.deepEqual(metrics.confusionMatrix, cm);
    const correct = CLASSES.reduce((a, _, i) => a + cm[i]![i]!, 0);
    assert.equal(metrics.accuracy, correct / preds.length);
    CLASSES.forEach((c, i) => {
      const tp = cm[i]![i]!;
      const predicted = cm.reduce((a, row) => a + row[i]!, 0);
      const actual = cm[i]!.reduce((a, b) => a + b, 0);
      const precision = predicted ? tp / predicted : 0;
      const recall = actual ? tp / actual : 0;
      const pc = metrics.perClass.find((x: { class: string }) => x.class === c);
      assert.ok(Math.abs(pc.precision - precision) < 1e-12, `precision ${c}`);
      assert.ok(Math.abs(pc.recall - recall) < 1e-12, `recall ${c}`);
      assert.ok(Math.abs(pc.f1 - (precision + recall ? (2 * precision * recall) / (precision + recall) : 0)) < 1e-12, `f1 ${c}`);
      assert.equal(pc.support, actual);
    });
    for (const p of preds) assert.ok(Number(p.confidence) > 0 && Number(p.confidence) <= 1);
    assert.ok(metrics.accuracy >= 0.8, `the model learned the classes (accuracy ${metrics.accuracy})`);
  });

  it('predict prints one JSON line per image, sorted top-k, and --save writes labelled copies', () => {
    const r = run(['predict', '--weights', 'runs/t/weights/best.safetensors', '--source', 'data/val', '--topk', '2', '--workers', '1', '--save', '--project', 'runs', '--name', 'p']);
    assert.equal(r.code, 0, r.err);
    const lines = r.out.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines.length, CLASSES.length * 8);
    for (const l of lines) {
      assert.equal(l.top.length, 2);
      assert.ok(CLASSES.includes(l.top[0].label));
      assert.ok(l.top[0].score >= l.top[1].score);
    }
    const saved = (readdirSync(join(root, 'runs/p'), { recursive: true }) as string[]).filter((f) => /\.(png|jpg)$/.test(f));
    assert.equal(saved.length, CLASSES.length * 8, 'a labelled copy per image, kept in its class folder');
  });

  it('models lists the zoo', () => {
    const r = run(['models', '--json']);
    assert.equal(r.code, 0, r.err);
    const names = r.out.trim().split('\n').map((l) => JSON.parse(l).name);
    assert.deepEqual(names.sort(), [
      'deeplabv3', 'deeplabv3_mobilenet_v3_large', 'deeplabv3_resnet50', 'efficientnet_b0', 'fcn_resnet50', 'lraspp', 'lraspp_mobilenet_v3_large',
      'mobilenet_v2', 'mobilenet_v3_small', 'resnet18', 'resnet34', 'resnet50', 'smallcnn', 'unet', 'vit_tiny', 'yolov8', 'yolov8n', 'yolov8s',
    ]);
  });

  it('bad input: one line, non-zero exit, no run folder', () => {
    const r = run(['train', '--data', 'nowhere', '--project', 'runs', '--name', 'bad']);
    assert.equal(r.code, 1);
    assert.equal(r.err.trim().split('\n').length, 1, r.err);
    assert.match(r.err, /^kestrel: .*nowhere/);
    assert.ok(!existsSync(join(root, 'runs/bad')));
    const p = run(['predict', '--weights', 'runs/t/weights/nope.safetensors', '--source', 'data/val']);
    assert.equal(p.code, 1);
    assert.match(p.err, /nope\.safetensors/);
  });
});
