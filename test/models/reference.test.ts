// The zoo against torchvision (and a by-hand timm ViT): state-dict keys, shapes and order, parameter
// counts, seeded init, and logits under deterministic weights. Data: test/fixtures/gen_models.py.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createModel, type ClassifierModel, type ModelOptions } from '../../src/models/index.js';
import { manualSeed, memory, noGrad, tidy } from '../../src/tensor/index.js';
import { assertClose, loadFixture, type Enc } from '../helpers.js';
import { assertSeededInit, detInput, fillDeterministic } from './deterministic.js';

interface ModelRecord {
  keys: [string, number[]][];
  numParams: number;
  /** [sum, sum of squares] of each floating entry after manualSeed(0) and construction. */
  init?: ([number, number] | null)[];
  numerics?: { opts: ModelOptions; gain: number; input: number[]; logits: Enc };
}

const fixture = loadFixture('models') as unknown as Record<string, ModelRecord>;

function withModel(name: string, opts: ModelOptions, fn: (m: ClassifierModel) => void): void {
  const before = memory().tensors;
  const model = createModel(name, opts);
  try {
    fn(model);
  } finally {
    model.dispose();
  }
  assert.equal(memory().tensors, before, 'live tensors after the model is disposed');
}

for (const [name, ref] of Object.entries(fixture)) {
  describe(name, () => {
    it(`state-dict keys, shapes and order, and the parameter count (${ref.numParams.toLocaleString('en')}) match the reference`, () => {
      manualSeed(0);
      withModel(name, {}, (model) => {
        const ours = [...model.stateDict()].map(([k, t]) => [k, t.shape]);
        assert.deepEqual(ours.map(([k]) => k), ref.keys.map(([k]) => k), 'keys in order');
        assert.deepEqual(ours, ref.keys, 'shapes');
        assert.equal(model.numParameters(), ref.numParams);
        if (!ref.init) return;
        // Same construction order and init loop as torchvision: the seeded weights are torchvision's.
        assertSeededInit(model, ref.keys, ref.init);
      });
    });

    if (ref.numerics) {
      const { opts, gain, input, logits } = ref.numerics;
      it(`eval-mode logits under deterministic weights match (input [${input.join(', ')}])`, () => {
        withModel(name, opts, (model) => {
          model.eval();
          fillDeterministic(model, gain);
          tidy(() => {
            const out = noGrad(() => model.forward(detInput(input)));
            const scale = Math.max(1, ...logits.data.map((v) => Math.abs(Number(v))));
            assertClose(out, logits, 1e-4 * scale, `${name} logits`);
          });
        });
      });
    }
  });
}
