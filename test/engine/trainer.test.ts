// The shared Trainer: memory flat over epochs, the time budget, the first-epoch `last` checkpoint
// (a run killed in epoch 1 resumes), stale temporary files, Ctrl-C stopping after the step, and
// the test split's result written for the web UI.
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readSafetensorsHeader } from '../../src/checkpoint/index.js';
import { bestRow } from '../../src/engine/fitness.js';
import { parseCsv } from '../../src/engine/run-dir.js';
import { TimeBudget } from '../../src/engine/time-budget.js';
import { classifyRowFitness } from '../../src/tasks/classify/fitness.js';
import { train } from '../../src/tasks/classify/train.js';
import { val } from '../../src/tasks/classify/val.js';
import { memory } from '../../src/tensor/index.js';
import { writeShapesFolder } from '../tasks/shapes.js';

let root: string;
before(async () => {
  root = mkdtempSync(join(tmpdir(), 'kestrel-trainer-'));
  await writeShapesFolder(join(root, 'data'), { train: 12, val: 4 });
});
after(() => rmSync(root, { recursive: true, force: true }));

const quiet = { quiet: true, log: (): void => {} };
const base = () => ({ data: join(root, 'data'), model: 'smallcnn', imgsz: 32, batch: 8, augment: 'light' as const, workers: 0, project: join(root, 'runs') });
const trainState = (path: string): Record<string, unknown> => JSON.parse(readSafetensorsHeader(path).metadata['kestrel.train']!) as Record<string, unknown>;

