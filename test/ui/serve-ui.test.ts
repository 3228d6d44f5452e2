// The UI inside kestrel serve's server: under a bearer token the pages stay public (a browser must
// load them before it can send the token) while every /v1 route of the UI needs the token; the
// prediction API and the UI's routes live side by side.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { createServer } from '../../src/serve/index.js';
import { uiExtension } from '../../src/ui/index.js';
import { tempDir } from '../data/make-images.js';
import { tinyClassifier } from '../onnx/models.js';
import { json, makeLabelProject, makeRunsProject, post } from './fixtures.js';

const TOKEN = 's3cret-token';
const tmp = tempDir('ui-serve');
let app: FastifyInstance;
let url: string;
const auth = { authorization: `Bearer ${TOKEN}` };

before(async () => {
  const { project } = await makeRunsProject(tmp.dir);
  await makeLabelProject(join(tmp.dir, 'photos'), 3);
  const uiDir = join(tmp.dir, 'built');
  mkdirSync(join(uiDir, 'assets'), { recursive: true });
  writeFileSync(join(uiDir, 'index.html'), '<!doctype html><title>Kestrel</title>');
  writeFileSync(join(uiDir, 'assets', 'app.js'), '');
  writeFileSync(join(tmp.dir, 'model.onnx'), tinyClassifier().bytes);
  app = await createServer({ weights: join(tmp.dir, 'model.onnx'), token: TOKEN, threads: 1, workers: 0, extensions: [uiExtension({ project, label: { root: join(tmp.dir, 'photos') }, uiDir })] });
  url = await app.listen({ host: '127.0.0.1', port: 0 });
});
after(async () => {
  await app.close();
  tmp.remove();
});

describe('the UI under kestrel serve with a token', () => {
  it('serves the pages without the token, with the isolation headers', async () => {
    for (const path of ['/ui/', '/ui/assets/app.js']) {
      const r = await fetch(`${url}${path}`);
      assert.equal(r.status, 200, path);
      assert.equal(r.headers.get('cross-origin-opener-policy'), 'same-origin', path);
      assert.equal(r.headers.get('cross-origin-embedder-policy'), 'require-corp', path);
    }
    const root = await fetch(`${url}/`, { redirect: 'manual' });
    assert.equal(root.headers.get('location'), '/ui/');
  });

  it('refuses every UI route without the token and answers with it', async () => {
    const routes: [string, RequestInit?][] = [
      ['/v1/ui'], ['/v1/runs'], [`/v1/runs/${encodeURIComponent('classify/train1')}`], [`/v1/runs/${encodeURIComponent('classify/train1')}/files/results.png`],
      ['/v1/label'], ['/v1/label/next'], ['/v1/label/images/img1.png'], ['/v1/label/export.csv'], ['/v1/label/undo', { method: 'POST' }],
    ];
    for (const [path, init] of routes) {
      const r = await json(`${url}${path}`, init);
      assert.equal(r.status, 401, path);
      assert.equal(r.body.error.code, 'unauthorized', path);
    }
    const label = await json(`${url}/v1/label`, post({ image: 'img1.png', class: 'cat' }));
    assert.equal(label.status, 401);
    const withToken = await json(`${url}/v1/label`, { ...post({ image: 'img1.png', class: 'cat' }), headers: { ...auth, 'content-type': 'application/json' } });
    assert.equal(withToken.status, 200);
    assert.equal(withToken.body.image, 'img2.png');
    const runs = await json(`${url}/v1/runs`, { headers: auth });
    assert.deepEqual(runs.body.runs.map((r: { id: string }) => r.id), ['classify/train1', 'classify/val1']);
  });

  it('keeps the prediction API beside the UI routes', async () => {
    const models = await json(`${url}/v1/models`, { headers: auth });
    assert.equal(models.status, 200);
    assert.equal(models.body.models[0].onnx, '/v1/models/default/model.onnx');
    const bytes = await fetch(`${url}${models.body.models[0].onnx}`, { headers: auth });
    assert.equal(bytes.status, 200);
    assert.ok((await bytes.arrayBuffer()).byteLength > 100);
  });
});
