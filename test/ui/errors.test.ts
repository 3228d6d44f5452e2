// One error module for kestrel serve and the web UI: Fastify's own errors carry the code of their
// status (a 403 is `forbidden`, a 415 `unsupported_media_type`, not `bad_request`), a 500 tells
// the client nothing of its cause (the log has it), and both servers answer the same failure
// with the same body.
import assert from 'node:assert/strict';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { describeError, installHttpPolicy } from '../../src/http/index.js';
import { createServer, HttpError as ServeHttpError } from '../../src/serve/index.js';
import { createUiServer, HttpError as UiHttpError, uiPlugin } from '../../src/ui/index.js';
import { tempDir } from '../data/make-images.js';
import { tinyClassifier } from '../onnx/models.js';
import { json, makeLabelProject, serveUi } from './fixtures.js';

const tmp = tempDir('ui-errors');
const uiDir = join(tmp.dir, 'built');
const root = join(tmp.dir, 'photos');
let ui: { app: FastifyInstance; url: string };

before(async () => {
  mkdirSync(uiDir, { recursive: true });
  writeFileSync(join(uiDir, 'index.html'), '<!doctype html><title>Kestrel</title>');
  await makeLabelProject(root, 2);
  ui = await serveUi({ label: { root }, uiDir });
});
after(async () => {
  await ui.app.close();
  tmp.remove();
});

describe('error codes follow their statuses', () => {
  it('Fastify\'s and @fastify/static\'s own errors on the UI routes', async () => {
    const xml = await json(`${ui.url}/v1/label`, { method: 'POST', headers: { 'content-type': 'application/xml' }, body: '<label/>' });
    assert.deepEqual([xml.status, xml.body.error.code], [415, 'unsupported_media_type']);
    const big = await json(`${ui.url}/v1/label`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ image: 'x'.repeat(2 ** 21), class: 'cat' }) });
    assert.deepEqual([big.status, big.body.error.code], [413, 'payload_too_large']);
    // send's path check refuses an encoded ../ in a page path with 403.
    const up = await json(`${ui.url}/ui/a%2f..%2f..%2fsecret`);
    assert.deepEqual([up.status, up.body.error.code], [403, 'forbidden']);
    const schema = await json(`${ui.url}/v1/label`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"image": "img1.png"}' });
    assert.deepEqual([schema.status, schema.body.error.code], [400, 'invalid_request'], 'a body that fails its schema, as on serve');
  });

  it('each status a Fastify error can carry maps to its own code', () => {
    const cases: [number, string][] = [
      [400, 'bad_request'], [401, 'unauthorized'], [403, 'forbidden'], [404, 'not_found'], [405, 'method_not_allowed'], [409, 'conflict'],
      [413, 'payload_too_large'], [415, 'unsupported_media_type'], [416, 'range_not_satisfiable'], [429, 'too_many_requests'], [431, 'headers_too_large'],
    ];
    for (const [status, code] of cases) {
      const e = Object.assign(new Error('some reason'), { statusCode: status });
      assert.deepEqual(describeError(e), { status, code, message: 'some reason' }, String(status));
    }
    assert.deepEqual(describeError(Object.assign(new Error('x'), { statusCode: 415, code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE' })).code, 'unsupported_media_type');
  });

  it('our own errors take their status from their code', () => {
    assert.equal(ServeHttpError, UiHttpError, 'serve and ui export the one error type');
    for (const [code, status] of [['forbidden_type', 403], ['outside_root', 403], ['no_such_run', 404], ['already_applied', 409], ['too_many_pixels', 413], ['overloaded', 503]] as const) {
      assert.equal(new UiHttpError(code, 'm').statusCode, status, code);
    }
  });
});

describe('a 500 says nothing of its cause', () => {
  it('the UI answers a generic line, and the log has the real message', async () => {
    const lines: string[] = [];
    const stream = new Writable({ write: (chunk: Buffer, _enc, done) => { lines.push(chunk.toString()); done(); } });
    const app = Fastify({ logger: { level: 'error', stream } });
    installHttpPolicy(app, {});
    await app.register(uiPlugin, { label: { root } });
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      // unlabelled/ gone while the server runs: reading it fails with an error naming the absolute path.
      renameSync(join(root, 'unlabelled'), join(root, 'moved-away'));
      for (const base of [url, ui.url]) {
        const r = await json(`${base}/v1/label/next`);
        assert.equal(r.status, 500);
        assert.deepEqual(r.body, { error: { code: 'internal', message: 'internal server error' } });
      }
      assert.equal(lines.length, 1);
      assert.match(lines[0]!, /ENOENT: no such file or directory, scandir '[^']*unlabelled'/);
    } finally {
      renameSync(join(root, 'moved-away'), join(root, 'unlabelled'));
      await app.close();
    }
  });
});

describe('serve and the UI answer alike', () => {
  it('an unknown route and a missing token give the same body on both servers', async () => {
    const weights = join(tmp.dir, 'model.onnx');
    writeFileSync(weights, tinyClassifier().bytes);
    const serve = await createServer({ weights, token: 'tok', threads: 1, workers: 0 });
    const alone = await createUiServer({ token: 'tok', uiDir });
    try {
      const answers = await Promise.all([serve, alone].map(async (app) => {
        const nowhere = await app.inject({ url: '/nowhere', headers: { authorization: 'Bearer tok' } });
        const noToken = await app.inject({ url: '/v1/ui' });
        return [nowhere.statusCode, nowhere.json(), noToken.statusCode, noToken.headers['www-authenticate'], noToken.json()];
      }));
      assert.deepEqual(answers[0], [404, { error: { code: 'not_found', message: 'no route for GET /nowhere' } }, 401, 'Bearer realm="kestrel"',
        { error: { code: 'unauthorized', message: 'missing bearer token (send Authorization: Bearer <token>)' } }]);
      assert.deepEqual(answers[1], answers[0]);
    } finally {
      await serve.close();
      await alone.close();
    }
  });
});
