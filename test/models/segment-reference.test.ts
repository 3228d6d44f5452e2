// Segmentation models against torchvision (and a milesial-layout U-Net in PyTorch): state-dict keys,
// shapes and order, parameter counts, seeded init, multiply-adds, and eval outputs after loading a
// state dict with the reference's values. Data: test/fixtures/gen_segment.py.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createSegmenter, type SegmentationModel, type SegmenterOptions } from '../../src/models/index.js';
import { manualSeed, memory, noGrad, tidy, type Tensor } from '../../src/tensor/index.js';
import { assertClose, loadFixture, type Enc } from '../helpers.js';
import { assertSeededInit, deterministicEntry, detInput } from './deterministic.js';

interface SegmentRecord {
  opts: SegmenterOptions & { name: string };
  keys: [string, number[]][];
  numParams: number;
  init: ([number, number] | null)[];
  macs: { shape: number[]; value: number };
  numerics: { gain: number; input: number[]; out: Enc };
}

const fixture = loadFixture('segment') as unknown as Record<string, SegmentRecord>;

function withModel(ref: SegmentRecord, fn: (m: SegmentationModel) => void): void {
  const before = memory().tensors;
  const { name, ...opts } = ref.opts;
  const model = createSegmenter(name, opts);
  try {
    fn(model);
  } finally {
    model.dispose();
  }
  assert.equal(memory().tensors, before, 'live tensors after the model is disposed');
}

describe('segmentation models match their PyTorch references', () => {
  it('the fixture covers the torchvision models and the U-Net', () => {
    assert.deepEqual(Object.keys(fixture).sort(), ['deeplabv3_mobilenet_v3_large', 'deeplabv3_resnet50', 'fcn_resnet50', 'lraspp_mobilenet_v3_large', 'unet']);
  });

  for (const [name, ref] of Object.entries(fixture)) {
    it(`${name}: keys, shapes and order, ${ref.numParams.toLocaleString('en')} parameters, seeded init and multiply-adds`, () => {
      manualSeed(0);
      withModel(ref, (model) => {
        const ours = [...model.stateDict()].map(([k, t]) => [k, t.shape]);
        assert.deepEqual(ours.map(([k]) => k), ref.keys.map(([k]) => k), 'keys in order');
        assert.deepEqual(ours, ref.keys, 'shapes');
        assert.equal(model.numParameters(), ref.numParams);
        // built in torchvision's order (whole classifier, then the head): the same weights from the same seed
        assertSeededInit(model, ref.keys, ref.init);
        const [, , h, w] = ref.macs.shape;
        const macs = (model.gflops([h!, w!]) * 1e9) / 2;
        assert.ok(Math.abs(macs - ref.macs.value) <= 1e-9 * ref.macs.value, `multiply-adds at ${h}×${w}: ${macs} vs ${ref.macs.value}`);
      });
    });

    it(`${name}: eval output after loading the reference's state dict (input [${ref.numerics.input.join(', ')}])`, () => {
      withModel(ref, (model) => {
        const { gain, input, out } = ref.numerics;
        const state = new Map<string, Tensor>();
        ref.keys.forEach(([key, shape], i) => {
          if (key.endsWith('num_batches_tracked')) return;
          state.set(key, deterministicEntry(key, shape, i, gain));
        });
        try {
          const result = model.loadStateDict(state, { strict: false });
          assert.deepEqual(result.unexpectedKeys, []);
          assert.ok(result.missingKeys.every((k) => k.endsWith('num_batches_tracked')), `missing: ${result.missingKeys.join(', ')}`);
        } finally {
          for (const t of state.values()) t.dispose();
        }
        model.eval();
        tidy(() => {
          const y = noGrad(() => model.forward(detInput(input)));
          assert.deepEqual(y.shape, out.shape);
          const scale = Math.max(1, ...out.data.map((v) => Math.abs(Number(v))));
          assertClose(y, out, 1e-4 * scale, `${name} output`);
        });
      });
    });
  }
});
