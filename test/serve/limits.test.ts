// Limits and errors against a real server on loopback: upload size, pixel count (a decompression
// bomb refused before decoding), images per request, the bounded queue (503 + Retry-After),
// request timeouts, bad images and bodies; every error is {error: {code, message}} with its status,
// none leaks a stack trace, and the server keeps answering afterwards.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeImage } from '../../src/data/image.js';
import { contractProps } from '../../src/onnx/contract.js';
import { modelOf, tinyClassifier, valueInfo } from '../onnx/models.js';
import { bombPng, call, errorOf, form, photo, queueReaches, start, type Answer, type Running } from './helpers.js';

let dir: string;
let weights: string;
let png: Buffer;
let jpeg: Buffer;

const post = (s: Running, body: NonNullable<RequestInit['body']>, type?: string, query = ''): Promise<Answer> =>
  call(`${s.url}/v1/predict${query}`, { method: 'POST', body, ...(type === undefined ? {} : { headers: { 'content-type': type } }) });

function expectError(a: Answer, status: number, code: string, message?: RegExp): void {
  assert.equal(a.status, status, a.text);
  const e = errorOf(a);
  assert.equal(e.code, code, a.text);
  if (message) assert.match(e.message, message);
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kestrel-serve-limits-'));
  weights = join(dir, 'tiny.onnx');
  writeFileSync(weights, tinyClassifier({ seed: 3, contract: { transforms: [{ op: 'resize', size: 8 }, { op: 'centerCrop', size: 8 }] } }).bytes);
  png = await photo(16, 12, 1);
  jpeg = await photo(64, 48, 2, 'jpeg');
});

after(() => rmSync(dir, { recursive: true, force: true }));

