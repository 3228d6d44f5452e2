// Losses against PyTorch (test/fixtures/nn_losses.json, written by test/fixtures/gen_nn.py):
// the functional forms with every reduction, and the loss modules over the same cases.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BCEWithLogitsLoss, CrossEntropyLoss, F, L1Loss, MSELoss, SmoothL1Loss } from '../../src/nn/index.js';
import { tensor, tidy, type Tensor } from '../../src/tensor/index.js';
import { assertClose, assertCovers, checkCase, loadFixture, type Outputs } from '../helpers.js';

type T = Record<string, Tensor>;
type Opts = { reduction?: F.Reduction; labelSmoothing?: number; ignoreIndex?: number; beta?: number };
type Fn = (t: T, a: Opts) => Outputs;
const fx = loadFixture('nn_losses');
const names = (prefix: string): string[] => Object.keys(fx).filter((k) => k.startsWith(prefix));

const functional: Record<string, Fn> = {};
for (const n of names('cross_entropy')) functional[n] = ({ logits, target, weight }, a) => F.crossEntropy(logits!, target!, { ...a, weight: weight ?? null });
for (const n of names('nll_loss')) functional[n] = ({ logp, target, weight }, a) => F.nllLoss(logp!, target!, { ...a, weight: weight ?? null });
for (const n of names('bce_logits')) {
  functional[n] = ({ z, t, weight, posWeight }, a) => F.binaryCrossEntropyWithLogits(z!, t!, { ...a, weight: weight ?? null, posWeight: posWeight ?? null });
}
for (const n of names('bce').filter((k) => !k.startsWith('bce_logits'))) {
  functional[n] = ({ p, t, weight }, a) => F.binaryCrossEntropy(p!, t!, { ...a, weight: weight ?? null });
}
for (const n of names('mse')) functional[n] = ({ x, y }, a) => F.mseLoss(x!, y!, a.reduction);
for (const n of names('l1')) functional[n] = ({ x, y }, a) => F.l1Loss(x!, y!, a.reduction);
for (const n of names('smooth_l1')) functional[n] = ({ x, y }, a) => F.smoothL1Loss(x!, y!, a);

// The modules hold their options and call F: same cases, same values.
const modules: Record<string, Fn> = {};
for (const n of names('cross_entropy')) {
  modules[n] = ({ logits, target, weight }, a) => new CrossEntropyLoss({ ...a, ...(weight ? { weight } : {}) }).forward(logits!, target!);
}
for (const n of names('bce_logits')) {
  modules[n] = ({ z, t, weight, posWeight }, a) => new BCEWithLogitsLoss({ ...a, ...(weight ? { weight } : {}), ...(posWeight ? { posWeight } : {}) }).forward(z!, t!);
}
for (const n of names('mse')) modules[n] = ({ x, y }, a) => new MSELoss(a.reduction).forward(x!, y!);
for (const n of names('l1')) modules[n] = ({ x, y }, a) => new L1Loss(a.reduction).forward(x!, y!);
for (const n of names('smooth_l1')) modules[n] = ({ x, y }, a) => new SmoothL1Loss(a).forward(x!, y!);

describe('losses match PyTorch (nn_losses.json)', () => {
  it('every fixture case has a test and every test a case', () => assertCovers(fx, functional));
  describe('functional', () => {
    for (const [name, fn] of Object.entries(functional)) it(name, () => checkCase<Opts>(fx[name]!, fn));
  });
  describe('modules', () => {
    for (const [name, fn] of Object.entries(modules)) it(name, () => checkCase<Opts>(fx[name]!, fn));
  });
});

describe('loss properties', () => {
  it('cross entropy of a one-hot probability target equals the class-index form', () => tidy(() => {
    const logits = tensor([[2, -1, 0.5], [0, 0, 3]]);
    const byIndex = F.crossEntropy(logits, tensor([0, 2], { dtype: 'int64' }));
    const byProb = F.crossEntropy(logits, tensor([[1, 0, 0], [0, 0, 1]]));
    assertClose(byProb, byIndex, 1e-6);
  }));
  it('all targets ignored gives NaN for mean, as in PyTorch', () => tidy(() => {
    const loss = F.crossEntropy(tensor([[1, 2]]), tensor([-100], { dtype: 'int64' }));
    assert.ok(Number.isNaN(loss.item()));
  }));
  it('an out-of-range class index throws instead of reading out of bounds', () => tidy(() => {
    assert.throws(() => F.crossEntropy(tensor([[1, 2]]), tensor([5], { dtype: 'int64' })), /out of bounds|Target 5/);
  }));
});
