// The zoo against torchvision (and a by-hand timm ViT): state-dict keys, shapes and order, parameter
// counts, seeded init, and logits under deterministic weights. Data: test/fixtures/gen_models.py.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createModel, type ClassifierModel, type ModelOptions } from '../../src/models/index.js';
import { arange, empty, manualSeed, memory, noGrad, tidy, type Tensor } from '../../src/tensor/index.js';
import { assertClose, loadFixture, type Enc } from '../helpers.js';

interface ModelRecord {
  keys: [string, number[]][];
  numParams: number;
  /** [sum, sum of squares] of each floating entry after manualSeed(0) and construction. */
  init?: ([number, number] | null)[];
  numerics?: { opts: ModelOptions; gain: number; input: number[]; logits: Enc };
}

const fixture = loadFixture('models') as unknown as Record<string, ModelRecord>;

/** gen_models.py's fill(): per entry i, U(-1, 1) from manualSeed(i), shaped by what the entry is. */
function fillDeterministic(model: ClassifierModel, gain: number): void {
  noGrad(() => {
    [...model.stateDict()].forEach(([key, t], i) => {
      if (!t.dtype.startsWith('float')) return;
      manualSeed(i);
      tidy(() => {
        const u = empty(t.shape, { dtype: t.dtype }).uniform_(-1, 1);
        let v: Tensor;
        if (t.ndim >= 2) v = u.mul(Math.sqrt((3 * gain) / (t.numel() / t.shape[0]!)));
        else if (key.endsWith('running_var')) v = u.abs().add(0.5);
        else if (key.endsWith('weight')) v = u.mul(0.1).add(1);
        else v = u.mul(0.1);
        t.copy_(v);
      });
    });
  });
}

/** gen_models.py's det_input(): sin(0.37·k) in float64, then float32. */
const detInput = (shape: number[]): Tensor =>
  tidy(() => arange(0, shape.reduce((a, b) => a * b, 1), 1, { dtype: 'float64' }).mul(0.37).sin().reshape(shape).float());

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
        const tensors = [...model.stateDict().values()];
        ref.init.forEach((stats, i) => {
          if (stats === null) return;
          const [sum, sq] = tidy(() => {
            const d = tensors[i]!.to('float64');
            return [d.sum().item(), d.pow(2).sum().item()];
          });
          const key = ref.keys[i]![0];
          assert.ok(Math.abs(sum - stats[0]) <= 1e-6 * Math.max(1, Math.sqrt(stats[1])), `${key}: sum ${sum} vs ${stats[0]}`);
          assert.ok(Math.abs(sq - stats[1]) <= 1e-6 * Math.max(1, stats[1]), `${key}: sum of squares ${sq} vs ${stats[1]}`);
        });
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
