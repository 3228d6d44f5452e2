// Issue 13, acceptance 3: a detection checkpoint exported by `kestrel export` passes ONNX's own
// checker, and `kestrel predict` gives the same boxes from the .onnx file (ONNX Runtime) as from
// the checkpoint (libtorch): same labels, coordinates within 0.5 px, scores within 1e-3, on
// validation images larger than the input (80×80 and a 100×70 one, so the letterbox's scale and
// padding are undone). fp16 and int8 files pass the checker and predict close to it.
//
// A checkpoint from a short `runTraining` run, with the fixed weights of detect-fixture.ts on top.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { synthDetect } from '../../src/data/synth.js';
import { loadCheckpoint } from '../../src/engine/checkpoint.js';
import { runTraining } from '../../src/engine/trainer.js';
import type { YOLOv8 } from '../../src/models/yolo.js';
import { readContract } from '../../src/onnx/contract.js';
import { readOnnxFile } from '../../src/runtime/session.js';
import { detectTask } from '../../src/tasks/detect/task.js';
import { valDetect } from '../../src/tasks/detect/val.js';
import type { DetectBox } from '../../src/tasks/detect/postprocess.js';
import { checkOnnxFiles, onnxCheckerMissing } from '../onnx/ort.js';
import { fixWeights } from './detect-fixture.js';