describe('limits on uploads and images', () => {
  let s: Running;
  before(async () => {
    s = await start({ weights, maxUploadBytes: 64 * 1024, maxImages: 3, maxPixels: 1_000_000 });
  });
  after(() => s.app.close());

  it('refuses a decompression bomb from its header: 413, fast, without decoding it', async () => {
    const bomb = bombPng(16_000, 16_000);
    assert.ok(bomb.length < 64 * 1024, `${bomb.length} bytes on the wire`);
    const rss = process.memoryUsage().rss;
    const t0 = performance.now();
    for (const a of [await post(s, bomb, 'image/png'), await post(s, form({ 'bomb.png': bomb }))]) {
      expectError(a, 413, 'too_many_pixels', /16000×16000 is 256000000 pixels, over the limit of 1000000/);
    }
    assert.ok(performance.now() - t0 < 5000, 'answered without decoding 256 megapixels');
    assert.ok(process.memoryUsage().rss - rss < 150 * 2 ** 20, 'no gigapixel buffer was allocated');
  });

  it('sharp\'s own pixel limit holds while decoding too', async () => {
    await assert.rejects(decodeImage(png, { channels: 3, maxPixels: 100 }), /^ImageError: too many pixels: 16×12 is 192 pixels, over the limit of 100/);
    assert.equal((await decodeImage(png, { channels: 3, maxPixels: 16 * 12 })).width, 16);
  });

  it('refuses an oversized body, raw or multipart, and counts the parts of one request together', async () => {
    const big = Buffer.alloc(200 * 1024, 7);
    expectError(await post(s, big, 'image/png'), 413, 'payload_too_large', /over the limit of 0\.06 MB/);
    expectError(await post(s, form({ 'big.png': big })), 413, 'payload_too_large');
    const half = Buffer.concat([png, Buffer.alloc(40 * 1024)]);
    expectError(await post(s, form({ 'one.png': half, 'two.png': half })), 413, 'payload_too_large');
    // A chunked body (no Content-Length) is counted as it streams.
    const stream = new ReadableStream({ start(c) { for (let i = 0; i < 8; i++) c.enqueue(new Uint8Array(16 * 1024)); c.close(); } });
    expectError(await call(`${s.url}/v1/predict`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: stream, duplex: 'half' } as RequestInit), 413, 'payload_too_large');
  });

  it('refuses more images than --max-images', async () => {
    expectError(await post(s, form({ '1.png': png, '2.png': png, '3.png': png, '4.png': png })), 413, 'too_many_images', /more than 3 images/);
    const ok = await post(s, form({ '1.png': png, '2.png': png, '3.png': png }));
    assert.equal(ok.status, 200, ok.text);
  });

  it('answers 400 for a truncated JPEG, an empty file or a broken header', async () => {
    const truncated = jpeg.subarray(0, Math.floor(jpeg.length * 0.6));
    expectError(await post(s, truncated, 'image/jpeg'), 400, 'bad_image', /^body: truncated file \(the image data ends early\)$/);
    expectError(await post(s, form({ 'cut.jpg': truncated })), 400, 'bad_image', /^cut\.jpg: /);
    expectError(await post(s, form({ 'empty.png': new Uint8Array(0) })), 400, 'bad_image', /empty/);
    expectError(await post(s, jpeg.subarray(0, 100), 'image/jpeg'), 400, 'bad_image', /^body: truncated file/);
    // One bad image fails its request, naming it.
    expectError(await post(s, form({ 'good.png': png, 'cut.jpg': truncated })), 400, 'bad_image', /^cut\.jpg/);
  });

  it('answers 415 for a non-image upload, a vector image and a body that is not an image type', async () => {
    expectError(await post(s, form({ 'notes.txt': Buffer.from('just some text\n') }, undefined, 'text/plain')), 415, 'unsupported_media_type', /^notes\.txt: not an image/);
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect width="8" height="8" fill="red"/></svg>');
    expectError(await post(s, svg, 'image/svg+xml'), 415, 'unsupported_media_type', /svg images are not accepted/);
    expectError(await post(s, 'hello', 'text/plain'), 415, 'unsupported_media_type', /Content-Type text\/plain is not accepted/);
    expectError(await post(s, '{"url": "http://example.com/cat.jpg"}', 'application/json'), 415, 'unsupported_media_type');
  });

  it('answers 400 for a request without an image, a malformed multipart body or a bad query', async () => {
    expectError(await call(`${s.url}/v1/predict`, { method: 'POST' }), 400, 'no_image');
    const fields = new FormData();
    fields.append('url', 'http://example.com/cat.jpg');
    expectError(await post(s, fields), 400, 'no_image', /no file part/);
    const boundary = 'XyZ';
    const broken = `--${boundary}\r\nContent-Disposition: form-data; name="f"; filename="a.png"\r\n\r\n${'x'.repeat(100)}`;
    expectError(await post(s, broken, `multipart/form-data; boundary=${boundary}`), 400, 'bad_request', /malformed multipart body/);
    expectError(await post(s, png, 'image/png', '?topk=0'), 400, 'invalid_request', /topk/);
    expectError(await post(s, png, 'image/png', '?topk=many'), 400, 'invalid_request');
    expectError(await call(`${s.url}/v1/predict`), 404, 'not_found');
  });

  it('answers malformed HTTP with the same error shape', async () => {
    const { port } = new URL(s.url);
    const socket = connect(Number(port), '127.0.0.1');
    socket.end('POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n');
    let raw = '';
    for await (const d of socket) raw += String(d);
    assert.match(raw, /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.deepEqual(JSON.parse(raw.split('\r\n\r\n')[1]!), { error: { code: 'bad_request', message: 'malformed HTTP request' } });
  });

  it('keeps serving after all that, and after a burst of bad requests', async () => {
    const bad = Array.from({ length: 20 }, (_, i) => post(s, i % 2 ? jpeg.subarray(0, 300 + i) : Buffer.from(`junk ${i}`), 'image/jpeg'));
    const good = Array.from({ length: 4 }, () => post(s, png, 'image/png'));
    for (const a of await Promise.all(bad)) assert.ok(a.status === 400 || a.status === 415, a.text);
    for (const a of await Promise.all(good)) assert.equal(a.status, 200, a.text);
    assert.equal((await call(`${s.url}/healthz`)).status, 200);
  });
});

