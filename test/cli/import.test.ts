// `kestrel import` through the command line: the acceptance path (import, then predict --topk 5)
// and its one-line failures (a hostile pickle, an unknown hub name, no network).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FIXTURES } from '../helpers.js';
import { IMAGENET_WEIGHTS, imagenetWeightsMissing } from '../imagenet-weights.js';

const main = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'kestrel-import-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function kestrel(args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [main, ...args], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, KESTREL_HOME: join(dir, 'home'), ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A port nothing listens on: the "offline" case without touching the network. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe('kestrel import (CLI)', () => {
  interface Top { label: string; score: number }
  const expected = (JSON.parse(readFileSync(join(FIXTURES, 'imagenet', 'expected.json'), 'utf8')) as { models: Record<string, { top5: Top[] }> }).models;
  // Issue 15's acceptance: each model in both formats, imported and run through the CLI.
  for (const [name, e] of Object.entries(expected)) {
    for (const layout of ['zip', 'legacy']) {
      it(`imports torchvision's ${name} (${layout}); predict --topk 5 gives torchvision's five classes and scores (1e-4)`, (t) => {
        const missing = imagenetWeightsMissing();
        if (missing) return t.skip(missing);
        const weights = join(IMAGENET_WEIGHTS, `${name}_${layout}.pth`);
        const out = join(dir, `${name}_${layout}.safetensors`);
        const imp = kestrel(['import', '--weights', weights, '--model', name, '-o', out]);
        assert.equal(imp.status, 0, imp.stderr);
        const how = name === 'efficientnet_b0' ? 'bicubic' : 'bilinear';
        assert.match(imp.stdout, new RegExp(`${name}_${layout}\\.pth \\(pth\\) → .*${name}_${layout}\\.safetensors: ${name}, \\d+ tensors \\(names as they are\\), 1000 classes; eval: resize 256 ${how} \\(PIL's rounding\\), crop 224, normalize`));
        const pred = kestrel(['predict', '--weights', out, '--source', join(FIXTURES, 'imagenet', 'grace_hopper.jpg'), '--topk', '5']);
        assert.equal(pred.status, 0, pred.stderr);
        const got = JSON.parse(pred.stdout.trim()) as { top: Top[] };
        assert.deepEqual(got.top.map((x) => x.label), e.top5.map((x) => x.label));
        for (const [i, x] of got.top.entries()) assert.ok(Math.abs(x.score - e.top5[i]!.score) <= 1e-4, `${x.label}: ${x.score} vs torchvision ${e.top5[i]!.score}`);
      });
    }
  }

  it('a hostile pickle: exit 1, one line, no file written', () => {
    const out = join(dir, 'never.safetensors');
    const r = kestrel(['import', '--weights', join(FIXTURES, 'pth', 'hostile_legacy.pth'), '--model', 'resnet18', '-o', out]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^kestrel: .*hostile_legacy\.pth: refuses to load: the pickle calls posix\.system, which a state dict never needs/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.equal(existsSync(out), false);
  });

  it('an unknown hub name, and no network: one line each, naming the fix', async () => {
    const unknown = kestrel(['import', '--weights', 'timm:resnet18.nope', '-o', join(dir, 'x.safetensors')]);
    assert.equal(unknown.status, 1);
    assert.match(unknown.stderr, /^kestrel: unknown hub name 'timm:resnet18\.nope'; known: timm:resnet18\.a1_in1k, /);
    const port = await closedPort();
    const offline = kestrel(['import', '--weights', 'torchvision:mobilenet_v2.IMAGENET1K_V2', '-o', join(dir, 'x.safetensors')], { KESTREL_HUB_URL: `http://127.0.0.1:${port}` });
    assert.equal(offline.status, 1);
    assert.equal(offline.stderr.trim(), `kestrel: cannot reach http://127.0.0.1:${port}/models/mobilenet_v2-7ebf99e0.pth (connect ECONNREFUSED 127.0.0.1:${port}): offline? download http://127.0.0.1:${port}/models/mobilenet_v2-7ebf99e0.pth yourself and put it at ${join(dir, 'home', 'hub', 'torchvision', 'mobilenet_v2-7ebf99e0.pth')}`);
  });
});
