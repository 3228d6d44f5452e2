// Sweeps the model registry: every model trains a step and predicts at a small size without leaking,
// and the registry's contract (names, errors, resetClassifier, config round trip) holds.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createModel, defaultPatchSize, listModels, modelNames, type ClassifierModel, type ClassifierName, type ModelConfig, type ModelOptions } from '../../src/models/index.js';
import { F } from '../../src/nn/index.js';
import { SGD } from '../../src/optim/index.js';
import { manualSeed, memory, noGrad, randint, randn, tidy, type Tensor } from '../../src/tensor/index.js';
import { assertClose } from '../helpers.js';

const NUM_CLASSES = 5;
const N = 2;
// The ImageNet CNNs get 64 px: at 32 px their last maps are 1×1, batch-norm statistics over two
// values make gradients explode (torchvision does the same) and one SGD step overflows the logits.

/** Small settings per model: the sweep must stay fast on two cores. */
const SMALL: Record<ClassifierName, { opts: ModelOptions; input: number[] }> = {
  smallcnn: { opts: { inChannels: 1, imgSize: 28 }, input: [N, 1, 28, 28] },
  resnet18: { opts: { imgSize: 64 }, input: [N, 3, 64, 64] },
  resnet34: { opts: { imgSize: 64 }, input: [N, 3, 64, 64] },
  resnet50: { opts: { imgSize: 64 }, input: [N, 3, 64, 64] },
  mobilenet_v2: { opts: { imgSize: 64 }, input: [N, 3, 64, 64] },
  mobilenet_v3_small: { opts: { imgSize: 64 }, input: [N, 3, 64, 64] },
  efficientnet_b0: { opts: { imgSize: 64 }, input: [N, 3, 64, 64] },
  vit_tiny: { opts: { imgSize: 32, patchSize: 4 }, input: [N, 3, 32, 32] },
};

const maxAbs = (t: Tensor): number => tidy(() => t.abs().max().item());
const isFinite = (t: Tensor): boolean => Number.isFinite(maxAbs(t));

/** Builds a model, runs `fn`, disposes it, and asserts the live tensor count is back where it was. */
function withModel(name: string, opts: ModelOptions, fn: (m: ClassifierModel) => void): void {
  const before = memory().tensors;
  manualSeed(0);
  const model = createModel(name, opts);
  try {
    fn(model);
  } finally {
    model.dispose();
  }
  assert.equal(memory().tensors, before, 'live tensors after dispose vs before the model');
}

// Detectors have their own sweep (yolo.test.ts).
describe('every registered classifier', () => {
  it('the sweep covers every classify model of the registry', () => {
    assert.deepEqual(Object.keys(SMALL).sort(), [...modelNames('classify')].sort());
  });

  for (const name of modelNames('classify')) {
    const { opts, input } = SMALL[name];
    it(`${name}: a training step gives every parameter a finite gradient; eval predicts [${N}, ${NUM_CLASSES}]`, () => {
      withModel(name, { ...opts, numClasses: NUM_CLASSES }, (model) => {
        const optimizer = new SGD(model.parameters(), { lr: 1e-3, momentum: 0.9 });
        try {
          const x = randn(input);
          const head = model.getClassifier().weight;
          const headBefore = head.clone();
          model.train();
          tidy(() => {
            const logits = model.forward(x);
            assert.deepEqual(logits.shape, [N, NUM_CLASSES]);
            const loss = F.crossEntropy(logits, randint(0, NUM_CLASSES, [N]));
            assert.ok(Number.isFinite(loss.item()), `loss ${loss.item()}`);
            loss.backward();
            for (const [key, p] of model.namedParameters()) {
              if (!p.requiresGrad) continue;
              const g = p.grad;
              assert.ok(g !== null, `${key} got no gradient`);
              assert.deepEqual(g.shape, p.shape, `${key}: gradient shape`);
              assert.ok(isFinite(g), `${key}: gradient is not finite`);
            }
            optimizer.step();
            optimizer.zeroGrad();
          });
          assert.ok(tidy(() => head.sub(headBefore).abs().max().item()) > 0, 'the step moved the classifier');
          headBefore.dispose();

          model.eval();
          noGrad(() => tidy(() => {
            const features = model.forwardFeatures(x);
            assert.equal(features.ndim, name === 'vit_tiny' ? 3 : 4, `features [${features.shape}] are unpooled`);
            const pre = model.forwardHead(features, { preLogits: true });
            assert.deepEqual(pre.shape, [N, model.numFeatures], 'preLogits width is numFeatures');
            const out = model.forwardHead(features);
            assert.deepEqual(out.shape, [N, NUM_CLASSES]);
            assert.ok(isFinite(out), 'eval logits are finite');
            assertClose(model.forward(x), out, 1e-5, 'eval forward is deterministic and equals forwardHead(forwardFeatures(x))');
          }));
          x.dispose();
        } finally {
          optimizer.dispose();
        }
      });
    });
  }
});

