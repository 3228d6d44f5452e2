// `kestrel predict --weights x.onnx`: the same output as the libtorch path for the same network,
// no libtorch loaded at all, third-party import from YAML, and one-line errors.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { buildTransforms } from '../../src/data/presets.js';
import { FORMAT, saveCheckpoint } from '../../src/engine/checkpoint.js';
import { createModel, type ClassifierModel } from '../../src/models/registry.js';
import type { DeployContract } from '../../src/onnx/contract.js';
import { contractProps } from '../../src/onnx/contract.js';
import type { NodeProto, TensorProto } from '../../src/onnx/proto.js';
import { manualSeed, rand, randn, tidy } from '../../src/tensor/index.js';
import { floats, float, int, ints, modelOf, tinyClassifier, valueInfo, writePng } from '../onnx/models.js';

const main = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const CLASSES = ['circle', 'square', 'star'];
const IMGSZ = 16;
const MEAN = [0.5, 0.45, 0.4];
const STD = [0.25, 0.2, 0.22];
let dir: string;

function kestrel(args: string[], env: Record<string, string> = {}): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [main, 'predict', ...args], { cwd: dir, encoding: 'utf8', timeout: 120_000, env: { ...process.env, ...env } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

type Line = { source: string; top?: { label: string; score: number }[]; error?: string };
const lines = (out: string): Line[] => out.trim().split('\n').map((l) => JSON.parse(l) as Line);

/**
 * The same smallcnn as an ONNX graph: conv/BN/ReLU ×2, maxpool, ×2, maxpool, flatten, Linear,
 * ReLU, Linear (at 16 px the adaptive 4×4 pool is the identity; dropout is off in eval).
 */
function smallcnnOnnx(model: ClassifierModel, contract: DeployContract): Uint8Array {
  const sd = model.stateDict();
  const init: TensorProto[] = [];
  const param = (key: string): string => {
    const t = sd.get(key)!;
    init.push(floats(key, t.shape, t.toArray()));
    return key;
  };
  const nodes: NodeProto[] = [];
  let x = 'images';
  const add = (opType: string, inputs: string[], attribute: NodeProto['attribute'] = []): void => {
    const out = `t${nodes.length}`;
    nodes.push({ opType, input: [x, ...inputs], output: [out], attribute });
    x = out;
  };
  for (const [conv, bn, pool] of [[0, 1, false], [3, 4, true], [7, 8, false], [10, 11, true]] as const) {
    add('Conv', [param(`features.${conv}.weight`)], [ints('kernel_shape', [3, 3]), ints('pads', [1, 1, 1, 1])]);
    add('BatchNormalization', ['weight', 'bias', 'running_mean', 'running_var'].map((k) => param(`features.${bn}.${k}`)), [float('epsilon', 1e-5)]);
    add('Relu', []);
    if (pool) add('MaxPool', [], [ints('kernel_shape', [2, 2]), ints('strides', [2, 2])]);
  }
  add('Flatten', [], [int('axis', 1)]);
  add('Gemm', [param('classifier.1.weight'), param('classifier.1.bias')], [int('transB', 1)]);
  add('Relu', []);
  add('Gemm', [param('classifier.4.weight'), param('classifier.4.bias')], [int('transB', 1)]);
  nodes.at(-1)!.output = ['logits'];
  return modelOf(nodes, init, valueInfo('images', ['N', 3, IMGSZ, IMGSZ]), valueInfo('logits', ['N', CLASSES.length]), contractProps(contract));
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kestrel-cli-onnx-'));
  // Images of several sizes, so the eval resize and centre crop really work.
  for (let i = 0; i < 9; i++) await writePng(join(dir, `imgs/${CLASSES[i % 3]}/${i}.png`), 16 + 5 * i, 14 + 3 * (i % 4), i);
  writeFileSync(join(dir, 'imgs/broken.png'), 'not a png');

  manualSeed(0);
  const model = createModel('smallcnn', { numClasses: CLASSES.length, inChannels: 3, imgSize: IMGSZ });
  // Non-trivial batch-norm statistics, so the test sees them used the same way by both runtimes,
  // and a sharper last layer, so images of different colours get different labels.
  const sd = model.stateDict();
  const changed = tidy(() => new Map([...sd]
    .filter(([k, t]) => (/^features\.\d+\.(weight|bias|running_mean|running_var)$/.test(k) && t.shape.length === 1) || k === 'classifier.4.weight')
    .map(([k, t]) => [k, k === 'classifier.4.weight' ? t.mul(20) : /(running_var|weight)$/.test(k) ? rand(t.shape).add(0.5) : randn(t.shape).mul(0.2)])));
  model.loadStateDict(changed, { strict: false });
  for (const t of changed.values()) t.dispose();
  const transforms = buildTransforms('eval', { imgsz: IMGSZ, channels: 3, mean: MEAN, std: STD });
  saveCheckpoint(join(dir, 'model.safetensors'), model, {
    format: FORMAT, task: 'classify', model: model.config, classes: CLASSES, epoch: 0, createdAt: new Date(0).toISOString(),
    preprocess: { imgsz: IMGSZ, channels: 3, mean: MEAN, std: STD, transforms },
  });
  const contract: DeployContract = { task: 'classify', names: CLASSES, imgsz: [IMGSZ, IMGSZ], channels: 3, mean: MEAN, std: STD, transforms, output: 'logits', precision: 'fp32', model: { ...model.config } };
  writeFileSync(join(dir, 'model.onnx'), smallcnnOnnx(model, contract));
  model.dispose();
  writeFileSync(join(dir, 'third.onnx'), tinyClassifier({ contract: null }).bytes);
});

