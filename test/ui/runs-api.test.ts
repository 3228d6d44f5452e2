// The runs routes on loopback: the list and one run's details from a generated project, files
// served with their type, every way out of a run folder refused, and the isolation headers.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { tempDir } from '../data/make-images.js';
import { json, makeRunsProject, MATRIX, RESULTS, serveUi } from './fixtures.js';

const tmp = tempDir('ui-runs');
let app: FastifyInstance;
let url: string;
let train: string;
const TRAIN = encodeURIComponent('classify/train1');

before(async () => {
  const p = await makeRunsProject(tmp.dir);
  train = p.train;
  const uiDir = join(tmp.dir, 'built');
  mkdirSync(join(uiDir, 'assets'), { recursive: true });
  writeFileSync(join(uiDir, 'index.html'), '<!doctype html><title>Kestrel</title>');
  writeFileSync(join(uiDir, 'assets', 'app-1234.js'), 'console.log(1)');
  ({ app, url } = await serveUi({ project: p.project, uiDir }));
});
after(async () => {
  await app.close();
  tmp.remove();
});

describe('GET /v1/runs', () => {
  it('lists the train and val runs, newest first, with their numbers', async () => {
    const { status, body } = await json(`${url}/v1/runs`);
    assert.equal(status, 200);
    assert.deepEqual(body.runs.map((r: { id: string; kind: string }) => [r.id, r.kind]), [['classify/train1', 'train'], ['classify/val1', 'val']]);
    const [t, v] = body.runs;
    assert.equal(t.name, 'train1');
    assert.equal(t.model, 'smallcnn');
    assert.equal(t.data, 'shapes');
    assert.deepEqual(t.epochs, { done: 3, total: 5 });
    assert.deepEqual(t.final, RESULTS[2]);
    assert.deepEqual(t.best, { epoch: 2, val_accuracy: 0.75 });
    assert.deepEqual(v.final, { accuracy: 0.75, loss: 0.6, count: 8 });
    assert.equal(v.updated, '2026-01-01T00:00:00.000Z');
  });
});

describe('GET /v1/runs/:id', () => {
  it('gives args, results.csv as rows, the confusion matrix, the wrong images and the plots', async () => {
    const { status, body } = await json(`${url}/v1/runs/${TRAIN}`);
    assert.equal(status, 200);
    assert.equal(body.args.batch, 8);
    assert.deepEqual(body.args.classes, ['cat', 'dog']);
    assert.deepEqual(body.results, RESULTS);
    assert.deepEqual(body.confusion, { epoch: 2, classes: ['cat', 'dog'], matrix: MATRIX });
    assert.deepEqual(body.errors.items.map((i: { file: string; true: string; pred: string }) => [i.file, i.true, i.pred]), [['e2-0.png', 'dog', 'cat'], ['e2-1.png', 'cat', 'dog']]);
    assert.deepEqual(body.plots, ['results.png']);
  });

  it('a val run takes its confusion matrix from metrics.json', async () => {
    const { body } = await json(`${url}/v1/runs/${encodeURIComponent('classify/val1')}`);
    assert.deepEqual(body.confusion, { classes: ['cat', 'dog'], matrix: MATRIX });
    assert.deepEqual(body.results, []);
    assert.equal(body.errors, null);
  });

  it('unknown runs and folders that are not runs are 404', async () => {
    for (const id of ['classify/nope', 'empty/nothing', 'empty']) {
      const { status, body } = await json(`${url}/v1/runs/${encodeURIComponent(id)}`);
      assert.equal(status, 404, id);
      assert.equal(body.error.code, 'no_such_run');
    }
  });
});

