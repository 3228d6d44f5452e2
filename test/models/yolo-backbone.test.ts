// `yolov8`: YOLOv8n's neck and head over a zoo CNN, against a plain-PyTorch model of the same over
// torchvision's ResNet-18 (test/fixtures/gen_yolo_backbone.py): keys, shapes, parameters, GFLOPs
// and, with weights loaded by name, the decoded output; its ONNX export against libtorch for other
// backbones; and the registry's errors.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildDetectOnnxModel } from '../../src/export/export.js';
import { buildModel, createDetector, createModel, DETECT_BACKBONES, listModels, type DetectorModel } from '../../src/models/index.js';
import { BatchNorm2d } from '../../src/nn/index.js';
import { encodeModel } from '../../src/onnx/proto.js';
import { arange, manualSeed, memory, noGrad, randn, tidy, zeros, type Tensor } from '../../src/tensor/index.js';
import { assertClose, fromEnc, loadFixture, type Enc } from '../helpers.js';
import { run, session, torchValues } from '../onnx/ort.js';
import { deterministicEntry, detInput } from './deterministic.js';

interface Fixture {
  nc80: { keys: [string, number[]][]; numParams: number; gflops: number };
  nc3: { numClasses: number; gain: number; keys: [string, number[]][]; input: number[]; decoded: Enc };
}

const fixture = loadFixture('yolo_backbone') as unknown as Fixture;

function withDetector(opts: { numClasses: number; backbone?: string }, fn: (m: DetectorModel) => void | Promise<void>): () => Promise<void> {
  return async () => {
    const before = memory().tensors;
    const model = createDetector('yolov8', opts);
    try {
      await fn(model);
    } finally {
      model.dispose();
    }
    assert.equal(memory().tensors, before, 'live tensors after the model is disposed');
  };
}

describe('yolov8 over resnet18 against the PyTorch reference', () => {
  it('has the reference\'s keys, shapes and order (torchvision\'s backbone names), its parameters and GFLOPs at 640 px', withDetector({ numClasses: 80 }, (m) => {
    const ref = fixture.nc80;
    assert.deepEqual([...m.stateDict()].map(([k, t]) => [k, t.shape]), ref.keys);
    assert.equal(m.numParameters(), ref.numParams);
    assert.ok(Math.abs(m.gflops(640) - ref.gflops) < 1e-6 * ref.gflops, `${m.gflops(640)} GFLOPs vs ${ref.gflops}`);
    assert.equal(m.config.backbone, 'resnet18', 'the default backbone is recorded in the config');
  }));

  it('with the reference\'s weights loaded by name, gives its decoded boxes and scores', withDetector({ numClasses: 3 }, (m) => {
    const ref = fixture.nc3;
    const weights = new Map(ref.keys.map(([key, shape], i): [string, Tensor] => {
      if (key.endsWith('num_batches_tracked')) return [key, zeros([], { dtype: 'int64' })];
      if (key.endsWith('dfl.conv.weight')) return [key, tidy(() => arange(0, 16, 1).view(shape))];
      return [key, deterministicEntry(key, shape, i, ref.gain)];
    }));
    assert.deepEqual(m.loadStateDict(weights), { missingKeys: [], unexpectedKeys: [] });
    for (const t of weights.values()) t.dispose();
    m.eval();
    const x = detInput(ref.input);
    noGrad(() => tidy(() => {
      const { decoded } = m.forward(x);
      const expected = fromEnc(ref.decoded);
      const boxScale = Math.max(1, expected.narrow(1, 0, 4).abs().max().item());
      assertClose(decoded!.narrow(1, 0, 4).contiguous(), expected.narrow(1, 0, 4).contiguous(), 1e-4 * boxScale, 'boxes');
      assertClose(decoded!.narrow(1, 4, 3).contiguous(), expected.narrow(1, 4, 3).contiguous(), 1e-4, 'class scores');
    }));
    x.dispose();
  }));
});

/** Random batch-norm statistics, so a misplaced norm in the export cannot hide behind an identity. */
function randomNorms(m: DetectorModel): void {
  noGrad(() => {
    for (const [, n] of m.namedModules()) {
      if (!(n instanceof BatchNorm2d)) continue;
      n.runningMean!.normal_(0, 0.2);
      n.runningVar!.uniform_(0.5, 2);
    }
  });
  m.eval();
}

describe('yolov8 export: ONNX Runtime gives the libtorch eval output', () => {
  for (const backbone of ['mobilenet_v3_small', 'efficientnet_b0', 'resnet18']) {
    it(`over ${backbone}, 64 px, batch 2`, withDetector({ numClasses: 4, backbone }, async (m) => {
      manualSeed(5);
      randomNorms(m);
      const x = randn([2, 3, 64, 64]);
      const expected = torchValues(() => tidy(() => m.forward(x).decoded!));
      const out = await run(await session(encodeModel(buildDetectOnnxModel(m, { imgsz: 64 }, { dynamicBatch: true, opset: 17 }))), { images: x });
      x.dispose();
      assert.deepEqual(out.dims, [2, 8, 64 + 16 + 4]);
      let d = 0;
      for (let i = 0; i < expected.length; i++) d = Math.max(d, Math.abs(out.data[i]! - expected[i]!) / Math.max(1, Math.abs(expected[i]!)));
      assert.ok(d < 1e-4, `max scaled difference ${d}`);
    }));
  }
});

describe('yolov8 in the registry', () => {
  it('the backbone is a zoo CNN with stride 8, 16 and 32 maps; the others and yolov8n refuse it in one line', () => {
    assert.throws(() => createDetector('yolov8', { backbone: 'smallcnn' }), { message: `yolov8 cannot sit on 'smallcnn'; backbones: ${DETECT_BACKBONES.join(', ')}` });
    assert.throws(() => createDetector('yolov8n', { backbone: 'resnet18' }), /^RangeError: yolov8n takes no backbone \(yolov8 puts its neck on a zoo CNN: resnet18, /);
  });

  it('buildModel rebuilds it from its config; its backbone holds the classifier\'s features under their names', async () => {
    await withDetector({ numClasses: 2, backbone: 'mobilenet_v2' }, (m) => {
      const again = buildModel(m.config) as DetectorModel;
      assert.deepEqual([...again.stateDict()].map(([k, t]) => [k, t.shape]), [...m.stateDict()].map(([k, t]) => [k, t.shape]));
      again.dispose();
      const cls = createModel('mobilenet_v2');
      const features = [...cls.stateDict()].filter(([k]) => k.startsWith('features.')).map(([k, t]) => [`backbone.${k.slice('features.'.length)}`, t.shape]);
      cls.dispose();
      assert.deepEqual([...m.stateDict()].filter(([k]) => k.startsWith('backbone.')).map(([k, t]) => [k, t.shape]), features);
    })();
  });

  it('listModels("detect") lists it with the reference\'s parameters and GFLOPs at 640 (80 classes, resnet18)', () => {
    const row = listModels('detect').find((r) => r.name === 'yolov8')!;
    assert.equal(row.params, fixture.nc80.numParams);
    assert.ok(Math.abs(row.gflops! - fixture.nc80.gflops) < 1e-6 * fixture.nc80.gflops);
  });
});