after(() => rmSync(dir, { recursive: true, force: true }));

describe('kestrel predict --weights model.onnx', () => {
  it('prints the same lines as the libtorch path for the same network (labels, order, scores within 1e-5)', () => {
    const torch = kestrel(['--weights', 'model.safetensors', '--source', 'imgs', '--topk', '3', '--workers', '0']);
    const ort = kestrel(['--weights', 'model.onnx', '--source', 'imgs', '--topk', '3', '--workers', '0', '--threads', '1']);
    assert.equal(torch.code, 1, 'the broken image makes the exit code 1');
    assert.equal(ort.code, 1, ort.err);
    const [a, b] = [lines(torch.out), lines(ort.out)];
    assert.equal(a.length, 10);
    assert.deepEqual(b.map((l) => [l.source, Object.keys(l)]), a.map((l) => [l.source, Object.keys(l)]));
    assert.deepEqual(b.find((l) => l.error), a.find((l) => l.error));
    a.forEach((l, i) => {
      if (!l.top) return;
      assert.deepEqual(b[i]!.top!.map((t) => t.label), l.top.map((t) => t.label), l.source);
      l.top.forEach((t, j) => assert.ok(Math.abs(t.score - b[i]!.top![j]!.score) < 1e-5, `${l.source}: ${t.score} vs ${b[i]!.top![j]!.score}`));
      b[i]!.top!.forEach((t) => assert.equal(t.score, Number(t.score.toFixed(6)), 'six decimals'));
    });
    assert.ok(new Set(a.filter((l) => l.top).map((l) => l.top![0]!.label)).size > 1, 'the network tells images apart');
  });

  it('runs without libtorch: the addon path points nowhere, yet .onnx prediction works (and a checkpoint does not)', () => {
    const env = { KESTREL_ADDON: '/nonexistent/kestrel.node' };
    const ort = kestrel(['--weights', 'model.onnx', '--source', 'imgs/circle', '--batch', '2'], env);
    assert.equal(ort.code, 0, ort.err);
    assert.equal(ort.err, '');
    assert.deepEqual(lines(ort.out).map((l) => l.top!.length), [3, 3, 3]);
    const torch = kestrel(['--weights', 'model.safetensors', '--source', 'imgs/circle'], env);
    assert.equal(torch.code, 1);
    assert.match(torch.err, /^kestrel: the libtorch addon is not built \(\/nonexistent\/kestrel\.node\)/);
  });

  it('--save writes a labelled copy per image, as the libtorch path does', () => {
    const r = kestrel(['--weights', 'model.onnx', '--source', 'imgs/square', '--save', '--project', 'runs', '--name', 'p']);
    assert.equal(r.code, 0, r.err);
    const saved = (readdirSync(join(dir, 'runs/p'), { recursive: true }) as string[]).filter((f) => f.endsWith('.png')).sort();
    assert.deepEqual(saved, ['1.png', '4.png', '7.png']);
    // stdout stays JSON lines; the folder is named on stderr, and a second run gets its own.
    assert.equal(r.err, 'labelled copies saved to runs/p\n');
    assert.equal(kestrel(['--weights', 'model.onnx', '--source', 'imgs/square', '--save', '--project', 'runs', '--name', 'p']).err, 'labelled copies saved to runs/p2\n');
  });

  it('imports a third-party model with preprocessing from YAML, flags overriding it', () => {
    writeFileSync(join(dir, 'third.yaml'), 'imgsz: 8\nresize: 8\nmean: [0.485, 0.456, 0.406]\nstd: [0.229, 0.224, 0.225]\nnames: [a, b, c, d]\n');
    const y = kestrel(['--weights', 'third.onnx', '--source', 'imgs/star', '--preprocess', 'third.yaml', '--topk', '4']);
    assert.equal(y.code, 0, y.err);
    const viaYaml = lines(y.out);
    assert.deepEqual(viaYaml[0]!.top!.map((t) => t.label).sort(), ['a', 'b', 'c', 'd']);
    const f = kestrel(['--weights', 'third.onnx', '--source', 'imgs/star', '--preprocess', 'third.yaml', '--topk', '4', '--names', 'p,q,r,s']);
    const rename: Record<string, string> = { a: 'p', b: 'q', c: 'r', d: 's' };
    assert.deepEqual(lines(f.out), viaYaml.map((l) => ({ ...l, top: l.top!.map((t) => ({ ...t, label: rename[t.label]! })) })));
    const flags = kestrel(['--weights', 'third.onnx', '--source', 'imgs/star', '--imgsz', '8', '--resize', '8', '--mean', '0.485,0.456,0.406', '--std', '0.229,0.224,0.225', '--names', 'a,b,c,d', '--topk', '4']);
    assert.deepEqual(lines(flags.out), viaYaml, 'flags alone give what the YAML gives');
  });

  it('--interpolation and --rounding resize as torchvision on PIL images does, as the same keys in YAML do', () => {
    const base = ['--weights', 'third.onnx', '--source', 'imgs', '--imgsz', '8', '--resize', '8', '--mean', '0.485,0.456,0.406', '--std', '0.229,0.224,0.225', '--topk', '4'];
    const plain = kestrel(base);
    const pil = kestrel([...base, '--interpolation', 'bicubic', '--rounding', 'pil']);
    assert.equal(pil.code, 1, 'the broken image still makes the exit code 1');
    writeFileSync(join(dir, 'pil.yaml'), 'imgsz: 8\nresize: 8\ninterpolation: bicubic\nrounding: pil\nmean: [0.485, 0.456, 0.406]\nstd: [0.229, 0.224, 0.225]\n');
    const yaml = kestrel(['--weights', 'third.onnx', '--source', 'imgs', '--preprocess', 'pil.yaml', '--topk', '4']);
    assert.deepEqual(lines(pil.out), lines(yaml.out));
    const [a, b] = [lines(plain.out), lines(pil.out)];
    assert.equal(b.length, a.length);
    assert.ok(b.some((l, i) => l.top && JSON.stringify(l.top) !== JSON.stringify(a[i]!.top)), 'another filter gives other scores');
    const bad = kestrel([...base, '--interpolation', 'lanczos']);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /--interpolation <mode>' argument 'lanczos' is invalid\. Allowed choices are bilinear, bicubic/);
    const ckpt = kestrel(['--weights', 'model.safetensors', '--source', 'imgs', '--rounding', 'pil']);
    assert.match(ckpt.err, /--rounding: only for \.onnx models/);
  });

  it('bad input: one line on stderr naming the file and the problem, exit 1', () => {
    const bytes = tinyClassifier().bytes;
    writeFileSync(join(dir, 'corrupt.onnx'), Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 37 + 5) & 255)));
    writeFileSync(join(dir, 'truncated.onnx'), bytes.subarray(0, bytes.length >> 1));
    writeFileSync(join(dir, 'bad.yaml'), 'mean: [0.5\n');
    const cases: [string[], RegExp][] = [
      [['--weights', 'corrupt.onnx'], /^kestrel: corrupt\.onnx: not a valid ONNX model \(/],
      [['--weights', 'truncated.onnx'], /^kestrel: truncated\.onnx: not a valid ONNX model \(/],
      [['--weights', 'model.onnx', '--imgsz', '24'], /^kestrel: model\.onnx: the model's input 'images' is \[N,3,16,16\] but the preprocessing gives \[N,3,24,24\]/],
      [['--weights', 'third.onnx'], /^kestrel: third\.onnx: no Kestrel metadata in the file and no preprocessing given: give --mean and --std/],
      [['--weights', 'third.onnx', '--preprocess', 'bad.yaml'], /^kestrel: bad\.yaml: not valid YAML/],
      [['--weights', 'third.onnx', '--mean', '0.5', '--std', '0.5', '--names', 'a,b'], /^kestrel: third\.onnx: 2 class names for a model with 4 outputs/],
      [['--weights', 'model.onnx', '--provider', 'tpu'], /^kestrel: unknown execution provider 'tpu' \(Kestrel runs cpu or cuda; available here: cpu/],
      [['--weights', 'model.safetensors', '--mean', '0.5'], /^kestrel: --mean: only for \.onnx models/],
    ];
    for (const [args, re] of cases) {
      const r = kestrel([...args, '--source', 'imgs']);
      assert.equal(r.code, 1, args.join(' '));
      assert.equal(r.out, '');
      assert.equal(r.err.trimEnd().split('\n').length, 1, r.err);
      assert.match(r.err, re);
    }
  });

  it('stops quietly when stdout closes early (kestrel predict … | head -1)', async () => {
    const child = spawn(process.execPath, [main, 'predict', '--weights', 'model.onnx', '--source', 'imgs/*/*.png', '--batch', '1', '--workers', '0'], { cwd: dir });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = once(child, 'exit');
    await once(child.stdout, 'data');
    child.stdout.destroy();
    const [code] = await exited;
    assert.equal(err, '');
    assert.equal(code, 0);
  });

  it('--help shows the ONNX options', () => {
    const r = kestrel(['--help']);
    assert.equal(r.code, 0);
    for (const opt of ['--provider', '--threads', '--preprocess', '--names', '--imgsz', '--mean', '--std', '--resize', '--crop', '--interpolation', '--rounding', '--output']) assert.match(r.out, new RegExp(`^\\s+${opt} `, 'm'), opt);
  });
});
