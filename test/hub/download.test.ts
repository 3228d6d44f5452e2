import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { cachedPath, fetchEntry, fetchHub, hubEntry, type HubEntry } from '../../src/hub/index.js';

const payload = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7919) % 251));
const sha = createHash('sha256').update(payload).digest('hex');
const EVAL: HubEntry['eval'] = { resize: 256, crop: 224, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], interpolation: 'bilinear' };
const entry = (file: string, sha256: HubEntry['sha256'] = { prefix: sha.slice(0, 8) }, host = 'https://download.pytorch.org/models'): HubEntry => ({
  name: `torchvision:test.${file}`, model: 'resnet18', url: `${host}/${file}`, sha256, eval: EVAL, imagenet: true,
});

let server: Server;
let base: string;
const hits: string[] = [];
const home = mkdtempSync(join(tmpdir(), 'kestrel-home-'));
const env = { home: process.env.KESTREL_HOME, hub: process.env.KESTREL_HUB_URL };

before(async () => {
  server = createServer((req, res) => {
    hits.push(req.url!);
    if (req.url === `/models/good-${sha.slice(0, 8)}.pth`) {
      res.writeHead(200, { 'content-length': payload.length });
      res.end(payload);
    } else if (req.url === '/models/bad-0badc0de.pth') {
      res.writeHead(200, { 'content-length': payload.length });
      res.end(payload);
    } else if (req.url?.startsWith('/models/dropped-')) {
      res.writeHead(200, { 'content-length': payload.length });
      res.write(payload.subarray(0, 100_000), () => res.destroy());
    } else if (req.url === '/timm/tiny/resolve/main/model.safetensors') {
      res.writeHead(302, { location: '/cdn/blob', 'x-linked-etag': `"${sha}"` });
      res.end();
    } else if (req.url === '/cdn/blob') {
      res.writeHead(200, { 'content-length': payload.length });
      res.end(payload);
    } else {
      res.writeHead(404);
      res.end('not found');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  process.env.KESTREL_HOME = home;
  process.env.KESTREL_HUB_URL = base;
});

after(async () => {
  await new Promise((r) => server.close(r));
  rmSync(home, { recursive: true, force: true });
  for (const [k, v] of [['KESTREL_HOME', env.home], ['KESTREL_HUB_URL', env.hub]] as const) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

beforeEach(() => {
  hits.length = 0;
});

/** Nothing but complete, verified files in the cache: no partial file, no leftover temporary. */
const cacheFiles = (): string[] => (existsSync(join(home, 'hub', 'torchvision')) ? readdirSync(join(home, 'hub', 'torchvision')) : []);

describe('hub downloads', () => {
  test('a complete file with the right sha256 prefix is cached under $KESTREL_HOME, then reused without a request', async () => {
    const e = entry(`good-${sha.slice(0, 8)}.pth`);
    const seen: number[] = [];
    const path = await fetchEntry(e, { onProgress: (done, total) => { assert.equal(total, payload.length); seen.push(done); } });
    assert.equal(path, join(home, 'hub', 'torchvision', `good-${sha.slice(0, 8)}.pth`));
    assert.deepEqual(readFileSync(path), payload);
    assert.equal(seen.at(-1), payload.length);
    assert.deepEqual(hits, [`/models/good-${sha.slice(0, 8)}.pth`]);
    assert.equal(await fetchEntry(e), path);
    assert.equal(hits.length, 1);
  });

  test('a wrong checksum keeps nothing and says what was expected and what came', async () => {
    const e = entry('bad-0badc0de.pth', { prefix: '0badc0de' });
    await assert.rejects(fetchEntry(e), (err: Error) => {
      assert.equal(err.message, `${base}/models/bad-0badc0de.pth: sha256 ${sha} does not match the expected 0badc0de…: the download is corrupt or was tampered with; nothing was kept`);
      return true;
    });
    assert.equal(existsSync(cachedPath(e)), false);
    assert.ok(!cacheFiles().some((f) => f.includes('bad-')), cacheFiles().join(', '));
  });

  test('a connection dropped midway keeps nothing and says how far it got', async () => {
    const e = entry(`dropped-${sha.slice(0, 8)}.pth`);
    await assert.rejects(fetchEntry(e), /dropped-[0-9a-f]{8}\.pth: (the connection dropped after \d+ of 300000 bytes|received \d+ of 300000 bytes)/);
    assert.equal(existsSync(cachedPath(e)), false);
    assert.ok(!cacheFiles().some((f) => f.includes('dropped-')), cacheFiles().join(', '));
  });

  test('a 404 names the URL and the hub name', async () => {
    const e = entry('missing-12345678.pth', { prefix: '12345678' });
    await assert.rejects(fetchEntry(e), (err: Error) => {
      assert.equal(err.message, `${base}/models/missing-12345678.pth: HTTP 404, the publisher has no such file (is 'torchvision:test.missing-12345678.pth' right?)`);
      return true;
    });
    assert.equal(existsSync(cachedPath(e)), false);
  });

  test("timm's files are checked against the sha256 the hub states before redirecting", async () => {
    const e: HubEntry = { ...entry('x', { header: 'x-linked-etag' }, 'https://huggingface.co'), name: 'timm:tiny', url: 'https://huggingface.co/timm/tiny/resolve/main/model.safetensors' };
    const path = await fetchEntry(e);
    assert.equal(path, join(home, 'hub', 'timm', 'tiny.safetensors'));
    assert.deepEqual(readFileSync(path), payload);
    assert.deepEqual(hits, ['/timm/tiny/resolve/main/model.safetensors', '/cdn/blob']);
  });

  test('offline: the error names the URL and where to put the file', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    process.env.KESTREL_HUB_URL = `http://127.0.0.1:${port}`;
    try {
      const e = hubEntry('torchvision:resnet18.IMAGENET1K_V1');
      await assert.rejects(fetchHub(e.name), (err: Error) => {
        assert.equal(err.message, `cannot reach http://127.0.0.1:${port}/models/resnet18-f37072fd.pth (connect ECONNREFUSED 127.0.0.1:${port}): offline? download http://127.0.0.1:${port}/models/resnet18-f37072fd.pth yourself and put it at ${join(home, 'hub', 'torchvision', 'resnet18-f37072fd.pth')}`);
        return true;
      });
    } finally {
      process.env.KESTREL_HUB_URL = base;
    }
  });

  test('an unknown hub name lists the publisher\'s names', () => {
    assert.throws(() => hubEntry('torchvision:resnet51.IMAGENET1K_V1'), /^Error: unknown hub name 'torchvision:resnet51\.IMAGENET1K_V1'; known: torchvision:resnet18\.IMAGENET1K_V1, .*torchvision:efficientnet_b0\.IMAGENET1K_V1$/);
    assert.equal(hubEntry('torchvision:resnet50.IMAGENET1K_V2').url, 'https://download.pytorch.org/models/resnet50-11ad3fa6.pth');
    assert.equal(hubEntry('timm:resnet18.a1_in1k').eval.resize, 235);
  });
});