describe('Trainer', () => {
  it('classification keeps live tensors and memory flat over epochs, and frees everything at the end', async () => {
    const before = memory().tensors;
    const tensors: number[] = [];
    const rss: number[] = [];
    await train({ ...base(), epochs: 8, name: 'flat' }, { ...quiet, onEpoch: () => void (tensors.push(memory().tensors), rss.push(process.memoryUsage.rss())) });
    assert.equal(tensors.length, 8);
    assert.deepEqual(tensors.slice(1), Array(7).fill(tensors[1]), `live tensors by epoch: ${tensors.join(', ')}`);
    const growth = (rss[7]! - rss[1]!) / 2 ** 20;
    assert.ok(growth < 24, `RSS grew ${growth.toFixed(1)} MiB from epoch 2 to 8`);
    assert.equal(memory().tensors, before, 'the run freed every tensor it made');
  });

  it('a run killed in its first epoch resumes from the `last` saved before the first step', async () => {
    const full = await train({ ...base(), epochs: 2, name: 'k-full' }, quiet);
    const copy = join(root, 'runs', 'k-copy');
    // At step 2 of epoch 1 the run holds only the initial `last`: copying the folder then is what
    // a kill -9 at that moment leaves behind.
    await train({ ...base(), epochs: 2, name: 'k-part' }, {
      ...quiet,
      onStep: (e, s) => {
        if (e === 1 && s === 2) {
          const dir = join(root, 'runs', 'k-part');
          assert.equal(trainState(join(dir, 'weights/last.safetensors')).epoch, 0);
          cpSync(dir, copy, { recursive: true });
        }
      },
    });
    const resumed = await train({ resume: copy }, quiet);
    assert.equal(resumed.epochs, 2);
    const rows = (dir: string): string[] => readFileSync(join(dir, 'results.csv'), 'utf8').trim().split('\n').map((l) => l.split(',').slice(0, -1).join(','));
    assert.deepEqual(rows(copy), rows(full.dir));
  });

  it('resume removes the temporary files of a save that a kill interrupted', async () => {
    const r = await train({ ...base(), epochs: 1, name: 'stale' }, quiet);
    const weights = join(r.dir, 'weights');
    const stale = ['.last.safetensors.4242.0a1b2c3d.tmp', '.best.safetensors.77.deadbeef.tmp'];
    for (const f of stale) writeFileSync(join(weights, f), 'partial');
    writeFileSync(join(weights, 'notes.tmp'), 'a user file');
    await train({ resume: r.dir }, quiet);
    const left = readdirSync(weights);
    for (const f of stale) assert.ok(!left.includes(f), `${f} left behind`);
    assert.ok(left.includes('notes.tmp'), 'a file not named like a temporary save is kept');
  });

  it('Ctrl-C stops after the step under way, even with batches prefetched', async () => {
    const r = await train({ ...base(), epochs: 3, batch: 2, name: 'sigint' }, {
      ...quiet,
      onStep: (e, s) => {
        if (e === 1 && s === 2) process.kill(process.pid, 'SIGINT');
      },
    });
    assert.equal(r.interrupted, true);
    const partial = trainState(r.last).partial as { epoch: number; done: number };
    assert.deepEqual({ epoch: partial.epoch, done: partial.done }, { epoch: 1, done: 2 });
  });

  it('a setup error leaves no run folder; a failure after it started is written in the run log', async () => {
    const project = join(root, 'fail-runs');
    await assert.rejects(train({ ...base(), project, model: 'no_such_model', name: 'bad' }, quiet), /unknown model 'no_such_model'/);
    assert.equal(existsSync(join(project, 'bad')), false);
    await assert.rejects(train({ ...base(), project, epochs: 1, name: 'boom' }, { ...quiet, onStep: () => { throw new Error('disk full'); } }), /disk full/);
    const log = readFileSync(join(project, 'boom', 'train.log'), 'utf8').trim().split('\n');
    assert.match(log.at(-1)!, /failed: disk full$/);
  });

  it('with a test split, test_metrics.json holds the best weights\' test accuracy, as kestrel val computes it', async () => {
    const data = join(root, 'data-test');
    await writeShapesFolder(data, { train: 12, val: 4, test: 5 }, 11);
    const lines: string[] = [];
    const r = await train({ ...base(), data, epochs: 3, name: 'tested' }, { quiet: true, log: (l) => lines.push(l) });
    const best = join(r.dir, 'weights/best.safetensors');
    const epoch = (JSON.parse(readSafetensorsHeader(best).metadata.kestrel!) as { epoch: number }).epoch;
    assert.equal(r.best?.epoch, epoch);
    // The trainer's rule on its own results.csv names the same epoch as its best checkpoint.
    assert.equal(bestRow(parseCsv(readFileSync(join(r.dir, 'results.csv'), 'utf8')), classifyRowFitness)?.epoch, epoch);
    const written = JSON.parse(readFileSync(join(r.dir, 'test_metrics.json'), 'utf8')) as Record<string, unknown>;
    assert.deepEqual(written, { split: 'test', epoch, ...r.test });
    assert.equal(written.count, 15);
    const v = await val({ weights: best, data, split: 'test', workers: 0, project: join(root, 'val-runs'), name: 'tested', quiet: true, log: () => {} });
    assert.equal(written.accuracy, v.metrics.accuracy);
    assert.ok(lines.includes(`test (best epoch ${epoch}): accuracy ${(v.metrics.accuracy * 100).toFixed(2)}% on 15 images`), lines.join('\n'));
  });

  it('a time budget ends the run and records the spent time for resume', async () => {
    const lines: string[] = [];
    const r = await train({ ...base(), epochs: 500, time: 0.005, name: 'budget' }, { quiet: true, log: (l) => lines.push(l) });
    assert.ok(r.epochs >= 1 && r.epochs < 500, `epochs ${r.epochs}`);
    assert.ok(lines.some((l) => l.startsWith('time budget of 0.005 min reached after epoch')), lines.join('\n'));
    const st = trainState(r.last);
    assert.ok(typeof st.trainSeconds === 'number' && st.trainSeconds > 0);
    assert.ok(existsSync(join(r.dir, 'weights/best.safetensors')));
  });
});

describe('TimeBudget', () => {
  it('plans the epochs that fit from the mean epoch so far, counting all wall time', () => {
    let t = 100;
    const b = new TimeBudget(600, 0, () => t);
    t += 50;
    assert.equal(b.plan(1), 12);
    t += 70;
    assert.equal(b.spent, 120);
    assert.equal(b.plan(2), 2 + Math.round(480 / 60));
    t += 479;
    assert.equal(b.exceeded(), false);
    t += 1;
    assert.equal(b.exceeded(), true);
  });

  it('never plans fewer epochs than are done, and carries time spent before a resume', () => {
    let t = 0;
    const b = new TimeBudget(100, 90, () => t);
    t = 30;
    assert.equal(b.spent, 120);
    assert.equal(b.plan(3), 3);
  });
});
