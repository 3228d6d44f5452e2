// `kestrel doctor` lists the ONNX Runtime execution providers that `--provider` accepts here, and
// each one really runs a model; Kestrel's others are listed apart with the reason (never as
// available, as onnxruntime-node's own list of backends would: webgpu, tensorrt, cuda without its
// libraries).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { OnnxClassifier } from '../../src/runtime/classifier.js';
import { checkProvider, decodeOnnx, PROVIDERS } from '../../src/runtime/session.js';
import { tinyClassifier } from '../onnx/models.js';

const main = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const doctor = (...args: string[]): string => {
  const r = spawnSync(process.execPath, [main, 'doctor', ...args], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
};

describe('kestrel doctor: ONNX Runtime providers', () => {
  const ort = (JSON.parse(doctor('--json')) as { onnxruntime: { installed: boolean; providers: string[]; missing: { name: string; why: string }[] } }).onnxruntime;

  it('lists only providers that run a model here, cpu among them', async () => {
    assert.equal(ort.installed, true);
    assert.ok(ort.providers.includes('cpu'), JSON.stringify(ort));
    const file = decodeOnnx('tiny.onnx', tinyClassifier().bytes);
    for (const provider of ort.providers) {
      assert.doesNotThrow(() => checkProvider(provider), provider);
      const clf = await OnnxClassifier.load(file, { provider, threads: 1 });
      try {
        const top = await clf.classify(new Float32Array(3 * 8 * 8).fill(0.5), 1, [3, 8, 8], 1);
        assert.equal(top[0]!.length, 1, provider);
      } finally {
        await clf.dispose();
      }
    }
  });

  it('accounts for each of Kestrel\'s providers once: available, or missing with the reason --provider gives', () => {
    assert.deepEqual([...ort.providers, ...ort.missing.map((m) => m.name)].sort(), [...PROVIDERS].sort());
    for (const m of ort.missing) {
      assert.match(m.why, /^(libraries not installed|not in this build)$/);
      assert.throws(() => checkProvider(m.name), new RegExp(`execution provider '${m.name}' is not`));
    }
  });

  it('the text report shows the same', () => {
    const line = doctor().split('\n').find((l) => /^\s+ONNX Runtime\s/.test(l)) ?? '';
    const missing = ort.missing.map((m) => `${m.name}: ${m.why}`).join('; ');
    assert.match(line, new RegExp(`execution providers: ${ort.providers.join(', ')}${missing ? ` \\(${missing}\\)` : ''}$`));
  });
});
