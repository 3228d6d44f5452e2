// The HTTP API against a real server on loopback: every route, the token check (extensions' routes
// included), predictions equal to `kestrel predict`'s, the OpenAPI document, the metrics, and
// micro-batching seen through the metrics.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tinyClassifier } from '../onnx/models.js';
import { predict, type Prediction } from '../../src/tasks/classify/predict.js';
import { call, errorOf, form, photo, start, type Running } from './helpers.js';

const TOKEN = 'open-sesame_42';
const AUTH = { authorization: `Bearer ${TOKEN}` };
const TRANSFORMS = [{ op: 'resize' as const, size: 8 }, { op: 'centerCrop' as const, size: 8 }];
let dir: string;
let weights: string;
const images = new Map<string, Buffer>();

type Top = { label: string; score: number }[];
type Predictions = { predictions: { source: string; top: Top }[] };

/** What `kestrel predict` prints for a file: the reference for the server's answers. */
async function cliTop(file: string, topk: number): Promise<Top> {
  const out: Prediction[] = [];
  for await (const r of predict({ weights, source: join(dir, file), topk, threads: 1, workers: 0 })) out.push(r);
  assert.equal(out.length, 1);
  assert.ok('top' in out[0]!, JSON.stringify(out[0]));
  return out[0].top;
}

