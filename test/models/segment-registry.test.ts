// The segmentation half of the model table: listing with sizes (against torchvision's published
// parameter counts), createSegmenter's defaults and refusals, configs that rebuild, and a sweep
// of every registered model through a training step.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { buildModel, createModel, createSegmenter, listModels, modelNames, UNet, type SegmentationModel, type SegmenterOptions } from '../../src/models/index.js';
import { F } from '../../src/nn/index.js';
import { manualSeed, memory, randint, randn, tidy } from '../../src/tensor/index.js';

const main = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

function withSegmenter(name: string, opts: SegmenterOptions, fn: (m: SegmentationModel) => void): void {
  const before = memory().tensors;
  const model = createSegmenter(name, opts);
  try {
    fn(model);
  } finally {
    model.dispose();
  }
  assert.equal(memory().tensors, before, 'live tensors after the model is disposed');
}

/**
 * torchvision 0.14's published num_params of its COCO-VOC weights (21 classes) include the
 * auxiliary FCNHead(C, 21) that aux_loss adds: 3×3 conv C→C/4, its batch norm, 1×1 conv C/4→21.
 */
const auxHead = (c: number): number => c * (c / 4) * 9 + 2 * (c / 4) + (c / 4) * 21 + 21;
const TORCHVISION_PARAMS: Record<string, number> = {
  fcn_resnet50: 35_322_218 - auxHead(1024),
  deeplabv3_resnet50: 42_004_074 - auxHead(1024),
  deeplabv3_mobilenet_v3_large: 11_029_328 - auxHead(40),
  lraspp_mobilenet_v3_large: 3_221_538,
};

