// A page on another site driving the servers: through DNS rebinding (its own name, resolving to
// 127.0.0.1, in the Host header) or by posting across origins. Both kestrel serve and kestrel ui
// refuse it with 403; kestrel ui takes the same bearer token as kestrel serve (--token,
// $KESTREL_TOKEN).
import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { createServer } from '../../src/serve/index.js';
import { createUiServer, uiExtension } from '../../src/ui/index.js';
import { tempDir } from '../data/make-images.js';
import { tinyClassifier } from '../onnx/models.js';
import { raw } from '../serve/helpers.js';
import { KESTREL, killed, makeLabelProject, startCli } from './fixtures.js';

const tmp = tempDir('ui-guard');
const children: ChildProcess[] = [];
const root = join(tmp.dir, 'photos');
const weights = join(tmp.dir, 'model.onnx');
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  tmp.remove();
});
before(async () => {
  await makeLabelProject(root, 2);
  writeFileSync(weights, tinyClassifier().bytes);
});

const port = (url: string): string => new URL(url).port;

describe('Host and Origin checks, kestrel serve and kestrel ui alike', () => {
  const servers: [string, FastifyInstance][] = [];
  before(async () => {
    const allowedHosts = ['kestrel.example.com', '.corp.example'];
    servers.push(['serve', await createServer({ weights, allowedHosts, threads: 1, workers: 0, extensions: [uiExtension({ label: { root } })] })]);
    servers.push(['ui', await createUiServer({ allowedHosts, label: { root, db: join(tmp.dir, 'ui.db') } })]);
    for (const [, app] of servers) await app.listen({ host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    for (const [, app] of servers) await app.close();
  });
  const urls = (): [string, string][] => servers.map(([name, app]) => [name, `http://127.0.0.1:${(app.server.address() as { port: number }).port}`]);

  it('refuses a Host that is not this server\'s name, before the route runs', async () => {
    for (const [name, url] of urls()) {
      for (const host of [`attacker.example:${port(url)}`, 'attacker.example', `127.0.0.1.attacker.example:${port(url)}`, 'corp.example.attacker.example', 'kestrel.example.com.evil']) {
        const r = await raw(`${url}/v1/label/undo`, { method: 'POST', headers: { host } });
        assert.equal(r.status, 403, `${name} ${host}`);
        assert.equal(r.body.error?.code, 'forbidden_host', `${name} ${host}`);
      }
      const r = await raw(`${url}/v1/ui`, { headers: { host: 'attacker.example' } });
      assert.match(r.body.error!.message, /^Host attacker\.example is not this server's name: start the server with --allowed-hosts attacker\.example/);
    }
  });

  it('answers localhost names, IP addresses and the allowed names', async () => {
    for (const [name, url] of urls()) {
      for (const host of [`127.0.0.1:${port(url)}`, `localhost:${port(url)}`, 'LOCALHOST', 'app.localhost', `[::1]:${port(url)}`, '10.1.2.3:80', 'kestrel.example.com', 'corp.example', 'a.b.corp.example:8443']) {
        const r = await raw(`${url}/v1/ui`, { headers: { host } });
        assert.equal(r.status, 200, `${name} ${host}: ${r.text}`);
      }
    }
  });

  it('refuses a state-changing request from another origin, and nothing else', async () => {
    for (const [name, url] of urls()) {
      const own = { host: `127.0.0.1:${port(url)}` };
      for (const origin of ['http://attacker.example', `http://localhost:${Number(port(url)) + 1}`, 'null', `https://127.0.0.1.evil:${port(url)}`]) {
        for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
          const r = await raw(`${url}/v1/label/undo`, { method, headers: { ...own, origin } });
          assert.equal(r.status, 403, `${name} ${method} from ${origin}`);
          assert.equal(r.body.error?.code, 'forbidden_origin', `${name} ${method} from ${origin}`);
        }
      }
      // Its own origin, an allowed name's, or none (curl) reach the route: undo has nothing to undo.
      for (const origin of [`http://127.0.0.1:${port(url)}`, 'https://kestrel.example.com', undefined]) {
        const r = await raw(`${url}/v1/label/undo`, { method: 'POST', headers: { ...own, ...(origin === undefined ? {} : { origin }) } });
        assert.deepEqual([r.status, r.body.error?.code], [409, 'nothing_to_undo'], `${name} from ${origin}`);
      }
      // A GET changes nothing, and without CORS headers the other site cannot read the answer.
      const get = await raw(`${url}/v1/label/progress`, { headers: { ...own, origin: 'http://attacker.example' } });
      assert.equal(get.status, 200);
    }
  });

  it('refuses a bad --allowed-hosts entry with one line', async () => {
    await assert.rejects(createUiServer({ allowedHosts: ['http://example.com'] }), /^Error: "http:\/\/example\.com" is not a host name for --allowed-hosts/);
    await assert.rejects(createServer({ weights, allowedHosts: ['example.com:8080'] }), /is not a host name for --allowed-hosts/);
  });
});

describe('kestrel ui on the command line', () => {
  const ENV = { ...process.env, KESTREL_TOKEN: '' };

  it('the DNS-rebinding request of the probe is refused, and --allowed-hosts lets a name in', async () => {
    const { child, url } = await startCli(['ui', '--label', root, '--allowed-hosts', 'kestrel.example.com'], children, ENV);
    try {
      const rebound = await raw(`${url}/v1/label/undo`, { method: 'POST', headers: { host: `attacker.example:${port(url)}`, origin: `http://attacker.example:${port(url)}` } });
      assert.deepEqual([rebound.status, rebound.body.error?.code], [403, 'forbidden_host']);
      const named = await raw(`${url}/v1/label/progress`, { headers: { host: `kestrel.example.com:${port(url)}` } });
      assert.equal(named.status, 200);
    } finally {
      child.kill('SIGTERM');
      await killed(child);
    }
  });

  it('takes the token from --token or $KESTREL_TOKEN, as kestrel serve does; the pages stay public', async () => {
    const byFlag = await startCli(['ui', '--label', root, '--token', 'flag-tok'], children, ENV);
    const byEnv = await startCli(['ui', '--label', root], children, { ...ENV, KESTREL_TOKEN: 'env-tok' });
    try {
      for (const [{ url }, token] of [[byFlag, 'flag-tok'], [byEnv, 'env-tok']] as const) {
        const none = await raw(`${url}/v1/label/progress`);
        assert.deepEqual([none.status, none.body.error?.code], [401, 'unauthorized']);
        assert.equal((await raw(`${url}/v1/label/progress`, { headers: { authorization: 'Bearer wrong' } })).status, 401);
        assert.equal((await raw(`${url}/v1/label/undo`, { method: 'POST' })).status, 401);
        const ok = await raw(`${url}/v1/label/progress`, { headers: { authorization: `Bearer ${token}` } });
        assert.deepEqual([ok.status, ok.body.total], [200, 2]);
        assert.notEqual((await raw(`${url}/ui/`)).status, 401, 'the page loads without the token');
      }
    } finally {
      byFlag.child.kill('SIGTERM');
      byEnv.child.kill('SIGTERM');
      await Promise.all([killed(byFlag.child), killed(byEnv.child)]);
    }
  });

  it('--help says how the page gets the token; a bad token is one line and exit code 1', () => {
    const help = spawnSync(process.execPath, [KESTREL, 'ui', '--help'], { encoding: 'utf8', env: ENV });
    assert.match(help.stdout.replace(/\s+/g, ' '), /--token <secret> .*\$KESTREL_TOKEN.* on a 401 they ask for the token once and keep it in this browser's localStorage/);
    assert.match(help.stdout, /--allowed-hosts <list>/);
    const bad = spawnSync(process.execPath, [KESTREL, 'ui', '--label', root, '--port', '0', '--token', 'two words'], { encoding: 'utf8', env: ENV, timeout: 30_000 });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /^kestrel: the token must be non-empty and use only letters.*\n$/);
  });
});