/** Samples of one metric from Prometheus text, by their label text. */
function samples(text: string, name: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    const r = new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`).exec(line);
    if (r) m.set(r[1] ?? '', Number(r[2]));
  }
  return m;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kestrel-serve-'));
  weights = join(dir, 'tiny.onnx');
  writeFileSync(weights, tinyClassifier({ seed: 7, classes: 5, contract: { names: ['ant', 'bee', 'cat', 'dog', 'eel'], transforms: TRANSFORMS } }).bytes);
  for (const [name, w, h, seed, fmt] of [['a.png', 8, 8, 1, 'png'], ['b.png', 12, 9, 2, 'png'], ['c.jpg', 20, 16, 3, 'jpeg'], ['d.png', 9, 14, 4, 'png']] as const) {
    const bytes = await photo(w, h, seed, fmt);
    images.set(name, bytes);
    writeFileSync(join(dir, name), bytes);
  }
});

after(() => rmSync(dir, { recursive: true, force: true }));

describe('routes, with a token', () => {
  let s: Running;
  before(async () => {
    s = await start({
      weights, token: TOKEN, maxBatch: 8, maxWaitMs: 2,
      extensions: [async (app) => {
        app.get('/ext/hello', async () => ({ hello: 'world' }));
        app.get('/ext/public', { config: { auth: false } }, async () => ({ open: true }));
      }],
    });
  });
  after(() => s.app.close());

  it('GET /healthz needs no token', async () => {
    const a = await call(`${s.url}/healthz`);
    assert.equal(a.status, 200);
    assert.deepEqual(a.body, { status: 'ok' });
  });

  it('every other route, an extension\'s and an unknown one included, answers 401 without the right token', async () => {
    const routes: [string, RequestInit][] = [
      ['/v1/models', {}], ['/v1/models/default/model.onnx', {}], ['/metrics', {}], ['/openapi.json', {}], ['/ext/hello', {}], ['/nowhere', {}],
      ['/v1/predict', { method: 'POST', headers: { 'content-type': 'image/png' }, body: images.get('a.png')! }],
    ];
    for (const [route, init] of routes) {
      for (const header of [undefined, 'Bearer wrong', `Basic ${TOKEN}`, `Bearer ${TOKEN}x`, 'Bearer']) {
        const headers = { ...(init.headers as Record<string, string>), ...(header === undefined ? {} : { authorization: header }) };
        const a = await call(`${s.url}${route}`, { ...init, headers });
        assert.equal(a.status, 401, `${route} with ${header}`);
        assert.equal(errorOf(a).code, 'unauthorized');
        assert.equal(a.headers.get('www-authenticate'), 'Bearer realm="kestrel"');
      }
    }
    assert.equal(errorOf(await call(`${s.url}/v1/models`)).message, 'missing bearer token (send Authorization: Bearer <token>)');
    assert.deepEqual((await call(`${s.url}/ext/hello`, { headers: AUTH })).body, { hello: 'world' });
    assert.deepEqual((await call(`${s.url}/ext/public`)).body, { open: true });
    assert.equal((await call(`${s.url}/v1/models`, { headers: { authorization: `bearer   ${TOKEN}` } })).status, 200, 'the scheme is case-insensitive');
  });

  it('GET /v1/models describes the model and its preprocessing', async () => {
    const a = await call(`${s.url}/v1/models`, { headers: AUTH });
    assert.equal(a.status, 200);
    const mean = [0.485, 0.456, 0.406];
    const std = [0.229, 0.224, 0.225];
    assert.deepEqual(a.body, {
      models: [{
        id: 'default', task: 'classify', names: ['ant', 'bee', 'cat', 'dog', 'eel'], imgsz: [8, 8], channels: 3, mean, std,
        transforms: [...TRANSFORMS, { op: 'normalize', mean, std }], output: 'logits', precision: 'fp32', onnx: '/v1/models/default/model.onnx',
      }],
    });
  });

  it('GET /v1/models/default/model.onnx sends the file, with an ETag that answers 304', async () => {
    const r = await fetch(`${s.url}/v1/models/default/model.onnx`, { headers: AUTH });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'application/octet-stream');
    assert.deepEqual(Buffer.from(await r.arrayBuffer()), readFileSync(weights));
    const etag = r.headers.get('etag')!;
    assert.match(etag, /^"[\w-]{43}"$/);
    const again = await fetch(`${s.url}/v1/models/default/model.onnx`, { headers: { ...AUTH, 'if-none-match': etag } });
    assert.equal(again.status, 304);
  });

  it('POST /v1/predict with several multipart files gives kestrel predict\'s results, in order', async () => {
    const fd = form({ 'b.png': images.get('b.png')!, 'a.png': images.get('a.png')! }, 'images');
    fd.append('note', 'fields that are not files are ignored');
    fd.append('other', new Blob([images.get('c.jpg')!], { type: 'image/jpeg' }), 'c.jpg');
    const a = await call(`${s.url}/v1/predict?topk=3`, { method: 'POST', headers: AUTH, body: fd });
    assert.equal(a.status, 200, a.text);
    const want = { predictions: [] as { source: string; top: Top }[] };
    for (const f of ['b.png', 'a.png', 'c.jpg']) want.predictions.push({ source: f, top: await cliTop(f, 3) });
    assert.deepEqual(a.body, want);
    assert.notDeepEqual(want.predictions[0]!.top, want.predictions[1]!.top, 'the images are told apart');
  });

  it('POST /v1/predict with a raw image body; topk defaults to 5 and is capped by the classes', async () => {
    for (const [f, type] of [['d.png', 'image/png'], ['c.jpg', 'image/jpeg'], ['a.png', 'application/octet-stream']] as const) {
      const a = await call(`${s.url}/v1/predict`, { method: 'POST', headers: { ...AUTH, 'content-type': type }, body: images.get(f)! });
      assert.equal(a.status, 200, a.text);
      assert.deepEqual(a.body, { predictions: [{ source: 'body', top: await cliTop(f, 5) }] });
      const top = (a.body as Predictions).predictions[0]!.top;
      assert.equal(top.length, 5);
      assert.ok(Math.abs(top.reduce((t, p) => t + p.score, 0) - 1) < 1e-5, 'softmax over every class');
    }
    const one = await call(`${s.url}/v1/predict?topk=50`, { method: 'POST', headers: { ...AUTH, 'content-type': 'image/png' }, body: images.get('a.png')! });
    assert.equal((one.body as Predictions).predictions[0]!.top.length, 5);
  });

  it('GET /openapi.json documents the routes from their schemas', async () => {
    const a = await call(`${s.url}/openapi.json`, { headers: AUTH });
    assert.equal(a.status, 200);
    const doc = a.body as { openapi: string; info: { title: string }; paths: Record<string, Record<string, Record<string, unknown>>>; components: { securitySchemes: unknown }; security: unknown };
    assert.equal(doc.openapi, '3.0.3');
    assert.equal(doc.info.title, 'Kestrel image classification');
    assert.deepEqual(Object.keys(doc.paths).sort(), ['/ext/hello', '/ext/public', '/healthz', '/metrics', '/v1/models', '/v1/models/default/model.onnx', '/v1/predict']);
    const post = doc.paths['/v1/predict']!.post! as { requestBody: { content: Record<string, unknown> }; responses: Record<string, unknown>; parameters: { name: string }[] };
    assert.deepEqual(Object.keys(post.requestBody.content).sort(), ['application/octet-stream', 'image/*', 'multipart/form-data']);
    assert.deepEqual(Object.keys(post.responses).sort(), ['200', '400', '401', '413', '415', '503']);
    assert.deepEqual(post.parameters.map((p) => p.name), ['topk']);
    assert.deepEqual(doc.paths['/healthz']!.get!.security, []);
    assert.deepEqual(doc.components.securitySchemes, { bearer: { type: 'http', scheme: 'bearer' } });
    assert.deepEqual(doc.security, [{ bearer: [] }]);
  });

  it('GET /metrics counts requests by route and status, images, batches and the queue', async () => {
    const before = samples((await call(`${s.url}/metrics`, { headers: AUTH })).text, 'kestrel_http_requests_total');
    const key = '{method="POST",route="/v1/predict",status_code="200"}';
    await call(`${s.url}/v1/predict`, { method: 'POST', headers: { ...AUTH, 'content-type': 'image/png' }, body: images.get('a.png')! });
    await call(`${s.url}/v1/predict`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: images.get('a.png')! });
    await call(`${s.url}/no/such/route`, { headers: AUTH });
    const a = await call(`${s.url}/metrics`, { headers: AUTH });
    assert.equal(a.status, 200);
    assert.match(a.headers.get('content-type')!, /^text\/plain; version=0\.0\.4/);
    const after = samples(a.text, 'kestrel_http_requests_total');
    assert.equal(after.get(key)! - (before.get(key) ?? 0), 1);
    assert.equal(after.get('{method="POST",route="/v1/predict",status_code="401"}')! - (before.get('{method="POST",route="/v1/predict",status_code="401"}') ?? 0), 1);
    assert.ok(after.get('{method="GET",route="unmatched",status_code="404"}')! >= 1, 'unknown URLs share one label');
    const classified = samples(a.text, 'kestrel_images_total').get('')!;
    const batched = samples(a.text, 'kestrel_batch_size_sum').get('')!;
    assert.equal(classified, 8, 'the images of the predict tests above and this one');
    assert.equal(batched, classified, 'every image classified went through a batch');
    assert.equal(samples(a.text, 'kestrel_queue_depth').get(''), 0);
    assert.equal(samples(a.text, 'kestrel_images_in_flight').get(''), 0);
    assert.ok(samples(a.text, 'kestrel_http_request_duration_seconds_count').get(`{method="POST",route="/v1/predict",status_code="200"}`)! >= 1);
    assert.ok(samples(a.text, 'process_resident_memory_bytes').get('')! > 1e6);
  });
});

describe('micro-batching', () => {
  async function burst(o: { maxBatch: number; maxWaitMs: number }, n: number): Promise<{ batches: Map<string, number>; results: Top[] }> {
    const s = await start({ weights, ...o, workers: 0 });
    try {
      const names = [...images.keys()];
      const answers = await Promise.all(Array.from({ length: n }, (_, i) => call(`${s.url}/v1/predict`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: images.get(names[i % names.length]!)! })));
      answers.forEach((a) => assert.equal(a.status, 200, a.text));
      const text = (await call(`${s.url}/metrics`)).text;
      const batches = new Map([...samples(text, 'kestrel_batch_size_count'), ...samples(text, 'kestrel_batch_size_bucket')]);
      return { batches, results: answers.map((a) => (a.body as Predictions).predictions[0]!.top) };
    } finally {
      await s.app.close();
    }
  }

  it('runs concurrent requests as one batch, and one by one with --max-batch 1, with the same results', async () => {
    const together = await burst({ maxBatch: 8, maxWaitMs: 3000 }, 8);
    assert.equal(together.batches.get(''), 1, 'one batch');
    assert.equal(together.batches.get('{le="4"}'), 0);
    assert.equal(together.batches.get('{le="8"}'), 1, 'of 8 images');
    const alone = await burst({ maxBatch: 1, maxWaitMs: 0 }, 8);
    assert.equal(alone.batches.get(''), 8);
    assert.equal(alone.batches.get('{le="1"}'), 8);
    together.results.forEach((top, i) => top.forEach((t, j) => {
      assert.equal(t.label, alone.results[i]![j]!.label);
      assert.ok(Math.abs(t.score - alone.results[i]![j]!.score) <= 1e-6);
    }));
  });

  it('caps batches at the batch size of a fixed-batch model', async () => {
    const fixed = join(dir, 'fixed2.onnx');
    writeFileSync(fixed, tinyClassifier({ seed: 7, batch: 2, classes: 5, contract: { names: ['ant', 'bee', 'cat', 'dog', 'eel'], transforms: TRANSFORMS } }).bytes);
    const s = await start({ weights: fixed, maxBatch: 16, maxWaitMs: 50, workers: 0 });
    try {
      const fd = form(Object.fromEntries([...images].slice(0, 4)));
      fd.append('e', new Blob([images.get('a.png')!]), 'e.png');
      const a = await call(`${s.url}/v1/predict?topk=1`, { method: 'POST', body: fd });
      assert.equal(a.status, 200, a.text);
      assert.deepEqual((a.body as Predictions).predictions.map((p) => p.top[0]!.label), await Promise.all(['a.png', 'b.png', 'c.jpg', 'd.png', 'a.png'].map(async (f) => (await cliTop(f, 1))[0]!.label)));
      const text = (await call(`${s.url}/metrics`)).text;
      assert.equal(samples(text, 'kestrel_batch_size_count').get(''), 3, 'batches of 2, 2 and 1');
      assert.equal(samples(text, 'kestrel_batch_size_bucket').get('{le="2"}'), 3);
    } finally {
      await s.app.close();
    }
  });
});
