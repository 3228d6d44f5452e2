// A third-party model: a small CNN exported by torch.onnx.export (no Kestrel metadata, PyTorch's
// own tensor names, a fixed batch of 1), preprocessing from YAML or flags, against PyTorch's
// probabilities on the same PNGs (test/fixtures/gen_onnx_import.py).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { OnnxClassifier } from '../../src/runtime/classifier.js';
import { predict, type Prediction, type PredictOptions } from '../../src/tasks/classify/predict.js';
import { FIXTURES } from '../helpers.js';

const DIR = join(FIXTURES, 'onnx_import');
const MODEL = join(DIR, 'tiny_torch.onnx');
const ref = JSON.parse(readFileSync(join(DIR, 'reference.json'), 'utf8')) as { names: string[]; probs: Record<string, number[]> };

async function all(o: Omit<PredictOptions, 'weights' | 'source'>): Promise<Prediction[]> {
  const out: Prediction[] = [];
  for await (const r of predict({ weights: MODEL, source: join(DIR, '*.png'), topk: 4, threads: 1, workers: 0, ...o })) out.push(r);
  return out;
}

function assertMatchesPyTorch(r: Prediction[]): void {
  assert.equal(r.length, 3);
  for (const p of r) {
    assert.ok('top' in p, JSON.stringify(p));
    const want = ref.probs[p.source.split('/').pop()!]!;
    const order = want.map((s, i) => [s, i] as const).sort((a, b) => b[0] - a[0]);
    assert.deepEqual(p.top.map((t) => t.label), order.map(([, i]) => ref.names[i]!), p.source);
    p.top.forEach((t, j) => assert.ok(Math.abs(t.score - order[j]![0]) < 1e-5, `${p.source}: ${t.label} ${t.score} vs PyTorch ${order[j]![0]}`));
  }
}

describe('a torch.onnx.export model without Kestrel metadata', () => {
  it('matches PyTorch with the preprocessing from YAML (batch 4 on a fixed batch of 1)', async () => {
    assertMatchesPyTorch(await all({ preprocessFile: join(DIR, 'preprocess.yaml'), batch: 4 }));
  });

  it('matches PyTorch with the preprocessing from options; imgsz comes from the graph', async () => {
    const opts = { preprocess: { resize: 28, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], names: ref.names } };
    assertMatchesPyTorch(await all(opts));
    const clf = await OnnxClassifier.load(MODEL, opts);
    assert.deepEqual([clf.preprocessing.imgsz, clf.batchLimit], [[24, 24], 1]);
    await clf.dispose();
  });

  it('refuses to guess the preprocessing', async () => {
    await assert.rejects(all({}), (e: Error) => /tiny_torch\.onnx: no Kestrel metadata in the file and no preprocessing given/.test(e.message));
  });
});
