// YOLOv8 against a plain-PyTorch transcription of Ultralytics' yolov8.yaml (test/fixtures/gen_yolo.py):
// state-dict keys, shapes and order, parameter counts and GFLOPs against Ultralytics' published
// numbers, the seeded init, and with weights loaded by name: train-mode maps, eval-mode decoded
// boxes and scores, gradients and running statistics.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createDetector, type DetectorModel } from '../../src/models/index.js';
import { arange, manualSeed, memory, noGrad, tidy, zeros, type Tensor } from '../../src/tensor/index.js';
import { assertClose, fromEnc, loadFixture, type Enc } from '../helpers.js';
import { assertSeededInit, deterministicEntry, detInput } from './deterministic.js';

interface ScaleRecord {
  keys: [string, number[]][];
  numParams: number;
  /** 2 × multiply-adds of the convolutions of an eval forward at 640 px, counted by forward hooks. */
  gflops: number;
}

interface Numerics {
  input: number[];
  decoded: Enc;
  trainMaps: Enc[];
  grads: Record<string, Enc>;
  runningMean: Enc;
}

interface Nc3Record {
  numClasses: number;
  keys: [string, number[]][];
  init: ([number, number] | null)[];
  gain: number;
  runningKey: string;
  numerics: Numerics[];
}

const fixture = loadFixture('yolo') as unknown as Record<string, unknown>;

/** Ultralytics' own numbers for 80 classes at 640 px (yolov8.yaml's summaries, README's fused GFLOPs). */
const ULTRALYTICS = { yolov8n: { params: 3_157_200, gflops: 8.7 }, yolov8s: { params: 11_166_560, gflops: 28.6 } } as const;

function withDetector(name: string, numClasses: number, fn: (m: DetectorModel) => void): void {
  const before = memory().tensors;
  const model = createDetector(name, { numClasses });
  try {
    fn(model);
  } finally {
    model.dispose();
  }
  assert.equal(memory().tensors, before, 'live tensors after the model is disposed');
}

/** The weights gen_yolo.py loads, keyed by ITS state-dict names: fill() values, the DFL back at 0…15. */
function referenceWeights(keys: [string, number[]][], gain: number): Map<string, Tensor> {
  return new Map(keys.map(([key, shape], i) => {
    if (key.endsWith('num_batches_tracked')) return [key, zeros([], { dtype: 'int64' })];
    if (key.endsWith('dfl.conv.weight')) return [key, tidy(() => arange(0, 16, 1).view(shape))];
    return [key, deterministicEntry(key, shape, i, gain)];
  }));
}

/** The gradient check's loss weights (gen_yolo.py's det_weights): cos(0.013·k), row-major. */
const detWeights = (shape: number[]): Tensor =>
  tidy(() => arange(0, shape.reduce((a, b) => a * b, 1), 1, { dtype: 'float64' }).mul(0.013).cos().reshape(shape).float());

/** Largest |value| of an encoded tensor, at least 1: the scale for a relative tolerance. */
const scaleOf = (e: Enc): number => Math.max(1, ...e.data.map((v) => Math.abs(Number(v))));

for (const name of ['yolov8n', 'yolov8s'] as const) {
  const ref = fixture[name] as ScaleRecord;
  describe(`${name} at 80 classes`, () => {
    it(`has Ultralytics' state-dict keys, shapes and order and its ${ULTRALYTICS[name].params.toLocaleString('en')} parameters`, () => {
      withDetector(name, 80, (model) => {
        const ours = [...model.stateDict()].map(([k, t]) => [k, t.shape]);
        assert.deepEqual(ours.map(([k]) => k), ref.keys.map(([k]) => k), 'keys in order');
        assert.deepEqual(ours, ref.keys, 'shapes');
        assert.equal(ref.numParams, ULTRALYTICS[name].params, 'the transcription has Ultralytics\' size');
        assert.equal(model.numParameters(), ULTRALYTICS[name].params);
        assert.equal(model.numParameters(true), ULTRALYTICS[name].params - 16, 'all trainable but the DFL projection');
      });
    });

    it(`counts ${ULTRALYTICS[name].gflops} GFLOPs at 640 px (Ultralytics' figure within 1 %, the traced count exactly)`, () => {
      withDetector(name, 80, (model) => {
        const g = model.gflops(640);
        assert.ok(Math.abs(g - ref.gflops) <= 1e-9 * ref.gflops, `${g} vs the hooks' ${ref.gflops}`);
        assert.ok(Math.abs(g - ULTRALYTICS[name].gflops) <= 0.01 * ULTRALYTICS[name].gflops, `${g} vs Ultralytics' ${ULTRALYTICS[name].gflops}`);
        assert.equal(model.gflops(), g, 'the default size is config.imgSize, 640');
        assert.ok(Math.abs(model.gflops([320, 320]) - g / 4) < 1e-3 * g, 'a quarter of the pixels, about a quarter of the work');
      });
    });
  });
}

describe('yolov8n at 3 classes against the PyTorch transcription', () => {
  const ref = fixture['yolov8n-nc3'] as Nc3Record;

  it('seeded construction draws the reference\'s initial weights (default conv init, then bias_init; DFL 0…15)', () => {
    manualSeed(0);
    withDetector('yolov8n', ref.numClasses, (model) => {
      assert.deepEqual([...model.stateDict()].map(([k, t]) => [k, t.shape]), ref.keys);
      assertSeededInit(model, ref.keys, ref.init);
    });
  });

  for (const num of ref.numerics) {
    it(`with the reference's weights loaded by name, input [${num.input.join(', ')}]: decoded output, train maps, gradients and running mean match`, () => {
      withDetector('yolov8n', ref.numClasses, (model) => {
        const weights = referenceWeights(ref.keys, ref.gain);
        const loaded = model.loadStateDict(weights);
        for (const t of weights.values()) t.dispose();
        assert.deepEqual(loaded, { missingKeys: [], unexpectedKeys: [] });
        const x = detInput(num.input);
        try {
          model.eval();
          noGrad(() => tidy(() => {
            const { decoded } = model.forward(x);
            const expected = fromEnc(num.decoded);
            const rows = (t: Tensor, from: number, count: number): Tensor => t.narrow(1, from, count).contiguous();
            // Boxes are in pixels (hundreds): 1e-4 relative to the largest; scores are in [0, 1].
            const boxScale = Math.max(1, expected.narrow(1, 0, 4).abs().max().item());
            assertClose(rows(decoded!, 0, 4), rows(expected, 0, 4), 1e-4 * boxScale, 'decoded boxes');
            assertClose(rows(decoded!, 4, ref.numClasses), rows(expected, 4, ref.numClasses), 1e-4, 'decoded class scores');
          }));

          model.train();
          tidy(() => {
            const { maps, decoded } = model.forward(x);
            assert.equal(decoded, null, 'train mode gives maps only');
            maps.forEach((m, l) => assertClose(m, num.trainMaps[l]!, 1e-4, `train map ${l}`));
            maps.reduce((sum: Tensor | null, m) => {
              const term = m.mul(detWeights(m.shape)).sum();
              return sum === null ? term : sum.add(term);
            }, null)!.backward();
          });
          const params = new Map(model.namedParameters());
          tidy(() => {
            for (const [key, g] of Object.entries(num.grads)) assertClose(params.get(key)!.grad!, g, 1e-4 * scaleOf(g), `grad of ${key}`);
          });
          assertClose(model.stateDict().get(ref.runningKey)!, num.runningMean, 1e-5, ref.runningKey);
        } finally {
          x.dispose();
          model.zeroGrad();
        }
      });
    });
  }
});
