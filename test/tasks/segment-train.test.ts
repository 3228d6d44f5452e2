// Segmentation on the shared Trainer, end to end on synthetic cells: training learns and keeps memory
// flat; val's metrics equal those recomputed from the mask PNGs it wrote (here and by scikit-learn);
// predict writes masks of the images' own size; the .onnx export gives the checkpoint's masks.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import sharp from 'sharp';
import { decodeMask } from '../../src/data/image.js';
import { synthSegment } from '../../src/data/synth-segment.js';
import { loadSafetensors } from '../../src/checkpoint/index.js';
import { readCheckpointMeta } from '../../src/engine/checkpoint.js';
import { runTraining } from '../../src/engine/trainer.js';
import { exportCheckpoint } from '../../src/export/export.js';
import { SegmentConfusion } from '../../src/metrics/segment.js';
import { segmentTask } from '../../src/tasks/segment/task.js';
import { predictSegment, type SegmentPrediction } from '../../src/tasks/segment/predict.js';
import { valSegment } from '../../src/tasks/segment/val.js';
import { memory } from '../../src/tensor/index.js';
import { checkOnnxFiles, onnxCheckerMissing } from '../onnx/ort.js';

const PY = '/usr/bin/python3';
const CELLS = ['background', 'nucleus', 'elongated', 'dividing'];
let dir: string;
let yaml: string;
let yaml80: string;
let bestPath = '';

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kestrel-segment-train-'));
  yaml = await synthSegment({ out: join(dir, 'cells'), kind: 'cells', train: 16, val: 4, imgsz: 64, seed: 3 });
  // Validation frames of 80×80 for a model trained at 64: masks must come back at 80×80.
  yaml80 = await synthSegment({ out: join(dir, 'cells80'), kind: 'cells', train: 2, val: 5, imgsz: 80, seed: 5 });
});
after(() => rmSync(dir, { recursive: true, force: true }));

const collect = async (it: AsyncIterable<SegmentPrediction>): Promise<SegmentPrediction[]> => {
  const out = [];
  for await (const r of it) out.push(r);
  return out;
};

const sklearnMissing = (): string | null =>
  spawnSync(PY, ['-c', 'import sklearn, PIL'], { encoding: 'utf8' }).status === 0 ? null : 'the recomputation needs Debian python3-sklearn in /usr/bin/python3 (scripts/setup.sh installs it)';