describe('registry', () => {
  it('listModels() describes every model, in table order', () => {
    const models = listModels();
    assert.deepEqual(models.map((m) => m.name), [
      'smallcnn', 'resnet18', 'resnet34', 'resnet50', 'mobilenet_v2', 'mobilenet_v3_small', 'efficientnet_b0', 'vit_tiny', 'yolov8n', 'yolov8s', 'yolov8',
      'unet', 'fcn_resnet50', 'deeplabv3_resnet50', 'deeplabv3_mobilenet_v3_large', 'lraspp_mobilenet_v3_large', 'deeplabv3', 'lraspp',
    ]);
    for (const m of models) {
      assert.ok(m.description.length > 10, `${m.name}: description`);
      // YOLOv8 has no paper: its entries link Ultralytics' repository.
      assert.ok(m.paper.startsWith(m.task === 'detect' ? 'https://github.com/ultralytics/' : 'https://arxiv.org/abs/'), `${m.name}: paper ${m.paper}`);
      const size = { classify: 224, detect: 640, segment: m.name === 'unet' ? 128 : 520 }[m.task];
      assert.equal(m.defaultImgsz, m.name === 'smallcnn' ? 28 : size);
    }
    assert.deepEqual(JSON.parse(JSON.stringify(models[0])), { name: 'smallcnn', task: 'classify', description: models[0]!.description, defaultImgsz: 28, paper: models[0]!.paper });
  });

  it('listModels(task) lists the models of that task only', () => {
    assert.deepEqual(listModels('classify').map((m) => m.name), listModels().filter((m) => m.task === 'classify').map((m) => m.name));
    assert.ok(listModels('classify').length >= 8);
    for (const task of ['detect', 'segment'] as const) assert.ok(listModels(task).every((m) => m.task === task), task);
  });

  it('an unknown name fails with the list of known names', () => {
    assert.throws(() => createModel('resnet19'), (e: Error) => {
      assert.match(e.message, /unknown model 'resnet19'/);
      for (const n of modelNames()) assert.ok(e.message.includes(n), `message names ${n}`);
      return true;
    });
  });

  it('rejects invalid options with the option named', () => {
    assert.throws(() => createModel('resnet18', { numClasses: 0 }), /numClasses must be a positive integer, got 0/);
    assert.throws(() => createModel('resnet18', { inChannels: 2.5 }), /inChannels must be a positive integer/);
    assert.throws(() => createModel('resnet18', { patchSize: 4 }), /resnet18 has no patches; patchSize applies to vit_tiny/);
    assert.throws(() => createModel('vit_tiny', { imgSize: 30, patchSize: 4 }), /imgSize 30 is not a multiple of patchSize 4/);
    assert.throws(() => createModel('smallcnn', { dropRate: 1 }), /dropRate must be in \[0, 1\)/);
  });

  it('defaults: 1000 classes, 3 channels, the design size; ViT patches leave at least a 7×7 grid', () => {
    withModel('mobilenet_v3_small', {}, (m) => assert.deepEqual(m.config, { name: 'mobilenet_v3_small', numClasses: 1000, inChannels: 3, imgSize: 224 }));
    assert.deepEqual([224, 96, 64, 32, 28, 14, 7, 5].map(defaultPatchSize), [16, 8, 8, 4, 4, 2, 1, 1]);
  });

  it('the ViT rejects an input size other than the one it was built for', () => {
    withModel('vit_tiny', { imgSize: 32, patchSize: 8 }, (m) => {
      assert.throws(() => tidy(() => m.forward(randn([1, 3, 64, 64]))), /input is 64×64 but the model was built for 32×32/);
    });
  });

  it('resetClassifier() resizes the final Linear, keeps its name and updates the config', () => {
    withModel('resnet18', { numClasses: 5, imgSize: 32 }, (m) => {
      const before = m.numParameters();
      m.resetClassifier(7);
      assert.equal(m.getClassifier().outFeatures, 7);
      assert.deepEqual(m.getClassifier().weight.shape, [7, 512]);
      assert.deepEqual(m.stateDict().get('fc.bias')!.shape, [7]);
      assert.equal(m.numParameters(), before + 2 * 513);
      assert.equal(m.config.numClasses, 7);
      assert.equal(m.numFeatures, 512);
      tidy(() => assert.deepEqual(m.eval().forward(randn([1, 3, 32, 32])).shape, [1, 7]));
    });
    withModel('mobilenet_v3_small', { numClasses: 5, imgSize: 32 }, (m) => {
      m.resetClassifier(3);
      assert.deepEqual(m.stateDict().get('classifier.3.weight')!.shape, [3, 1024]);
      assert.deepEqual(m.stateDict().get('classifier.0.weight')!.shape, [1024, 576], 'the hidden Linear is untouched');
      assert.throws(() => m.resetClassifier(0), /numClasses must be a positive integer/);
    });
  });

  it('config is JSON and rebuilds the same architecture; the weights load into it', () => {
    withModel('vit_tiny', { numClasses: 3, inChannels: 1, imgSize: 28, patchSize: 4, dropRate: 0.1 }, (a) => {
      const config = JSON.parse(JSON.stringify(a.config)) as ModelConfig;
      assert.deepEqual(config, { name: 'vit_tiny', numClasses: 3, inChannels: 1, imgSize: 28, patchSize: 4, dropRate: 0.1 });
      withModel(config.name, config, (b) => {
        assert.deepEqual([...b.stateDict()].map(([k, t]) => [k, t.shape]), [...a.stateDict()].map(([k, t]) => [k, t.shape]));
        b.loadStateDict(a.stateDict());
        tidy(() => {
          const x = randn([2, 1, 28, 28]);
          assertClose(b.eval().forward(x), a.eval().forward(x), 0, 'same weights, same logits');
        });
      });
    });
    withModel('resnet18', { numClasses: 4, imgSize: 64 }, (a) => {
      assert.deepEqual(a.config, { name: 'resnet18', numClasses: 4, inChannels: 3, imgSize: 64 });
      a.resetClassifier(6);
      withModel(a.config.name, a.config, (b) => assert.deepEqual(b.getClassifier().weight.shape, [6, 512]));
    });
  });
});
