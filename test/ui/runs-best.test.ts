// The runs API says which epoch is best as the trainer chose it: the epoch in weights/best.safetensors'
// header (written here by the real safetensors writer), else the trainer's rule on results.csv; and
// the test split's accuracy from test_metrics.json.
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { saveSafetensors } from '../../src/checkpoint/index.js';
import { toCsv } from '../../src/engine/run-dir.js';
import { tensor } from '../../src/tensor/index.js';
import { readCheckpointMeta } from '../../src/ui/checkpoint-meta.js';
import { tempDir } from '../data/make-images.js';
import { json, serveUi } from './fixtures.js';

const tmp = tempDir('ui-runs-best');
const project = join(tmp.dir, 'runs');
let app: FastifyInstance;
let url: string;

const row = (epoch: number, val_accuracy: number, val_loss: number): Record<string, number> => ({ epoch, train_loss: 1 / epoch, val_loss, val_accuracy, lr: 0.001, seconds: 2 });

/** A train run with results.csv and, when `meta` is given, a best checkpoint whose metadata it is. */
function makeRun(name: string, rows: Record<string, number>[], meta?: Record<string, unknown>): string {
  const dir = join(project, name);
  mkdirSync(join(dir, 'weights'), { recursive: true });
  writeFileSync(join(dir, 'args.yaml'), 'task: classify\nmodel: smallcnn\nepochs: 12\n');
  writeFileSync(join(dir, 'results.csv'), toCsv(rows));
  if (meta) saveSafetensors(join(dir, 'weights', 'best.safetensors'), { 'fc.weight': tensor([[1, 2], [3, 4]]) }, { kestrel: JSON.stringify({ format: 'kestrel.classify/1', task: 'classify', ...meta }) });
  return dir;
}

// Epochs 6 and 10 tie in accuracy; the trainer saw epoch 10's loss lower by less than results.csv's
// 7 digits keep, so only the checkpoint knows epoch 10 is best.
const TIED = [row(5, 0.8, 0.4), row(6, 0.9, 0.3), row(7, 0.85, 0.35), row(10, 0.9, 0.3), row(11, 0.88, 0.2)];

before(async () => {
  makeRun('ckpt', TIED, { epoch: 10, metrics: { accuracy: 0.9, loss: 0.29999999 } });
  const noWeights = makeRun('csv', [row(1, 0.5, 0.9), row(2, 0.75, 0.6), row(3, 0.75, 0.5), row(4, 0.7, 0.4), row(5, 0.75, 0.5)]);
  writeFileSync(join(noWeights, 'test_metrics.json'), JSON.stringify({ split: 'test', epoch: 3, accuracy: 0.8125, top5: null, count: 16 }));
  makeRun('garbage', [row(1, 0.5, 0.9), row(2, 0.6, 0.8)]);
  writeFileSync(join(project, 'garbage', 'weights', 'best.safetensors'), 'not really weights');
  makeRun('no-acc', [row(1, 0.5, 0.9), row(2, 0.6, 0.8), row(3, 0.6, 0.7)], { epoch: 2 });
  // A best checkpoint linked from outside the run is not read: the run's own results decide.
  makeRun('outside', [row(1, 0.5, 0.9), row(2, 0.25, 0.8)], { epoch: 2, metrics: { accuracy: 0.25 } });
  makeRun('linked', [row(1, 0.5, 0.9), row(2, 0.25, 0.8)]);
  symlinkSync(join(project, 'outside', 'weights', 'best.safetensors'), join(project, 'linked', 'weights', 'best.safetensors'));
  writeFileSync(join(project, 'linked', 'test_metrics.json'), '{"epoch": 1, "accuracy": "high"}');
  ({ app, url } = await serveUi({ project }));
});
after(async () => {
  await app.close();
  tmp.remove();
});

const runs = async (): Promise<Record<string, { best: unknown; test: unknown }>> =>
  Object.fromEntries(((await json(`${url}/v1/runs`)).body.runs as { id: string; best: unknown; test: unknown }[]).map((r) => [r.id, r]));

describe('the best epoch on the runs page', () => {
  it('is the epoch of weights/best.safetensors, with its accuracy, where results.csv would say 6', async () => {
    const r = await runs();
    assert.deepEqual(r.ckpt!.best, { epoch: 10, val_accuracy: 0.9 });
    const detail = await json(`${url}/v1/runs/ckpt`);
    assert.deepEqual(detail.body.best, { epoch: 10, val_accuracy: 0.9 });
  });

  it('without a readable checkpoint, is the trainer\'s pick from results.csv: lower loss breaks a tie, then the first', async () => {
    const r = await runs();
    assert.deepEqual(r.csv!.best, { epoch: 3, val_accuracy: 0.75 });
    assert.deepEqual(r.garbage!.best, { epoch: 2, val_accuracy: 0.6 });
    assert.deepEqual(r.linked!.best, { epoch: 1, val_accuracy: 0.5 });
  });

  it('takes the accuracy from results.csv when the checkpoint records no metrics', async () => {
    assert.deepEqual((await runs())['no-acc']!.best, { epoch: 2, val_accuracy: 0.6 });
  });

  it('the header reader gives the metadata the safetensors writer stored, and null for anything else', () => {
    assert.deepEqual(readCheckpointMeta(join(project, 'ckpt'), 'weights/best.safetensors'), { format: 'kestrel.classify/1', task: 'classify', epoch: 10, metrics: { accuracy: 0.9, loss: 0.29999999 } });
    for (const [run, rel] of [['garbage', 'weights/best.safetensors'], ['csv', 'weights/best.safetensors'], ['linked', 'weights/best.safetensors'], ['csv', 'results.csv'], ['csv', 'weights']]) {
      assert.equal(readCheckpointMeta(join(project, run!), rel!), null, `${run}/${rel}`);
    }
  });
});

describe('the test split on the runs page', () => {
  it('comes from test_metrics.json; a run without one, or with a malformed one, has none', async () => {
    const r = await runs();
    assert.deepEqual(r.csv!.test, { epoch: 3, accuracy: 0.8125, top5: null, count: 16 });
    assert.equal(r.ckpt!.test, null);
    assert.equal(r.linked!.test, null);
  });
});