describe('queue and time limits', () => {
  it('answers 503 with Retry-After when the queue is full, and serves again once it drains', async () => {
    // Images wait up to 1.5 s for company, so the first request holds both queue places meanwhile.
    const s = await start({ weights, maxQueue: 2, maxImages: 2, maxBatch: 8, maxWaitMs: 1500, workers: 0 });
    try {
      const first = post(s, form({ 'a.png': png, 'b.png': png }));
      assert.ok(await queueReaches(s.url, 2, first), 'the first request was answered before its two images were seen in the queue');
      const full = await post(s, png, 'image/png');
      expectError(full, 503, 'overloaded', /busy/);
      assert.equal(full.headers.get('retry-after'), '1');
      assert.equal((await first).status, 200);
      assert.equal((await post(s, png, 'image/png')).status, 200);
    } finally {
      await s.app.close();
    }
  });

  it('answers 503 with Retry-After when a request is not done in --timeout-ms, and drops its images from the queue', async () => {
    const s = await start({ weights, timeoutMs: 300, maxBatch: 8, maxWaitMs: 5000, workers: 0 });
    try {
      const t0 = performance.now();
      const a = await post(s, png, 'image/png');
      const took = performance.now() - t0;
      expectError(a, 503, 'timeout', /not answered within 300 ms/);
      assert.equal(a.headers.get('retry-after'), '1');
      assert.ok(took >= 290 && took < 3000, `answered after ${took} ms`);
      const metrics = (await call(`${s.url}/metrics`)).text;
      assert.match(metrics, /^kestrel_queue_depth 0$/m);
      assert.match(metrics, /^kestrel_images_in_flight 0$/m);
      assert.match(metrics, /^kestrel_batch_size_count 0$/m, 'the abandoned image never ran');
    } finally {
      await s.app.close();
    }
  });

  it('a model that fails at run time gives a bare 500, without details', async () => {
    const broken = join(dir, 'broken.onnx');
    // A Flatten "classifier" with a free class count: its 2 names meet its 192 outputs only when it runs.
    const contract = { ...tinyClassifier().contract!, names: ['a', 'b'], transforms: [{ op: 'resize' as const, size: [8, 8] as [number, number] }] };
    writeFileSync(broken, modelOf([{ opType: 'Flatten', input: ['images'], output: ['logits'] }], [], valueInfo('images', ['N', 3, 'h', 'w']), valueInfo('logits', ['N', 'k']), contractProps(contract)));
    const s = await start({ weights: broken, workers: 0 });
    try {
      const a = await post(s, png, 'image/png');
      expectError(a, 500, 'internal');
      assert.equal(errorOf(a).message, 'internal server error');
      assert.equal((await call(`${s.url}/healthz`)).status, 200);
    } finally {
      await s.app.close();
    }
  });

  it('refuses bad options and models with one-line errors', async () => {
    await assert.rejects(start({ weights, maxBatch: 0 }), /^RangeError: maxBatch must be a positive integer, got 0$/);
    await assert.rejects(start({ weights, maxWaitMs: -5 }), /maxWaitMs must be an integer ≥ 0, got -5/);
    await assert.rejects(start({ weights, maxQueue: 2, maxImages: 4 }), /maxQueue \(2\) must be at least maxImages \(4\)/);
    await assert.rejects(start({ weights, token: 'has space' }), /the token must be non-empty and use only letters/);
    await assert.rejects(start({ weights, token: '' }), /the token must be non-empty/);
    await assert.rejects(start({ weights: join(dir, 'model.h5') }), /takes an \.onnx model or a \.safetensors checkpoint \(got a \.h5 file\)/);
    await assert.rejects(start({ weights: join(dir, 'missing.onnx') }), /missing\.onnx: no such file/);
    await assert.rejects(start({ weights, extensions: [async () => { throw new Error('the web UI failed to load'); }] }), /the web UI failed to load/);
  });
});
