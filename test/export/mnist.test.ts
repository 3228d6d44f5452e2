// The deployment path end to end on real data: a smallcnn trained for a few seconds on MNIST is saved
// as a checkpoint, exported with exportCheckpoint, and the .onnx file alone (its contract gives the
// preprocessing) predicts MNIST test digits through ONNX Runtime exactly as the checkpoint does.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadMnist } from '../../src/data/mnist.js';
import { buildTransforms } from '../../src/data/transforms.js';
import { FORMAT, loadCheckpoint, saveCheckpoint, type ClassifierMeta } from '../../src/engine/checkpoint.js';
import { createModel, type ClassifierModel } from '../../src/models/index.js';
import { F } from '../../src/nn/index.js';
import { CONTRACT, readContract } from '../../src/onnx/contract.js';
import { exportCheckpoint } from '../../src/export/export.js';
import { decodeModel, toNumber } from '../../src/onnx/proto.js';
import { AdamW } from '../../src/optim/index.js';
import { manualSeed, noGrad, tidy, type Tensor } from '../../src/tensor/index.js';
import { maxAbsDiff, run, session } from '../onnx/ort.js';

/** About 89 % test accuracy after 60 AdamW steps: trained enough that the logits are not ties. */
const STEPS = 60;
const BATCH = 64;
/** The whole MNIST test set with KESTREL_SLOW=1, else its first 5,000 images. */
const TEST_IMAGES = process.env.KESTREL_SLOW ? 10_000 : 5_000;
const MEAN = 0.1307;
const STD = 0.3081;

const dir = mkdtempSync(join(tmpdir(), 'kestrel-onnx-mnist-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const normalise = (u8: Tensor, mean: number, std: number): Tensor => u8.float().div(255).sub(mean).div(std);

function argmaxRows(a: Float32Array, cols: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < a.length / cols; r++) {
    let best = 0;
    for (let c = 1; c < cols; c++) if (a[r * cols + c]! > a[r * cols + best]!) best = c;
    out.push(best);
  }
  return out;
}

describe('a trained smallcnn through ONNX', () => {
  it(`the .onnx file alone predicts ${TEST_IMAGES} MNIST test digits as the checkpoint does`, async (t) => {
    manualSeed(0);
    const model = createModel('smallcnn', { numClasses: 10, inChannels: 1, imgSize: 28 });
    const optimizer = new AdamW(model.parameters(), { lr: 2e-3 });
    const trainSet = loadMnist('train', STEPS * BATCH);
    model.train();
    for (let s = 0; s < STEPS; s++) {
      tidy(() => {
        const x = normalise(trainSet.images.narrow(0, s * BATCH, BATCH), MEAN, STD);
        F.crossEntropy(model.forward(x), trainSet.labels.narrow(0, s * BATCH, BATCH)).backward();
        optimizer.step();
        optimizer.zeroGrad();
      });
    }
    trainSet.images.dispose();
    trainSet.labels.dispose();
    optimizer.dispose();
    const classes = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
    const transforms = buildTransforms('eval', { imgsz: 28, channels: 1, mean: [MEAN], std: [STD], nativeSize: [28, 28] });
    const meta: ClassifierMeta = {
      format: FORMAT, task: 'classify', model: model.config, classes, epoch: 1, createdAt: new Date().toISOString(),
      preprocess: { imgsz: 28, channels: 1, mean: [MEAN], std: [STD], transforms },
    };
    const weights = join(dir, 'best.safetensors');
    saveCheckpoint(weights, model.eval(), meta);
    model.dispose();

    const result = await exportCheckpoint(weights, { dynamicBatch: true });
    assert.equal(result.path, join(dir, 'best.onnx'));
    assert.deepEqual(result.input, { name: 'images', shape: ['N', 1, 28, 28] });
    assert.deepEqual(result.output, { name: 'logits', shape: ['N', 10] });
    const bytes = readFileSync(result.path);
    assert.equal(result.bytes, bytes.byteLength);

    // What a deploy-only process reads: the contract, producer and opset.
    const proto = decodeModel(bytes);
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
    assert.equal(proto.producerName, 'kestrel');
    assert.equal(proto.producerVersion, pkg.version);
    assert.equal(toNumber(proto.opsetImport[0]!.version), 17);
    assert.match(proto.docString!, /Output 'logits'/);
    const contract = readContract(proto.metadataProps!);
    assert.deepEqual(contract, {
      kestrel: CONTRACT, task: 'classify', names: classes, imgsz: [28, 28], channels: 1, mean: [MEAN], std: [STD], transforms,
      output: 'logits', model: { name: 'smallcnn', numClasses: 10, inChannels: 1, imgSize: 28 }, precision: 'fp32',
    });

    const ckpt = loadCheckpoint<ClassifierModel>(weights);
    const s = await session(bytes);
    const test = loadMnist('test', TEST_IMAGES);
    const labels = test.labels.toArray();
    let agree = 0;
    let correct = 0;
    let worst = 0;
    try {
      for (let i = 0; i < TEST_IMAGES; i += 1000) {
        const n = Math.min(1000, TEST_IMAGES - i);
        const x = tidy(() => normalise(test.images.narrow(0, i, n), contract!.mean[0]!, contract!.std[0]!));
        const ref = noGrad(() => tidy(() => ckpt.model.forward(x).dataSync() as Float32Array));
        const got = await run(s, { images: x });
        x.dispose();
        worst = Math.max(worst, maxAbsDiff(got.data, ref));
        const [a, b] = [argmaxRows(got.data, 10), argmaxRows(ref, 10)];
        a.forEach((p, j) => {
          if (p === b[j]) agree++;
          if (p === labels[i + j]) correct++;
        });
      }
    } finally {
      test.images.dispose();
      test.labels.dispose();
      ckpt.model.dispose();
    }
    t.diagnostic(`top-1 agreement ${agree}/${TEST_IMAGES}, max abs diff ${worst.toExponential(2)}, ONNX accuracy ${(correct / TEST_IMAGES * 100).toFixed(2)} %`);
    assert.equal(agree, TEST_IMAGES, 'top-1 agreement between the .onnx and the checkpoint');
    assert.ok(worst <= 1e-4, `max abs diff ${worst}`);
    assert.ok(correct / TEST_IMAGES > 0.85, `accuracy ${correct / TEST_IMAGES}: the model should be trained, not random`);
  });
});