describe('segmentation training', () => {
  it('the loss falls, memory stays flat, and best is a segment checkpoint with its metrics', async () => {
    const before = memory().tensors;
    const tensors: number[] = [];
    const r = await runTraining(segmentTask, {
      data: yaml, imgsz: 64, depth: 2, width: 8, batch: 4, epochs: 8, warmupEpochs: 0, lr: 3e-3, weightDecay: 0, degrees: 0, translate: 0, scale: 0, hsvH: 0, hsvS: 0, hsvV: 0, workers: 0, project: join(dir, 'runs'), name: 't',
    }, { quiet: true, log: () => {}, onEpoch: () => void tensors.push(memory().tensors) });
    assert.equal(r.epochs, 8);
    assert.deepEqual(tensors.slice(1), Array(7).fill(tensors[1]), `live tensors by epoch: ${tensors.join(', ')}`);
    assert.equal(memory().tensors, before, 'the run freed every tensor it made');
    const rows = parse(readFileSync(join(r.dir, 'results.csv'), 'utf8'), { columns: true, cast: true }) as Record<string, number>[];
    for (const k of ['train_loss', 'train_ce_loss', 'train_dice_loss', 'train_aux_loss', 'val_loss', 'val_ce_loss', 'val_dice_loss', 'mIoU', 'mean_dice', 'pixel_accuracy']) assert.ok(k in rows[0]!, k);
    assert.ok(!('val_aux_loss' in rows[0]!), 'deep supervision trains only: validation has no coarse heads');
    for (const row of rows) {
      assert.ok(Math.abs(row.train_loss! - row.train_ce_loss! - row.train_dice_loss! - row.train_aux_loss!) < 1e-4, 'train_loss is the sum of its terms, deep supervision included');
      assert.ok(row.mIoU! >= 0 && row.mIoU! <= 1 && row.pixel_accuracy! >= 0 && row.pixel_accuracy! <= 1);
    }
    assert.ok(rows[7]!.train_loss! < 0.8 * rows[0]!.train_loss!, `train loss ${rows.map((x) => x.train_loss!.toFixed(3)).join(' → ')}`);
    const meta = readCheckpointMeta(join(r.dir, 'weights/best.safetensors'), { task: 'segment' });
    assert.equal(meta.format, 'kestrel.segment/1');
    assert.deepEqual(meta.classes, CELLS);
    assert.deepEqual([meta.model.name, meta.model.inChannels, meta.model.depth, meta.model.width, meta.preprocess.imgsz, meta.preprocess.channels], ['unet', 1, 2, 8, 64, 1]);
    const best = rows.find((x) => x.epoch === meta.epoch)!;
    assert.equal(best.mIoU, Math.max(...rows.map((x) => x.mIoU!)), 'best is the epoch of the highest mIoU');
    assert.ok(Math.abs(meta.metrics!.miou! - best.mIoU!) < 1e-6);
    for (const f of ['results.png', 'train_batch.png', 'val_batch.png', 'iou_per_class.png', 'confusion_matrix.png', 'val_metrics.json']) assert.ok(existsSync(join(r.dir, f)), f);
    bestPath = r.best!.path;
  });

  it('val writes mask PNGs from which its mIoU, IoU, Dice and pixel accuracy follow exactly', async (t) => {
    const r = await valSegment({ weights: bestPath, data: yaml80, project: join(dir, 'runs'), name: 'val', quiet: true, log: () => {} });
    const m = JSON.parse(readFileSync(join(r.dir, 'metrics.json'), 'utf8')) as {
      count: number; miou: number; meanDice: number; pixelAccuracy: number; confusionMatrix: number[][];
      perClass: { iou: number | null; dice: number | null }[]; files: { image: string; truth: string; prediction: string }[];
    };
    assert.equal(m.count, 5);
    assert.deepEqual(m.files.map((f) => f.prediction), ['000000', '000001', '000002', '000003', '000004'].map((s) => join('masks', `${s}.png`)));
    // Recomputed here from the PNGs alone: the same confusion matrix, pixel for pixel.
    const cm = new SegmentConfusion(4);
    for (const f of m.files) {
      const [truth, pred] = [await decodeMask(f.truth), await decodeMask(join(r.dir, f.prediction))];
      assert.deepEqual([pred.width, pred.height], [80, 80]);
      cm.update(truth.data, pred.data);
    }
    assert.deepEqual(cm.matrix, m.confusionMatrix);
    assert.equal(cm.matrix.flat().reduce((a, b) => a + b, 0), r.metrics.pixels);
    const missing = sklearnMissing();
    if (missing) {
      t.skip(missing);
      return;
    }
    const py = spawnSync(PY, [join('test', 'fixtures', 'recompute_segment_val.py'), r.dir], { encoding: 'utf8', cwd: process.cwd() });
    assert.equal(py.status, 0, py.stderr);
    const sk = JSON.parse(py.stdout) as { images: number; confusion_matrix: number[][]; iou: number[]; dice: number[]; present: number[]; miou: number; mean_dice: number; pixel_accuracy: number };
    assert.equal(sk.images, 5);
    assert.deepEqual(sk.confusion_matrix, m.confusionMatrix);
    const close = (a: number, b: number, what: string): void => assert.ok(Math.abs(a - b) <= 1e-9, `${what}: ${a} vs scikit-learn ${b}`);
    close(m.miou, sk.miou, 'mIoU');
    close(m.meanDice, sk.mean_dice, 'mean Dice');
    close(m.pixelAccuracy, sk.pixel_accuracy, 'pixel accuracy');
    m.perClass.forEach((c, k) => {
      assert.equal(c.iou === null, !sk.present.includes(k), `class ${k} scored iff present`);
      close(c.iou ?? 0, sk.iou[k]!, `IoU of class ${k}`);
      close(c.dice ?? 0, sk.dice[k]!, `Dice of class ${k}`);
    });
  });

  it('predict writes a mask PNG per image at its own size, its class shares, probabilities and overlays', async () => {
    const src = join(dir, 'cells80', 'images', 'val');
    const saved: string[] = [];
    const lines = await collect(predictSegment({ weights: bestPath, source: src, probs: true, save: true, project: join(dir, 'runs'), name: 'pred', onSaveDir: (d) => saved.push(d) }));
    assert.equal(lines.length, 5);
    assert.deepEqual(saved, [join(dir, 'runs', 'pred', 'overlays')], 'the CLI prints where the overlays went');
    for (const r of lines) {
      assert.ok(!('error' in r), JSON.stringify(r));
      if ('error' in r) continue;
      const mask = await decodeMask(r.mask);
      assert.deepEqual([mask.width, mask.height], [80, 80]);
      const counts = CELLS.map((_, k) => mask.data.filter((v) => v === k).length);
      assert.equal(counts.reduce((a, b) => a + b, 0), 6400, 'every pixel is a class');
      assert.deepEqual(Object.keys(r.classes), CELLS);
      CELLS.forEach((c, k) => assert.ok(Math.abs(r.classes[c]! - counts[k]! / 6400) < 1e-6, c));
      // The .npy: 4×80×80 float32 after its header; each pixel's probabilities sum to 1 and peak at the mask's class.
      const npy = readFileSync(r.probs!);
      const headerLen = npy.readUInt16LE(8);
      assert.match(npy.subarray(10, 10 + headerLen).toString('latin1'), /'descr': '<f4', 'fortran_order': False, 'shape': \(4, 80, 80\)/);
      const p = new Float32Array(npy.buffer.slice(npy.byteOffset + 10 + headerLen, npy.byteOffset + npy.length));
      assert.equal(p.length, 4 * 6400);
      for (let i = 0; i < 6400; i++) {
        const v = [0, 1, 2, 3].map((k) => p[k * 6400 + i]!);
        assert.ok(Math.abs(v.reduce((a, b) => a + b, 0) - 1) < 1e-5);
        assert.equal(v.indexOf(Math.max(...v)), mask.data[i]);
      }
      const overlay = join(dir, 'runs', 'pred', 'overlays', r.source.slice(src.length + 1));
      const meta = await sharp(overlay).metadata();
      assert.deepEqual([meta.width, meta.height, meta.channels], [80, 80, 3]);
    }
  });

  it('the .onnx export passes the checker and predicts the checkpoint\'s masks on ≥ 99.9 % of pixels', async (t) => {
    const onnx = join(dir, 'best.onnx');
    const e = await exportCheckpoint(bestPath, { output: onnx, dynamicBatch: true });
    assert.deepEqual(e.output.shape, ['N', 4, 64, 64]);
    const src = join(dir, 'cells80', 'images', 'val');
    const torch = await collect(predictSegment({ weights: bestPath, source: src, project: join(dir, 'runs'), name: 'p-torch' }));
    const ort = await collect(predictSegment({ weights: onnx, source: src, project: join(dir, 'runs'), name: 'p-onnx' }));
    let [same, total] = [0, 0];
    for (const [i, a] of torch.entries()) {
      const b = ort[i]!;
      assert.ok('mask' in a && 'mask' in b && a.source === b.source);
      if (!('mask' in a) || !('mask' in b)) continue;
      const [x, y] = [await decodeMask(a.mask), await decodeMask(b.mask)];
      for (let j = 0; j < x.data.length; j++) same += x.data[j] === y.data[j] ? 1 : 0;
      total += x.data.length;
    }
    assert.equal(total, 5 * 6400);
    assert.ok(same / total >= 0.999, `${same} of ${total} pixels agree`);
    const missing = onnxCheckerMissing();
    if (missing) {
      t.skip(missing);
      return;
    }
    assert.deepEqual(checkOnnxFiles([onnx]), {});
  });

  it('a stop in the middle of an epoch (augmentation and EMA on) resumes bit for bit', async () => {
    const quiet = { quiet: true, log: (): void => {} };
    const base = { data: yaml, imgsz: 64, depth: 2, width: 8, batch: 4, epochs: 2, ema: true, fliplr: 0.5, workers: 0, project: join(dir, 'runs') };
    const rows = (d: string): Record<string, string>[] => (parse(readFileSync(join(d, 'results.csv'), 'utf8'), { columns: true }) as Record<string, string>[]).map(({ seconds: _s, ...r }) => r);
    const full = await runTraining(segmentTask, { ...base, name: 'full' }, quiet);
    const part = await runTraining(segmentTask, { ...base, name: 'part' }, { ...quiet, onStep: (e, st) => !(e === 2 && st === 2) });
    assert.equal(part.interrupted, true);
    await runTraining(segmentTask, { resume: part.dir }, quiet);
    assert.deepEqual(rows(part.dir), rows(full.dir));
    const a = loadSafetensors(join(full.dir, 'weights/last.safetensors')).tensors;
    const b = loadSafetensors(join(part.dir, 'weights/last.safetensors')).tensors;
    assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
    for (const [k, t] of a) assert.deepEqual(t.toArray(), b.get(k)!.toArray(), k);
    for (const t of [...a.values(), ...b.values()]) t.dispose();
  });

  it('kestrel train refuses another task\'s flags in one line, naming the task', () => {
    const cli = join(process.cwd(), 'dist/src/cli/main.js');
    const run = (...args: string[]) => spawnSync(process.execPath, [cli, 'train', ...args], { encoding: 'utf8' });
    const a = run('--task', 'segment', '--data', yaml, '--mosaic', '0.5');
    assert.equal(a.stderr.trim(), 'kestrel: --mosaic applies to --task detect only');
    const b = run('--task', 'detect', '--data', yaml, '--dice', '2');
    assert.equal(b.stderr.trim(), 'kestrel: --dice applies to --task segment only');
    const c = run('--data', 'mnist', '--depth', '3');
    assert.equal(c.stderr.trim(), 'kestrel: --depth applies to --task segment only');
    const d = run('--task', 'segment', '--data', yaml, '--model', 'resnet18');
    assert.match(d.stderr.trim(), /^kestrel: 'resnet18' is not a segmentation model \(segmentation models: unet, /);
    assert.equal(d.status, 1);
    // Deep supervision heads exist on unet only: a weight for another model is refused, not ignored.
    const e = run('--task', 'segment', '--data', yaml, '--model', 'lraspp', '--aux', '2', '--project', mkdtempSync(join(tmpdir(), 'kestrel-aux-')));
    assert.equal(e.stderr.trim(), 'kestrel: --aux: deep supervision heads are a unet option; lraspp has none (use --aux 0 or --model unet)');
    assert.equal(e.status, 1);
  });
});
