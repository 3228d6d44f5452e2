// Sweeps the model registry through ONNX export: each model (random weights, non-trivial batch-norm
// statistics, eval mode) is exported once with a dynamic batch and run by ONNX Runtime on random
// images and real ones (MNIST digits), as one batch of 6 and as a batch of 1, against libtorch's forward; the
// files pass ONNX's own checker (full_check) where Debian's python3-onnx is installed.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadMnist } from '../../src/data/mnist.js';
import { createModel, modelNames, type ClassifierModel, type ClassifierName, type ModelOptions } from '../../src/models/index.js';
import { BatchNorm2d, F } from '../../src/nn/index.js';
import { exportOnnx } from '../../src/export/export.js';
import { decodeModel, toNumber, type ModelProto } from '../../src/onnx/proto.js';
import { cat, manualSeed, memory, noGrad, randn, tidy, type Tensor } from '../../src/tensor/index.js';
import { checkOnnxFiles, maxAbsDiff, onnxCheckerMissing, run, session, torchValues } from '../onnx/ort.js';

const TOL = 1e-4;
const NUM_CLASSES = 10;

/** Small inputs keep the sweep fast on two cores; in eval mode 32 px is enough for every CNN. */
const SMALL: Record<ClassifierName, ModelOptions & { imgSize: number }> = {
  smallcnn: { inChannels: 1, imgSize: 28 },
  resnet18: { imgSize: 32 },
  resnet34: { imgSize: 32 },
  resnet50: { imgSize: 32 },
  mobilenet_v2: { imgSize: 32 },
  mobilenet_v3_small: { imgSize: 32 },
  efficientnet_b0: { imgSize: 32 },
  vit_tiny: { imgSize: 32, patchSize: 4 },
};

/**
 * Weights that behave like trained ones. At their init the batch norms are identities and the
 * MobileNets' features vanish (|f| ~ 1e-10 at 32 px): every model would give nearly the same
 * logits for any input, and a wrong op on the image path could hide. So: running statistics from
 * one pass over 32 other random images (momentum 1, as if trained on them), then random affine
 * parameters, and the classifier scaled so the logits on `x` are of order one — an absolute
 * tolerance then means what it says. Variances are floored at 1e-3: a channel that is constant
 * over the pass (dead after a ReLU) would otherwise scale rounding noise by up to 1/√eps per layer.
 */
function calibrate(model: ClassifierModel, x: Tensor): void {
  const norms = [...model.namedModules()].map(([, m]) => m).filter((m): m is BatchNorm2d => m instanceof BatchNorm2d);
  // momentum is fixed at construction; 1 makes the pass set the running statistics outright
  const setMomentum = (m: BatchNorm2d, v: number): void => void ((m as { momentum: number }).momentum = v);
  noGrad(() => {
    model.eval();
    for (const m of norms) [m.training] = [true, setMomentum(m, 1)];
    tidy(() => void model.forward(randn([32, ...x.shape.slice(1)])));
    for (const m of norms) {
      [m.training] = [false, setMomentum(m, 0.1)];
      m.runningVar!.clamp_(1e-3, null);
      m.weight!.uniform_(0.5, 1.5);
      m.bias!.uniform_(-0.2, 0.2);
    }
    const head = model.getClassifier();
    const rms = tidy(() => model.forwardHead(model.forwardFeatures(x), { preLogits: true }).pow(2).mean().sqrt().item());
    head.weight.normal_(0, 1 / (rms * Math.sqrt(head.inFeatures)));
  });
}

/** How much the logits vary between images, relative to their size (near 0: the input hardly matters). */
function spread(logits: Float32Array, rows: number): number {
  const cols = logits.length / rows;
  let dev = 0;
  let size = 0;
  for (let j = 0; j < cols; j++) {
    let mean = 0;
    for (let i = 0; i < rows; i++) mean += logits[i * cols + j]! / rows;
    for (let i = 0; i < rows; i++) dev = Math.max(dev, Math.abs(logits[i * cols + j]! - mean));
  }
  for (const v of logits) size = Math.max(size, Math.abs(v));
  return dev / size;
}