describe('segmentation models in the registry', () => {
  it("`kestrel models --task segment` lists them with parameters and GFLOPs (torchvision's counts at 21 classes)", () => {
    const r = spawnSync(process.execPath, [main, 'models', '--task', 'segment', '--json'], { encoding: 'utf8', timeout: 240_000 });
    assert.equal(r.status, 0, r.stderr);
    const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { name: string; task: string; params: number; gflops: number });
    assert.deepEqual(rows.map((m) => m.name), ['unet', 'fcn_resnet50', 'deeplabv3_resnet50', 'deeplabv3_mobilenet_v3_large', 'lraspp_mobilenet_v3_large', 'deeplabv3', 'lraspp']);
    assert.ok(rows.every((m) => m.task === 'segment' && m.params > 0 && m.gflops > 0));
    for (const [name, params] of Object.entries(TORCHVISION_PARAMS)) assert.equal(rows.find((m) => m.name === name)!.params, params, name);
    const text = spawnSync(process.execPath, [main, 'models', '--task', 'segment'], { encoding: 'utf8', timeout: 240_000 });
    assert.equal(text.status, 0, text.stderr);
    const lines = text.stdout.trim().split('\n');
    assert.equal(lines.length, 7, text.stdout);
    assert.match(lines[1]!, /^fcn_resnet50\s+segment\s+520 px\s+33\.0M params\s+285\.5 GFLOPs\s+FCN/);
    assert.match(lines[3]!, /^deeplabv3_mobilenet_v3_large\s+segment\s+520 px\s+11\.0M params\s+20\.9 GFLOPs\s+DeepLabV3/);
  });

  it('listModels() gives the same numbers in-process, and listing leaves the generator where it was', () => {
    manualSeed(7);
    const a = tidy(() => randn([3]).dataSync());
    manualSeed(7);
    const unet = listModels('segment')[0]!;
    const b = tidy(() => randn([3]).dataSync());
    assert.deepEqual(b, a);
    withSegmenter('unet', { numClasses: 21 }, (m) => {
      assert.equal(unet.params, m.numParameters());
      assert.equal(unet.gflops, m.gflops(128));
    });
  });

  it('defaults: 21 classes, 3 channels, the design size; U-Net depth 4 width 16; heads name their backbone', () => {
    withSegmenter('unet', {}, (m) => {
      assert.ok(m instanceof UNet);
      assert.deepEqual(m.config, { name: 'unet', numClasses: 21, inChannels: 3, imgSize: 128, depth: 4, width: 16 });
    });
    withSegmenter('deeplabv3', {}, (m) => assert.deepEqual(m.config, { name: 'deeplabv3', numClasses: 21, inChannels: 3, imgSize: 520, backbone: 'resnet18' }));
    withSegmenter('lraspp', { backbone: 'efficientnet_b0', numClasses: 2 }, (m) => assert.equal(m.config.backbone, 'efficientnet_b0'));
  });

  it('a saved config rebuilds the same architecture (buildModel)', () => {
    withSegmenter('unet', { numClasses: 3, inChannels: 1, depth: 2, width: 4 }, (m) => {
      const again = buildModel(m.config);
      try {
        assert.deepEqual([...again.stateDict()].map(([k, t]) => [k, t.shape]), [...m.stateDict()].map(([k, t]) => [k, t.shape]));
        assert.deepEqual(again.config, m.config);
      } finally {
        again.dispose();
      }
    });
  });

  it('rejects what it cannot build, naming the fix', () => {
    assert.throws(() => createSegmenter('unet3d'), /unknown model 'unet3d'; known models: .*unet/);
    assert.throws(() => createSegmenter('resnet18'), /resnet18 is a classify model; createSegmenter\(\) builds segment models \(unet, fcn_resnet50, .*lraspp\)/);
    assert.throws(() => createModel('unet'), /unet is a segment model; createModel\(\) builds classify models .*; use createSegmenter\(\)/);
    assert.throws(() => createSegmenter('fcn_resnet50', { backbone: 'resnet18' }), /fcn_resnet50 takes no backbone/);
    assert.throws(() => createSegmenter('deeplabv3', { depth: 3 }), /deeplabv3 takes no depth/);
    assert.throws(() => createSegmenter('deeplabv3', { backbone: 'vit_tiny' }), /deeplabv3 cannot sit on 'vit_tiny'; backbones: resnet18, .*smallcnn/);
    assert.throws(() => createSegmenter('unet', { depth: 0 }), /depth must be a positive integer, got 0/);
    assert.throws(() => createSegmenter('unet', { numClasses: 1.5 }), /numClasses must be a positive integer, got 1.5/);
  });

  it('U-Net: any channel count, any size (odd ones padded back), logits at the input size', () => {
    withSegmenter('unet', { numClasses: 5, inChannels: 4, depth: 3, width: 4 }, (m) => {
      for (const [h, w] of [[37, 45], [16, 16], [9, 30]] as const) {
        assert.deepEqual(tidy(() => m.forward(randn([2, 4, h, w])).shape), [2, 5, h, w]);
      }
    });
  });

  it('U-Net deep supervision: coarse logits at strides 2^depth and 2^(depth−1) while training only; the logits are those of the same net without heads', () => {
    manualSeed(4);
    withSegmenter('unet', { numClasses: 5, inChannels: 1, depth: 3, width: 4, auxHeads: true }, (m) => {
      withSegmenter('unet', { numClasses: 5, inChannels: 1, depth: 3, width: 4 }, (plain) => tidy(() => {
        const state = m.stateDict();
        assert.deepEqual([...state.keys()].filter((k) => k.startsWith('aux')), ['aux0.weight', 'aux0.bias', 'aux1.weight', 'aux1.bias']);
        assert.deepEqual(state.get('aux0.weight')!.shape, [5, 32, 1, 1], 'the bottleneck has width << depth channels');
        plain.loadStateDict(new Map([...state].filter(([k]) => !k.startsWith('aux'))));
        const x = randn([2, 1, 32, 24]);
        const { out, aux } = m.forwardAux!(x);
        assert.deepEqual(aux.map((a) => a.shape), [[2, 5, 4, 3], [2, 5, 8, 6]]);
        assert.ok(out.sub(plain.forward(x)).abs().max().item() === 0, 'training-mode logits equal the plain net\'s');
        m.eval();
        plain.eval();
        assert.equal(m.forwardAux!(x).aux.length, 0, 'no coarse logits in eval mode');
        assert.ok(m.forward(x).sub(plain.forward(x)).abs().max().item() === 0);
      }));
    });
  });

  // timm's sweep: every registered model takes a training step (small input) with finite loss and a gradient on every parameter.
  for (const name of modelNames('segment')) {
    it(`${name}: a training step at 64×48 gives a finite loss and gradients on every parameter`, () => {
      manualSeed(0);
      withSegmenter(name, { numClasses: 3 }, (m) => {
        m.train();
        tidy(() => {
          const x = randn([2, 3, 64, 48]);
          const target = randint(0, 3, [2, 64, 48]);
          const logits = m.forward(x);
          assert.deepEqual(logits.shape, [2, 3, 64, 48]);
          const loss = F.crossEntropy(logits, target);
          loss.backward();
          assert.ok(Number.isFinite(loss.item()));
          const missing = [...m.namedParameters()].filter(([, p]) => p.grad === null).map(([k]) => k);
          assert.deepEqual(missing, []);
          assert.ok([...m.parameters()].every((p) => Number.isFinite(p.grad!.abs().sum().item())));
        });
        m.zeroGrad();
      });
    });
  }
});
