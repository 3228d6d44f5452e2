// Serving a detector: POST /v1/predict on a detection .onnx answers each image's boxes in its own
// pixels, the same boxes `kestrel predict` prints for the same file (same ONNX Runtime graph, same
// post-processing; the server letterboxes in its own code), with conf, iou and max_det honoured.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import sharp from 'sharp';
import { synthDetect } from '../../src/data/synth.js';
import { exportCheckpoint } from '../../src/export/export.js';
import { formatOf } from '../../src/engine/checkpoint.js';
import { createDetector } from '../../src/models/index.js';
import type { YOLOv8 } from '../../src/models/yolo.js';
import { detectEvalTransforms, DETECT_MEAN, DETECT_STD } from '../../src/tasks/detect/transforms.js';
import { predictDetect } from '../../src/tasks/detect/predict.js';
import type { DetectBox } from '../../src/tasks/detect/postprocess.js';
import { manualSeed } from '../../src/tensor/index.js';
import { fixWeights } from '../tasks/detect-fixture.js';
import { call, form, start } from './helpers.js';

let dir: string;
let onnx: string;
let images: string;
const NAMES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kestrel-serve-detect-'));
  const yaml = await synthDetect({ out: join(dir, 'digits'), train: 8, val: 3, imgsz: 80, seed: 5, size: [16, 30], count: [1, 3] });
  images = join(dir, 'digits', 'images', 'val');
  await sharp(join(images, readdirSync(images).sort()[0]!)).resize(90, 60, { fit: 'fill' }).jpeg().toFile(join(images, 'wide.jpg'));
  manualSeed(7);
  const model = createDetector('yolov8n', { numClasses: NAMES.length, imgSize: 64 }) as YOLOv8;
  const transforms = detectEvalTransforms(64);
  await fixWeights(model, {
    format: formatOf('detect'), task: 'detect', model: model.config, classes: NAMES, epoch: 0, createdAt: new Date(0).toISOString(),
    preprocess: { imgsz: 64, channels: 3, mean: DETECT_MEAN, std: DETECT_STD, transforms },
  }, yaml, join(dir, 'det.safetensors'));
  onnx = (await exportCheckpoint(join(dir, 'det.safetensors'), { dynamicBatch: true })).path;
});
after(() => rmSync(dir, { recursive: true, force: true }));

type Answer = { predictions: { source: string; boxes: DetectBox[] }[] };

it('answers kestrel predict\'s boxes for a detection .onnx, with its conf and max_det', async () => {
  const s = await start({ weights: onnx, maxBatch: 4, maxWaitMs: 20 });
  try {
    const info = (await call(`${s.url}/v1/models`)).body as { models: { task: string; names: string[]; output: string }[] };
    assert.deepEqual([info.models[0]!.task, info.models[0]!.names, info.models[0]!.output], ['detect', NAMES, 'detections']);
    const files = readdirSync(images).sort();
    const fd = form(Object.fromEntries(files.map((f) => [f, readFileSync(join(images, f))])), 'images');
    const a = await call(`${s.url}/v1/predict?conf=0.25`, { method: 'POST', body: fd });
    assert.equal(a.status, 200, a.text);
    const got = (a.body as Answer).predictions;
    assert.deepEqual(got.map((p) => p.source), files);
    const want = [];
    for await (const r of predictDetect({ weights: onnx, source: images, workers: 0 })) want.push(r);
    for (const w of want) {
      assert.ok('boxes' in w, JSON.stringify(w));
      const g = got.find((p) => w.source.endsWith(p.source))!;
      assert.ok(w.boxes.length > 0, `${w.source}: no boxes`);
      assert.equal(g.boxes.length, w.boxes.length, g.source);
      g.boxes.forEach((b, i) => {
        const x = w.boxes[i]!;
        assert.equal(b.label, x.label, g.source);
        assert.ok(Math.abs(b.score - x.score) < 1e-5 && b.box.every((v, k) => Math.abs(v - x.box[k]!) < 0.01), `${g.source}: ${JSON.stringify(b)} vs ${JSON.stringify(x)}`);
      });
    }
    const wide = got.find((p) => p.source === 'wide.jpg')!;
    assert.ok(wide.boxes.every((b) => b.box[2] <= 90 && b.box[3] <= 60), 'in the 90×60 image\'s pixels');

    const one = await call(`${s.url}/v1/predict?conf=0.25&max_det=1`, { method: 'POST', body: form({ 'wide.jpg': readFileSync(join(images, 'wide.jpg')) }, 'images') });
    assert.deepEqual((one.body as Answer).predictions[0]!.boxes, [wide.boxes[0]]);
    const high = await call(`${s.url}/v1/predict?conf=0.9`, { method: 'POST', body: form({ 'wide.jpg': readFileSync(join(images, 'wide.jpg')) }, 'images') });
    assert.deepEqual((high.body as Answer).predictions[0]!.boxes, wide.boxes.filter((b) => b.score > 0.9));
    const bad = await call(`${s.url}/v1/predict?conf=2`, { method: 'POST', body: form({ 'wide.jpg': readFileSync(join(images, 'wide.jpg')) }, 'images') });
    assert.equal(bad.status, 400, bad.text);
  } finally {
    await s.app.close();
  }
});
