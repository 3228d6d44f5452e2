// `kestrel serve` as a process: it serves without the libtorch addon, finishes a request in flight
// on SIGTERM and exits 0, reads the token from $KESTREL_TOKEN, and fails with one line on bad input.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tinyClassifier } from '../onnx/models.js';
import { call, errorOf, photo, queueReaches, raw } from './helpers.js';

const main = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
// The addon path points nowhere: loading libtorch would fail, so serving proves it is never loaded.
const ENV = { ...process.env, KESTREL_ADDON: '/nonexistent/kestrel.node', KESTREL_TOKEN: '' };
let dir: string;
let weights: string;
let png: Buffer;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kestrel-serve-cli-'));
  weights = join(dir, 'tiny.onnx');
  writeFileSync(weights, tinyClassifier({ contract: { transforms: [{ op: 'resize', size: 8 }, { op: 'centerCrop', size: 8 }] } }).bytes);
  png = await photo(10, 10, 5);
});

after(() => rmSync(dir, { recursive: true, force: true }));

/** Starts `kestrel serve` on a free port and resolves with its URL once it listens. */
async function serve(args: string[], env: NodeJS.ProcessEnv = ENV): Promise<{ child: ChildProcess; url: string; stderr: () => string }> {
  const child = spawn(process.execPath, [main, 'serve', '--weights', weights, '--port', '0', '--threads', '1', '--workers', '1', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no address after 60 s: ${err}`)), 60_000);
    child.stderr!.on('data', () => {
      const m = /at (http:\/\/127\.0\.0\.1:\d+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.on('exit', (code) => reject(new Error(`exited with ${code}: ${err}`)));
  });
  return { child, url, stderr: () => err };
}

it('serves without libtorch and, on SIGTERM, finishes the request in flight and exits 0', async () => {
  // Images wait up to 20 s for company: only the shutdown's flush lets the request finish early.
  const { child, url, stderr } = await serve(['--max-wait-ms', '20000', '--max-batch', '8']);
  const exited = once(child, 'exit');
  assert.equal((await call(`${url}/healthz`)).status, 200);
  const maps = `/proc/${child.pid}/maps`;
  if (existsSync(maps)) assert.doesNotMatch(readFileSync(maps, 'utf8'), /libtorch|kestrel\.node/, 'libtorch is not loaded');
  const t0 = performance.now();
  const inFlight = call(`${url}/v1/predict?topk=2`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: png });
  assert.ok(await queueReaches(url, 1, inFlight), 'the request was answered before its image was seen in the queue');
  child.kill('SIGTERM');
  const a = await inFlight;
  assert.equal(a.status, 200, a.text);
  const top = (a.body as { predictions: { source: string; top: { label: string }[] }[] }).predictions[0]!;
  assert.equal(top.source, 'body');
  assert.equal(top.top.length, 2);
  assert.ok(performance.now() - t0 < 15_000, 'the waiting image ran at shutdown, not after --max-wait-ms');
  const [code, signal] = await exited;
  assert.equal(signal, null);
  assert.equal(code, 0, stderr());
  assert.match(stderr(), /SIGTERM: finishing requests in flight, then exiting/);
  await assert.rejects(fetch(`${url}/healthz`), 'the listener is closed');
});

it('kestrel/serve works as a library in a process without libtorch', () => {
  const script = `
    import { readFileSync } from 'node:fs';
    import { createServer } from 'kestrel/serve';
    const [weights, image] = process.argv.slice(1);
    const app = await createServer({ weights, threads: 1, workers: 0 });
    const r = await app.inject({ method: 'POST', url: '/v1/predict?topk=1', headers: { 'content-type': 'image/png' }, payload: readFileSync(image) });
    console.log(r.statusCode, r.body);
    await app.close();`;
  writeFileSync(join(dir, 'p.png'), png);
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, weights, join(dir, 'p.png')], { cwd: process.cwd(), env: ENV, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^200 \{"predictions":\[\{"source":"body","top":\[\{"label":"class\d","score":0\.\d+\}\]\}\]\}\n$/);
});

it('takes the token from $KESTREL_TOKEN, and answers only to its own names and --allowed-hosts', async () => {
  const { child, url } = await serve(['--allowed-hosts', 'kestrel.example.com,.corp.example'], { ...ENV, KESTREL_TOKEN: 'from-env' });
  try {
    assert.equal(errorOf(await call(`${url}/v1/models`)).code, 'unauthorized');
    assert.equal((await call(`${url}/v1/models`, { headers: { authorization: 'Bearer from-env' } })).status, 200);
    assert.equal((await call(`${url}/healthz`)).status, 200);
    const auth = { authorization: 'Bearer from-env' };
    for (const [host, status] of [['attacker.example', 403], ['kestrel.example.com', 200], ['ml.corp.example', 200], ['localhost', 200]] as const) {
      const r = await raw(`${url}/v1/models`, { headers: { ...auth, host } });
      assert.equal(r.status, status, host);
      if (status === 403) assert.equal(r.body.error?.code, 'forbidden_host');
    }
  } finally {
    child.kill('SIGTERM');
    await once(child, 'exit');
  }
});

it('bad input: one line, exit code 1', () => {
  const run = (args: string[]): { code: number | null; err: string } => {
    const r = spawnSync(process.execPath, [main, 'serve', ...args], { env: ENV, encoding: 'utf8', timeout: 60_000 });
    return { code: r.status, err: r.stderr };
  };
  for (const [args, msg] of [
    [['--weights', join(dir, 'best.safetensors')], /best\.safetensors: no such checkpoint/],
    [['--weights', join(dir, 'model.pt')], /takes an \.onnx model or a \.safetensors checkpoint \(got a \.pt file\)/],
    [['--weights', join(dir, 'nope.onnx')], /nope\.onnx: no such file/],
    [['--weights', weights, '--max-batch', '0'], /--max-batch <n>' argument '0' is invalid/],
    [['--weights', weights, '--port', '70000'], /expected a port number/],
    [['--weights', weights, '--token', 'two words'], /the token must be non-empty and use only/],
    [[], /required option '--weights <file>' not specified/],
  ] as const) {
    const r = run([...args]);
    assert.equal(r.code, 1, r.err);
    assert.match(r.err, /^kestrel: .+\n$/);
    assert.match(r.err, msg);
  }
});