const main = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const kestrel = (...args: string[]): string => {
  const r = spawnSync(process.execPath, [main, ...args], { encoding: 'utf8', timeout: 300_000 });
  assert.equal(r.status, 0, `kestrel ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};

type Line = { source: string; boxes: DetectBox[] };
const lines = (out: string): Line[] => out.trim().split('\n').map((l) => JSON.parse(l) as Line);

/** Ultralytics' default confidence: the fixed weights give boxes above it on every image. */
const CONF = '0.25';

let dir: string;
let weights: string;
let images: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kestrel-detect-export-'));
  const yaml = await synthDetect({ out: join(dir, 'digits'), train: 8, val: 2, imgsz: 64, seed: 4, size: [16, 30], count: [1, 3] });
  await synthDetect({ out: join(dir, 'digits80'), train: 1, val: 5, imgsz: 80, seed: 9, size: [16, 30], count: [1, 3] });
  images = join(dir, 'digits80', 'images', 'val');
  // Not square: the letterbox pads it, and the boxes must come back through scale and padding.
  const first = join(images, readdirSync(images).sort()[0]!);
  await sharp(first).resize(100, 70, { fit: 'fill' }).png().toFile(join(images, 'wide.png'));
  const r = await runTraining(detectTask, {
    data: yaml, imgsz: 64, batch: 8, epochs: 2, warmupEpochs: 0, lr: 1e-3, weightDecay: 0, ema: false, mosaic: 0, translate: 0, scale: 0, fliplr: 0, hsvH: 0, hsvS: 0, hsvV: 0, workers: 0, project: join(dir, 'runs'), name: 't',
  }, { quiet: true, log: () => {} });
  weights = join(dir, 'fixed.safetensors');
  const { model, meta } = loadCheckpoint<YOLOv8, 'detect'>(join(r.dir, 'weights', 'last.safetensors'), { task: 'detect' });
  await fixWeights(model, meta, yaml, weights);
});

after(() => rmSync(dir, { recursive: true, force: true }));

/** Index of a box in `free` with x's label, corners within `px` and score within `score`, or -1. */
const matchOf = (x: DetectBox, free: DetectBox[], px: number, score: number): number =>
  free.findIndex((y) => y.label === x.label && y.class === x.class && Math.abs(y.score - x.score) <= score && y.box.every((v, k) => Math.abs(v - x.box[k]!) <= px));

/** Each checkpoint box has one .onnx box with its label, its corners within `px` and its score within `score`, and no .onnx box is left over. */
function assertSameBoxes(a: Line[], b: Line[], px: number, score: number): void {
  assert.deepEqual(b.map((l) => l.source), a.map((l) => l.source));
  a.forEach((la, i) => {
    const lb = b[i]!;
    assert.equal(lb.boxes.length, la.boxes.length, `${la.source}: ${la.boxes.length} boxes from the checkpoint, ${lb.boxes.length} from the .onnx`);
    const free = [...lb.boxes];
    for (const x of la.boxes) {
      const j = matchOf(x, free, px, score);
      assert.ok(j >= 0, `${la.source}: no .onnx box matches ${JSON.stringify(x)} among ${JSON.stringify(free)}`);
      free.splice(j, 1);
    }
  });
}

/** The share of all boxes on either side that find a one-to-one match on the other. */
function matchedShare(a: Line[], b: Line[], px: number, score: number): number {
  let [matched, total] = [0, 0];
  a.forEach((la, i) => {
    const free = [...b[i]!.boxes];
    total += la.boxes.length + free.length;
    for (const x of la.boxes) {
      const j = matchOf(x, free, px, score);
      if (j < 0) continue;
      free.splice(j, 1);
      matched += 2;
    }
  });
  return matched / total;
}

describe('detection export (acceptance 3)', () => {
  it('kestrel export writes a detect .onnx with its contract that passes onnx.checker full_check', { skip: onnxCheckerMissing() ?? false }, () => {
    const out = kestrel('export', '--weights', weights, '-o', join(dir, 'det.onnx'), '--dynamic-batch');
    assert.match(out, /det\.onnx: ONNX opset 17, images \[N, 3, 64, 64\] → output0 \[N, 14, 84\]/);
    assert.deepEqual(checkOnnxFiles([join(dir, 'det.onnx')]), {});
    const c = readContract(readOnnxFile(join(dir, 'det.onnx')).model.metadataProps ?? [])!;
    assert.equal(c.task, 'detect');
    assert.equal(c.output, 'detections');
    assert.deepEqual(c.names, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    assert.deepEqual(c.imgsz, [64, 64]);
    assert.deepEqual(c.transforms, [{ op: 'letterbox', size: 64, fill: 114 }, { op: 'normalize', mean: [0, 0, 0], std: [1, 1, 1] }]);
  });

  it('kestrel predict gives the checkpoint\'s boxes from the .onnx: same labels, within 0.5 px and 1e-3', () => {
    const torch = lines(kestrel('predict', '--weights', weights, '--source', images, '--conf', CONF));
    const onnx = lines(kestrel('predict', '--weights', join(dir, 'det.onnx'), '--source', images, '--conf', CONF, '--batch', '4'));
    assert.equal(torch.length, 6);
    assert.ok(torch.every((l) => l.boxes.length > 0), `boxes per image at conf ${CONF}: ${torch.map((l) => l.boxes.length).join(', ')}`);
    const wide = torch.find((l) => l.source.endsWith('wide.png'))!;
    assert.ok(wide.boxes.every((b) => b.box[2] <= 100 && b.box[3] <= 70), 'boxes in the 100×70 original\'s pixels');
    assertSameBoxes(torch, onnx, 0.5, 1e-3);
  });

  it('kestrel val on the .onnx writes the checkpoint\'s predictions.json', async () => {
    // The fixed weights detect nothing real (every COCO statistic is 0 on both sides), so the
    // detections themselves are compared: at val's conf 0.001, every class above it per box.
    const yaml80 = join(dir, 'digits80', 'data.yaml');
    type Det = { image_id: number | string; category_id: number; bbox: number[]; score: number };
    const run = async (w: string, name: string): Promise<Det[]> => {
      const r = await valDetect({ weights: w, data: yaml80, project: join(dir, 'runs'), name, quiet: true, log: () => {} });
      return JSON.parse(readFileSync(join(r.dir, 'predictions.json'), 'utf8')) as Det[];
    };
    const [a, b] = [await run(weights, 'val-torch'), await run(join(dir, 'det.onnx'), 'val-onnx')];
    assert.ok(a.length > 100, `${a.length} detections`);
    const free = [...b];
    let matched = 0;
    for (const x of a) {
      const j = free.findIndex((y) => y.image_id === x.image_id && y.category_id === x.category_id && Math.abs(y.score - x.score) <= 1e-3 && y.bbox.every((v, k) => Math.abs(v - x.bbox[k]!) <= 0.5));
      if (j < 0) continue;
      free.splice(j, 1);
      matched++;
    }
    // Candidates just at conf 0.001 or the 300-box cut may differ by one or two.
    assert.ok(matched >= 0.99 * Math.max(a.length, b.length), `${matched} of ${a.length} (checkpoint) and ${b.length} (.onnx) detections match`);
  });

  it('a detection .onnx refuses classifier preprocessing options in one line', () => {
    const r = spawnSync(process.execPath, [main, 'predict', '--weights', join(dir, 'det.onnx'), '--source', images, '--mean', '0.5,0.5,0.5'], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.equal(r.stderr.trim(), `kestrel: --mean: a detection model's own metadata gives its preprocessing (${join(dir, 'det.onnx')})`);
  });

  it('--fp16 and --int8 files pass the checker and predict close to the checkpoint', { skip: onnxCheckerMissing() ?? false }, () => {
    kestrel('export', '--weights', weights, '-o', join(dir, 'det-fp16.onnx'), '--fp16');
    kestrel('export', '--weights', weights, '-o', join(dir, 'det-int8.onnx'), '--int8', '--calib-size', '8');
    assert.deepEqual(checkOnnxFiles([join(dir, 'det-fp16.onnx'), join(dir, 'det-int8.onnx')]), {});
    const torch = lines(kestrel('predict', '--weights', weights, '--source', images, '--conf', CONF));
    const fp16 = lines(kestrel('predict', '--weights', join(dir, 'det-fp16.onnx'), '--source', images, '--conf', CONF));
    // Rounding moves scores by ~1e-4 and boxes by hundredths of a pixel, so boxes near --conf or
    // the NMS threshold may come and go; int8 moves boxes by about a pixel.
    const half = matchedShare(torch, fp16, 0.5, 2e-3);
    assert.ok(half >= 0.95, `fp16: ${(100 * half).toFixed(1)} % of boxes match within 0.5 px and 2e-3`);
    const int8 = lines(kestrel('predict', '--weights', join(dir, 'det-int8.onnx'), '--source', images, '--conf', CONF));
    const q = matchedShare(torch, int8, 3, 0.03);
    assert.ok(q >= 0.6, `int8: ${(100 * q).toFixed(1)} % of boxes match within 3 px and 0.03`);
  });
});
