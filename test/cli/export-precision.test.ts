// fp16 and int8 exports as a user makes them (`kestrel export --fp16`, `--int8`), judged the way a
// user would: `kestrel val` on MNIST's test split through ONNX Runtime against the checkpoint on
// libtorch. The model trains 60 steps first, so its predictions are not ties.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadMnist } from '../../src/data/mnist.js';
import { buildTransforms } from '../../src/data/transforms.js';
import { FORMAT, saveCheckpoint } from '../../src/engine/checkpoint.js';
import { createModel } from '../../src/models/index.js';
import { F } from '../../src/nn/index.js';
import { readContract } from '../../src/onnx/contract.js';
import { DataType, decodeModel } from '../../src/onnx/proto.js';
import { AdamW } from '../../src/optim/index.js';
import { manualSeed, tidy } from '../../src/tensor/index.js';

const main = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const kestrel = (...args: string[]): { status: number | null; stdout: string; stderr: string } => {
  const r = spawnSync(process.execPath, [main, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
};

const dir = mkdtempSync(join(tmpdir(), 'kestrel-export-precision-'));
const weights = join(dir, 'best.safetensors');
const [MEAN, STD] = [0.1307, 0.3081];

before(() => {
  manualSeed(0);
  const model = createModel('smallcnn', { numClasses: 10, inChannels: 1, imgSize: 28 });
  const optimizer = new AdamW(model.parameters(), { lr: 2e-3 });
  const train = loadMnist('train', 60 * 64);
  model.train();
  for (let s = 0; s < 60; s++) {
    tidy(() => {
      const x = train.images.narrow(0, s * 64, 64).float().div(255).sub(MEAN).div(STD);
      F.crossEntropy(model.forward(x), train.labels.narrow(0, s * 64, 64)).backward();
      optimizer.step();
      optimizer.zeroGrad();
    });
  }
  train.images.dispose();
  train.labels.dispose();
  optimizer.dispose();
  const transforms = buildTransforms('eval', { imgsz: 28, channels: 1, mean: [MEAN], std: [STD], nativeSize: [28, 28] });
  saveCheckpoint(weights, model.eval(), {
    format: FORMAT, task: 'classify', model: model.config, classes: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'], epoch: 1,
    createdAt: new Date().toISOString(), preprocess: { imgsz: 28, channels: 1, mean: [MEAN], std: [STD], transforms },
    data: { spec: 'mnist', seed: 0 },
  });
  model.dispose();
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** `kestrel val` on MNIST test: accuracy and the predicted class of every image, in order. */
function val(file: string, name: string): { accuracy: number; preds: string[] } {
  const r = kestrel('val', '--weights', file, '--data', 'mnist', '--split', 'test', '--project', dir, '--name', name);
  assert.equal(r.status, 0, r.stderr);
  const metrics = JSON.parse(readFileSync(join(dir, name, 'metrics.json'), 'utf8')) as { accuracy: number; count: number };
  assert.equal(metrics.count, 10_000);
  const rows = readFileSync(join(dir, name, 'predictions.csv'), 'utf8').trim().split('\n').slice(1);
  return { accuracy: metrics.accuracy, preds: rows.map((l) => l.split(',')[2]!) };
}

const agreement = (a: string[], b: string[]): number => a.filter((p, i) => p === b[i]).length / a.length;

describe('kestrel export --fp16 / --int8, checked with kestrel val', () => {
  const files = { fp32: join(dir, 'fp32.onnx'), fp16: join(dir, 'fp16.onnx'), int8: join(dir, 'int8.onnx') };

  it('writes the three precisions; the contract says which; fp16 halves the file and int8 shrinks it ≥ 3.5×', () => {
    for (const [p, flags] of [['fp32', []], ['fp16', ['--fp16']], ['int8', ['--int8', '--calib-size', '128', '--dynamic-batch']]] as const) {
      const r = kestrel('export', '--weights', weights, '-o', files[p], ...flags);
      assert.equal(r.status, 0, r.stderr);
      const proto = decodeModel(readFileSync(files[p]));
      assert.equal(readContract(proto.metadataProps!)!.precision, p);
      const types = new Set(proto.graph.initializer!.filter((t) => (t.name ?? '').includes('.weight') && (t.dims ?? []).length > 1).map((t) => t.dataType));
      assert.deepEqual([...types], [{ fp32: DataType.FLOAT, fp16: DataType.FLOAT16, int8: DataType.INT8 }[p]], `${p} conv and linear weights`);
    }
    const size = (p: keyof typeof files): number => statSync(files[p]).size;
    assert.ok(size('fp16') < 0.52 * size('fp32'), `fp16 ${size('fp16')} vs fp32 ${size('fp32')}`);
    assert.ok(size('fp32') / size('int8') >= 3.5, `int8 is ${(size('fp32') / size('int8')).toFixed(2)}× smaller`);
  });

  it('on MNIST test, fp32 .onnx = checkpoint on every image; fp16 agrees on ≥ 99.5 %; int8 loses ≤ 0.5 points', () => {
    const ckpt = val(weights, 'ckpt');
    assert.ok(ckpt.accuracy > 0.8, `trained enough: ${ckpt.accuracy}`);
    const fp32 = val(files.fp32, 'fp32');
    assert.equal(agreement(fp32.preds, ckpt.preds), 1);
    assert.equal(fp32.accuracy, ckpt.accuracy);
    const fp16 = val(files.fp16, 'fp16');
    assert.ok(agreement(fp16.preds, ckpt.preds) >= 0.995, `fp16 agreement ${agreement(fp16.preds, ckpt.preds)}`);
    const int8 = val(files.int8, 'int8');
    assert.ok(ckpt.accuracy - int8.accuracy <= 0.005, `int8 ${int8.accuracy} vs ${ckpt.accuracy}`);
    assert.ok(agreement(int8.preds, ckpt.preds) >= 0.98, `int8 agreement ${agreement(int8.preds, ckpt.preds)}`);
  });

  it('--fp16 with --int8, and calibration options without --int8, are refused in one line', () => {
    for (const [args, message] of [
      [['--fp16', '--int8'], /^kestrel: --fp16 and --int8 exclude each other$/],
      [['--calib', 'mnist'], /^kestrel: --calib applies to --int8 only$/],
      [['--calib-size', '8'], /^kestrel: --calib-size applies to --int8 only$/],
    ] as const) {
      const r = kestrel('export', '--weights', weights, '-o', join(dir, 'refused.onnx'), ...args);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr.trimEnd(), message);
      assert.equal(r.stderr.trimEnd().split('\n').length, 1);
    }
  });
});