/** MNIST test digits as `channels`×size×size network input: zero-padded to size, normalised, repeated over channels. */
function digits(n: number, channels: number, size: number): Tensor {
  return tidy(() => {
    const { images, labels } = loadMnist('test', n);
    labels.dispose();
    const pad = (size - 28) / 2;
    const x = F.pad(images.float().div(255), [pad, pad, pad, pad]).sub(0.1307).div(0.3081);
    return x.expand(n, channels, size, size).contiguous();
  });
}

const reshapeTargets = (p: ModelProto): number[][] =>
  p.graph.node.filter((n) => n.opType === 'Reshape').map((n) => {
    const raw = p.graph.initializer!.find((i) => i.name === n.input[1])!.rawData!;
    return Array.from(new BigInt64Array(new Uint8Array(raw).buffer), Number);
  });

const dir = mkdtempSync(join(tmpdir(), 'kestrel-onnx-zoo-'));
const written: string[] = [];
after(() => rmSync(dir, { recursive: true, force: true }));

describe('every zoo model exports to ONNX', () => {
  // Detectors have no export yet (it is to come by tracing): the sweep covers the classifiers.
  it('the sweep covers every classify model of the registry', () => {
    assert.deepEqual(Object.keys(SMALL).sort(), [...modelNames('classify')].sort());
  });

  for (const name of modelNames('classify')) {
    const opts = SMALL[name];
    it(`${name}: ONNX Runtime matches libtorch within ${TOL} (random and real images, batch 6 and 1)`, async (t) => {
      const before = memory().tensors;
      manualSeed(0);
      const model = createModel(name, { ...opts, numClasses: NUM_CLASSES });
      const c = model.config.inChannels;
      // rows 0–2 random, 3–5 MNIST digits; one libtorch pass gives every reference row
      const x = tidy(() => cat([randn([3, c, opts.imgSize, opts.imgSize]), digits(3, c, opts.imgSize)]));
      const first = x.narrow(0, 0, 1);
      try {
        calibrate(model, x);
        const bytes = exportOnnx(model, { imgsz: opts.imgSize }, { dynamicBatch: true });
        const proto = decodeModel(bytes);
        const input = proto.graph.input[0]!.type!.tensorType!.shape!.dim.map((d) => d.dimParam ?? toNumber(d.dimValue));
        assert.deepEqual(input, ['N', c, opts.imgSize, opts.imgSize]);
        for (const target of reshapeTargets(proto)) assert.ok(target[0] === 0 || target[0] === -1, `Reshape to [${target}] fixes the batch`);

        const expected = torchValues(() => model.forward(x));
        const s = await session(bytes);
        const batch = await run(s, { images: x });
        const single = await run(s, { images: first });
        assert.deepEqual(batch.dims, [6, NUM_CLASSES]);
        assert.deepEqual(single.dims, [1, NUM_CLASSES]);
        const rows = (a: Float32Array, from: number, to: number): Float32Array => a.subarray(from * NUM_CLASSES, to * NUM_CLASSES);
        const diffs: string[] = [];
        for (const [what, got, ref] of [
          ['random', rows(batch.data, 0, 3), rows(expected, 0, 3)],
          ['real', rows(batch.data, 3, 6), rows(expected, 3, 6)],
          ['batch 1', single.data, rows(expected, 0, 1)],
        ] as const) {
          const d = maxAbsDiff(got, ref);
          const scale = Math.max(...Array.from(ref, Math.abs));
          diffs.push(`${what} ${d.toExponential(2)} (|logits| ≤ ${scale.toFixed(2)})`);
          assert.ok(d <= TOL, `${what}: max abs diff ${d} > ${TOL}`);
          assert.ok(scale > 0.1, `${what}: logits of ${scale} would make the comparison weak`);
        }
        const varies = spread(expected, 6);
        assert.ok(varies > 0.1, `the logits hardly depend on the image (spread ${varies}): the comparison would be weak`);
        diffs.push(`spread between images ${varies.toFixed(2)}`);
        t.diagnostic(`${name} max abs diff: ${diffs.join(', ')}`);
        const file = join(dir, `${name}.onnx`);
        writeFileSync(file, bytes);
        written.push(file);
      } finally {
        first.dispose();
        x.dispose();
        model.dispose();
      }
      assert.equal(memory().tensors, before, 'live tensors after vs before');
    });
  }

  it('at opset 13 (LayerNormalization and HardSwish in primitives) the models still match', async () => {
    for (const name of ['mobilenet_v3_small', 'vit_tiny'] as const) {
      manualSeed(0);
      const model = createModel(name, { ...SMALL[name], numClasses: NUM_CLASSES });
      const x = randn([2, 3, 32, 32]);
      try {
        calibrate(model, x);
        const bytes = exportOnnx(model, { imgsz: 32 }, { opset: 13, batch: 2 });
        const proto = decodeModel(bytes);
        assert.equal(toNumber(proto.opsetImport[0]!.version), 13);
        const ops = new Set(proto.graph.node.map((n) => n.opType));
        assert.ok(!ops.has('LayerNormalization') && !ops.has('HardSwish'), `${name}: ops above opset 13: ${[...ops].join(', ')}`);
        const got = await run(await session(bytes), { images: x });
        const d = maxAbsDiff(got.data, torchValues(() => model.forward(x)));
        assert.ok(d <= TOL, `${name} at opset 13: max abs diff ${d}`);
        const file = join(dir, `${name}-opset13.onnx`);
        writeFileSync(file, bytes);
        written.push(file);
      } finally {
        x.dispose();
        model.dispose();
      }
    }
  });

  it('a fixed batch is fixed: the input says so and another batch size is refused', async () => {
    manualSeed(0);
    const model = createModel('smallcnn', { numClasses: NUM_CLASSES, inChannels: 1, imgSize: 28 }).eval();
    const x = randn([2, 1, 28, 28]);
    const wrong = randn([3, 1, 28, 28]);
    try {
      const bytes = exportOnnx(model, { imgsz: 28 }, { batch: 2 });
      const proto = decodeModel(bytes);
      const dims = (v: ModelProto['graph']['input'][number]): (string | number)[] => v.type!.tensorType!.shape!.dim.map((d) => d.dimParam ?? toNumber(d.dimValue));
      assert.deepEqual(dims(proto.graph.input[0]!), [2, 1, 28, 28]);
      assert.deepEqual(dims(proto.graph.output[0]!), [2, NUM_CLASSES]);
      const s = await session(bytes);
      const got = await run(s, { images: x });
      assert.ok(maxAbsDiff(got.data, torchValues(() => model.forward(x))) <= TOL);
      await assert.rejects(run(s, { images: wrong }), /dimension|Expected: 2/i);
      assert.throws(() => exportOnnx(model, { imgsz: 28 }, { batch: 2, dynamicBatch: true }), /exclude each other/);
    } finally {
      x.dispose();
      wrong.dispose();
      model.dispose();
    }
  });

  it("a ViT refuses an input size other than the one its position table was built for", () => {
    const model = createModel('vit_tiny', { numClasses: NUM_CLASSES, imgSize: 32, patchSize: 4 });
    try {
      assert.throws(() => exportOnnx(model, { imgsz: 64 }), /'patch_embed' \(PatchEmbed\): input is 64×64 but the model was built for 32×32/);
    } finally {
      model.dispose();
    }
  });

  it('passes onnx.checker.check_model(full_check=True)', (t) => {
    const missing = onnxCheckerMissing();
    if (missing) {
      t.skip(missing);
      return;
    }
    assert.ok(written.length >= modelNames('classify').length, `only ${written.length} files were written (an earlier test failed)`);
    assert.deepEqual(checkOnnxFiles(written), {});
  });
});