describe('GET /v1/runs/:id/files/*', () => {
  it('serves plots and gallery images with their type', async () => {
    for (const f of ['results.png', 'val_errors/e2-1.png']) {
      const r = await fetch(`${url}/v1/runs/${TRAIN}/files/${f}`);
      assert.equal(r.status, 200, f);
      assert.equal(r.headers.get('content-type'), 'image/png');
      assert.ok(Buffer.from(await r.arrayBuffer()).equals(readFileSync(join(train, f))), `${f} bytes`);
    }
    const csv = await fetch(`${url}/v1/runs/${TRAIN}/files/results.csv`);
    assert.match(csv.headers.get('content-type') ?? '', /^text\/csv/);
    assert.match(await csv.text(), /^epoch,train_loss,val_loss,val_accuracy,lr,seconds\n1,1.2,/);
  });

  it('refuses paths out of the run, links out of it, dot-files and other file types', async () => {
    const cases: [string, number, string][] = [
      [`/v1/runs/${TRAIN}/files/${encodeURIComponent('../../../secret.txt')}`, 400, 'bad_path'],
      [`/v1/runs/${TRAIN}/files/val_errors/${encodeURIComponent('../../val1/metrics.json')}`, 400, 'bad_path'],
      [`/v1/runs/${TRAIN}/files/${encodeURIComponent('/etc/passwd')}`, 400, 'bad_path'],
      [`/v1/runs/${encodeURIComponent('../secret.txt')}/files/x.png`, 400, 'bad_path'],
      [`/v1/runs/${encodeURIComponent('classify/../..')}`, 400, 'bad_path'],
      [`/v1/runs/${TRAIN}/files/link.txt`, 403, 'outside_root'],
      [`/v1/runs/${TRAIN}/files/.hidden.json`, 400, 'bad_path'],
      [`/v1/runs/${TRAIN}/files/weights/best.safetensors`, 403, 'forbidden_type'],
      [`/v1/runs/${TRAIN}/files/nope.png`, 404, 'no_such_file'],
    ];
    for (const [path, status, code] of cases) {
      const r = await json(`${url}${path}`);
      assert.equal(r.status, status, path);
      assert.equal(r.body.error.code, code, path);
      assert.ok(!JSON.stringify(r.body).includes('top secret'), path);
    }
    // A raw ../ in the URL is normalised away by the client; the server sees a path inside the project or nothing.
    const raw = await fetch(`${url}/v1/runs/${TRAIN}/files/%2e%2e/%2e%2e/%2e%2e/secret.txt`);
    assert.notEqual(raw.status, 200);
    assert.ok(!(await raw.text()).includes('top secret'));
  });
});

describe('pages', () => {
  it('serves index.html and assets with the cross-origin isolation headers; / redirects to /ui/', async () => {
    const r = await fetch(`${url}/ui/`);
    assert.equal(r.status, 200);
    assert.match(await r.text(), /<title>Kestrel<\/title>/);
    assert.equal(r.headers.get('cross-origin-opener-policy'), 'same-origin');
    assert.equal(r.headers.get('cross-origin-embedder-policy'), 'require-corp');
    assert.equal(r.headers.get('cache-control'), 'no-cache');
    const js = await fetch(`${url}/ui/assets/app-1234.js`);
    assert.equal(js.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    const root = await fetch(`${url}/`, { redirect: 'manual' });
    assert.equal(root.status, 302);
    assert.equal(root.headers.get('location'), '/ui/');
    const api = await fetch(`${url}/v1/runs`);
    assert.equal(api.headers.get('cross-origin-embedder-policy'), 'require-corp');
  });

  it('without a built UI, /ui/ says how to build it; without a project, the runs list is empty', async () => {
    const other = await serveUi({ uiDir: join(tmp.dir, 'not-built') });
    try {
      const r = await fetch(`${other.url}/ui/`);
      assert.equal(r.status, 503);
      assert.match(await r.text(), /not built.*npm run build/);
      assert.deepEqual((await json(`${other.url}/v1/runs`)).body, { project: null, runs: [] });
      const one = await json(`${other.url}/v1/runs/x`);
      assert.equal(one.status, 404);
      assert.equal(one.body.error.code, 'no_project');
      assert.deepEqual((await json(`${other.url}/v1/ui`)).body, { project: null, label: null });
    } finally {
      await other.app.close();
    }
  });
});
