// The deploy-only entry `kestrel/runtime` in a process where libtorch cannot load: OnnxClassifier
// and BatchStream classify an image, and the scores match a plain-JS forward pass.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { normalise, softmax, tinyClassifier, writePng } from './models.js';

const dir = mkdtempSync(join(tmpdir(), 'kestrel-deploy-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const SCRIPT = `
import { BatchStream, OnnxClassifier } from 'kestrel/runtime';
const [model, image] = process.argv.slice(1);
const clf = await OnnxClassifier.load(model, { threads: 1 });
const { transforms, channels } = clf.preprocessing;
const stream = new BatchStream({ kind: 'files', paths: [image], labels: new Int32Array(1) }, { batchSize: 1, transforms, channels, workers: 0 });
for await (const r of stream.epoch(0)) console.log(JSON.stringify(await clf.classify(r.data, r.kept.length, r.shape, 4)));
await clf.dispose();
`;

it('kestrel/runtime classifies without the libtorch addon', async () => {
  const tiny = tinyClassifier({ seed: 3 });
  writeFileSync(join(dir, 'm.onnx'), tiny.bytes);
  const hwc = await writePng(join(dir, 'a.png'), 8, 8, 5);
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', SCRIPT, join(dir, 'm.onnx'), join(dir, 'a.png')], {
    cwd: process.cwd(), encoding: 'utf8', timeout: 60_000, env: { ...process.env, KESTREL_ADDON: '/nonexistent/kestrel.node' },
  });
  assert.equal(r.status, 0, r.stderr);
  const [top] = JSON.parse(r.stdout) as { label: string; score: number }[][];
  const { mean, std, names } = tiny.contract!;
  const p = softmax(tiny.reference(normalise(hwc, 8, mean, std, 0, 0, 8, 8), 8, 8));
  const want = p.map((score, i) => ({ label: names[i]!, score })).sort((a, b) => b.score - a.score);
  assert.deepEqual(top!.map((t) => t.label), want.map((t) => t.label));
  top!.forEach((t, i) => assert.ok(Math.abs(t.score - want[i]!.score) < 1e-6, `${t.score} vs ${want[i]!.score}`));
});
