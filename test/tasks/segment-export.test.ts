// The rest of segmentation's export, on a small trained U-Net (synthetic cells): `kestrel export
// --int8` calibrates on the training images and its masks agree with the float .onnx's on ≥ 99 % of
// pixels; `kestrel val` on the .onnx files gives the checkpoint's metrics (within 1e-3 mIoU); and
// `kestrel predict` gives an unreadable image its own error line, in the words classification and
// detection use, beside the good images' lines.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeMask } from '../../src/data/image.js';
import { synthSegment } from '../../src/data/synth-segment.js';
import { runTraining } from '../../src/engine/trainer.js';
import { readContract } from '../../src/onnx/contract.js';
import { readOnnxFile } from '../../src/runtime/session.js';
import { segmentTask } from '../../src/tasks/segment/task.js';
import { checkOnnxFiles, onnxCheckerMissing } from '../onnx/ort.js';

const CLI = join(process.cwd(), 'dist/src/cli/main.js');
let dir: string;
let best: string;

const kestrel = (...args: string[]): { code: number | null; out: string; err: string } => {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: dir, timeout: 300_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
};
const ok = (...args: string[]): string => {
  const r = kestrel(...args);
  assert.equal(r.code, 0, `kestrel ${args.join(' ')}: ${r.err}`);
  return r.out;
};

type Line = { source: string; mask?: string; classes?: Record<string, number>; error?: string };
const lines = (out: string): Line[] => out.trim().split('\n').map((l) => JSON.parse(l) as Line);

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kestrel-segment-export-'));
  const yaml = await synthSegment({ out: join(dir, 'cells'), kind: 'cells', train: 16, val: 4, imgsz: 64, seed: 3 });
  await synthSegment({ out: join(dir, 'cells80'), kind: 'cells', train: 1, val: 5, imgsz: 80, seed: 5 });
  const r = await runTraining(segmentTask, {
    // aux 0: in 32 steps deep supervision's loss (weight 5 by default) would crowd out the full-resolution one this test needs learnt.
    data: yaml, imgsz: 64, depth: 2, width: 8, batch: 4, epochs: 8, warmupEpochs: 0, lr: 3e-3, weightDecay: 0, degrees: 0, translate: 0, scale: 0, hsvH: 0, hsvS: 0, hsvV: 0, aux: 0, workers: 0, project: join(dir, 'runs'), name: 't',
  }, { quiet: true, log: () => {} });
  best = r.best!.path;
  ok('export', '--weights', best, '--dynamic-batch', '--output', 'fp32.onnx');
  // Calibration: the checkpoint's own training images (16, fewer than one calibration batch of 32).
  ok('export', '--weights', best, '--dynamic-batch', '--int8', '--output', 'int8.onnx');
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('segmentation export, int8 and val of .onnx files', () => {
  it('--int8 writes a quantized file whose masks agree with the float .onnx on ≥ 99 % of pixels', async (t) => {
    assert.equal(readContract(readOnnxFile(join(dir, 'int8.onnx')).model.metadataProps ?? [])!.precision, 'int8');
    const ops = new Set(readOnnxFile(join(dir, 'int8.onnx')).model.graph.node.map((n) => n.opType));
    assert.ok(ops.has('QuantizeLinear') && ops.has('DequantizeLinear'), [...ops].join(', '));
    const src = join(dir, 'cells80', 'images', 'val');
    const [f, q] = [lines(ok('predict', '--weights', 'fp32.onnx', '--source', src, '--name', 'f')), lines(ok('predict', '--weights', 'int8.onnx', '--source', src, '--name', 'q'))];
    assert.deepEqual(q.map((l) => l.source), f.map((l) => l.source));
    let [same, total] = [0, 0];
    const classes = new Set<number>();
    for (const [i, a] of f.entries()) {
      const [x, y] = [await decodeMask(resolve(dir, a.mask!)), await decodeMask(resolve(dir, q[i]!.mask!))];
      for (let j = 0; j < x.data.length; j++) {
        same += x.data[j] === y.data[j] ? 1 : 0;
        classes.add(x.data[j]!);
      }
      total += x.data.length;
    }
    assert.equal(total, 5 * 80 * 80);
    assert.ok(classes.size >= 3, `the float model finds ${classes.size} classes: too few for the agreement to mean much`);
    assert.ok(same / total >= 0.99, `${same} of ${total} pixels agree (${((100 * same) / total).toFixed(2)} %)`);
    const missing = onnxCheckerMissing();
    if (missing) {
      t.skip(missing);
      return;
    }
    assert.deepEqual(checkOnnxFiles([join(dir, 'int8.onnx')]), {});
  });

  it('val of the .onnx files gives the checkpoint\'s metrics: fp32 within 1e-3 mIoU, int8 within 0.02', () => {
    const metrics = (weights: string, name: string): { miou: number; meanDice: number; pixelAccuracy: number; count: number; perClass: { iou: number | null }[] } => {
      ok('val', '--weights', weights, '--data', join('cells', 'data.yaml'), '--project', 'runs', '--name', name, '--workers', '0');
      return JSON.parse(readFileSync(join(dir, 'runs', name, 'metrics.json'), 'utf8')) as ReturnType<typeof metrics>;
    };
    const [t, o, q] = [metrics(best, 'vt'), metrics('fp32.onnx', 'vo'), metrics('int8.onnx', 'vq')];
    assert.equal(t.count, 4);
    assert.equal(o.count, 4);
    assert.ok(t.miou > 0.05, `the checkpoint scores mIoU ${t.miou}: untrained`);
    assert.ok(Math.abs(o.miou - t.miou) <= 1e-3, `mIoU ${o.miou} (.onnx) vs ${t.miou} (checkpoint)`);
    assert.ok(Math.abs(o.meanDice - t.meanDice) <= 1e-3 && Math.abs(o.pixelAccuracy - t.pixelAccuracy) <= 1e-3);
    o.perClass.forEach((c, k) => assert.ok(Math.abs((c.iou ?? 0) - (t.perClass[k]!.iou ?? 0)) <= 2e-3, `class ${k}`));
    assert.ok(Math.abs(q.miou - t.miou) <= 0.02, `mIoU ${q.miou} (int8) vs ${t.miou} (checkpoint)`);
  });

  it('predict gives an unreadable image its own error line, in classify\'s and detect\'s words, and exits 1', () => {
    const src = join(dir, 'mixed');
    mkdirSync(src, { recursive: true });
    writeFileSync(join(src, 'good.png'), readFileSync(join(dir, 'cells80', 'images', 'val', '000000.png')));
    writeFileSync(join(src, 'empty.png'), '');
    writeFileSync(join(src, 'notes.png'), 'not a picture\n');
    for (const weights of [best, 'fp32.onnx']) {
      const r = kestrel('predict', '--weights', weights, '--source', src, '--workers', '0', '--name', 'mixed');
      assert.equal(r.code, 1, r.err);
      const got = new Map(lines(r.out).map((l) => [l.source.slice(src.length + 1), l]));
      assert.deepEqual([...got.keys()].sort(), ['empty.png', 'good.png', 'notes.png']);
      assert.deepEqual(got.get('empty.png'), { source: join(src, 'empty.png'), error: 'decode failed: the file is empty' });
      assert.equal(got.get('notes.png')!.error, 'decode failed: not an image (no image format Kestrel reads)');
      assert.ok(got.get('good.png')!.mask, weights);
    }
  });
});
