// Serving a .safetensors checkpoint: exported to ONNX in memory at start, it answers like
// `kestrel predict` on the same checkpoint (libtorch), and its ONNX download runs on its own.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { buildTransforms } from '../../src/data/presets.js';
import { FORMAT, saveCheckpoint } from '../../src/engine/checkpoint.js';
import { createModel } from '../../src/models/registry.js';
import { OnnxClassifier } from '../../src/runtime/classifier.js';
import { decodeOnnx } from '../../src/runtime/session.js';
import { predict, type Prediction } from '../../src/tasks/classify/predict.js';
import { manualSeed } from '../../src/tensor/index.js';
import { call, form, photo, start } from './helpers.js';

const CLASSES = ['circle', 'square', 'star'];
const MEAN = [0.5, 0.45, 0.4];
const STD = [0.25, 0.2, 0.22];
let dir: string;
let weights: string;
const files = ['a.png', 'b.png', 'c.jpg'];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kestrel-serve-ckpt-'));
  weights = join(dir, 'best.safetensors');
  manualSeed(3);
  const model = createModel('smallcnn', { numClasses: CLASSES.length, inChannels: 3, imgSize: 16 });
  saveCheckpoint(weights, model, {
    format: FORMAT, task: 'classify', model: model.config, classes: CLASSES, epoch: 0, createdAt: new Date(0).toISOString(),
    preprocess: { imgsz: 16, channels: 3, mean: MEAN, std: STD, transforms: buildTransforms('eval', { imgsz: 16, channels: 3, mean: MEAN, std: STD }) },
  });
  model.dispose();
  await Promise.all(files.map(async (f, i) => writeFileSync(join(dir, f), await photo(16 + 7 * i, 20 - 2 * i, i, f.endsWith('.jpg') ? 'jpeg' : 'png'))));
});

after(() => rmSync(dir, { recursive: true, force: true }));

it('serves a checkpoint exported in memory, with kestrel predict\'s labels and scores', async () => {
  const s = await start({ weights, maxBatch: 4, maxWaitMs: 20 });
  try {
    const models = await call(`${s.url}/v1/models`);
    const info = (models.body as { models: { names: string[]; imgsz: number[]; mean: number[]; precision: string }[] }).models[0]!;
    assert.deepEqual([info.names, info.imgsz, info.mean, info.precision], [CLASSES, [16, 16], MEAN, 'fp32']);

    const fd = form(Object.fromEntries(files.map((f) => [f, readFileSync(join(dir, f))])), 'images');
    const a = await call(`${s.url}/v1/predict?topk=3`, { method: 'POST', body: fd });
    assert.equal(a.status, 200, a.text);
    const got = (a.body as { predictions: { source: string; top: { label: string; score: number }[] }[] }).predictions;
    const want: Prediction[] = [];
    for await (const r of predict({ weights, source: dir, topk: 3, workers: 0 })) want.push(r);
    assert.equal(want.length, 3);
    for (const w of want) {
      assert.ok('top' in w);
      const g = got.find((p) => w.source.endsWith(p.source))!;
      assert.deepEqual(g.top.map((t) => t.label), w.top.map((t) => t.label), g.source);
      g.top.forEach((t, i) => assert.ok(Math.abs(t.score - w.top[i]!.score) < 1e-5, `${g.source}: ${t.score} vs ${w.top[i]!.score} (libtorch)`));
    }

    // The download is the exported graph: it runs alone, with the same preprocessing.
    const bytes = new Uint8Array(await (await fetch(`${s.url}/v1/models/default/model.onnx`)).arrayBuffer());
    const clf = await OnnxClassifier.load(decodeOnnx('downloaded.onnx', bytes), { threads: 1 });
    assert.deepEqual(clf.preprocessing.names, CLASSES);
    assert.equal(clf.batchLimit, null, 'exported with a dynamic batch');
    await clf.dispose();
  } finally {
    await s.app.close();
  }
});

it('refuses .onnx-only preprocessing options for a checkpoint', async () => {
  await assert.rejects(start({ weights, preprocess: { mean: [0.5] } }), /preprocess apply to \.onnx models only/);
});
