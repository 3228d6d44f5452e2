// Segmentation losses against PyTorch (test/fixtures/seg_losses.json, gen_seg_losses.py): values
// and gradients of cross-entropy with ignore_index and class weights, Dice, focal and their sum
// to 1e-5, plus the properties the definitions promise.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cellHistogramLoss, diceLoss, F, focalLoss, medianFrequencyWeights, SegmentationLoss } from '../../src/nn/index.js';
import { randn, tensor, tidy, type Tensor } from '../../src/tensor/index.js';
import { assertCovers, assertNoLeak, checkCase, loadFixture, type Outputs } from '../helpers.js';

type T = Record<string, Tensor>;
interface Args { reduction?: F.Reduction; ignoreIndex?: number; smooth?: number; gamma?: number; ce?: number; dice?: number; focal?: number }
const fx = loadFixture('seg_losses');

const cases: Record<string, (t: T, a: Args) => Outputs> = {};
for (const r of ['mean', 'sum', 'none']) {
  cases[`ce_ignore_weight_${r}`] = ({ logits, target, weight }, a) => F.crossEntropy(logits!, target!, { weight: weight!, ignoreIndex: a.ignoreIndex!, reduction: a.reduction! });
  cases[`focal_gamma2_weight_${r}`] = ({ logits, target, weight }, a) => focalLoss(logits!, target!, { weight: weight!, ...a });
}
cases.ce_ignore = ({ logits, target }, a) => F.crossEntropy(logits!, target!, { ignoreIndex: a.ignoreIndex! });
cases.dice_ignore = ({ logits, target }, a) => diceLoss(logits!, target!, a);
cases.dice_ignore_weight_smooth0 = ({ logits, target, weight }, a) => diceLoss(logits!, target!, { ...a, weight: weight! });
cases.dice_absent_class = ({ logits, target }, a) => diceLoss(logits!, target!, a);
cases.dice_volume = ({ logits, target }, a) => diceLoss(logits!, target!, a);
cases.focal_gamma0_5 = ({ logits, target }, a) => focalLoss(logits!, target!, a);
cases.cell_histogram_weight = ({ logits, target, weight }, a) => cellHistogramLoss(logits!, target!, { ignoreIndex: a.ignoreIndex!, weight: weight! });
cases.cell_histogram_overlap = ({ logits, target }, a) => cellHistogramLoss(logits!, target!, { ignoreIndex: a.ignoreIndex! });
cases.combined = ({ logits, target, weight }, a) =>
  new SegmentationLoss({ ce: a.ce!, dice: a.dice!, focal: a.focal!, ignoreIndex: a.ignoreIndex!, classWeights: Array.from(weight!.dataSync() as Float32Array) }).forward(logits!, target!);

describe('segmentation losses match PyTorch (seg_losses.json)', () => {
  it('every fixture case has a test and every test a case', () => assertCovers(fx, cases));
  for (const [name, fn] of Object.entries(cases)) it(`${name}: value and gradient within 1e-5`, () => checkCase<Args>(fx[name]!, fn, 1e-5));
});

describe('segmentation loss properties', () => {
  const logits = (): Tensor => randn([2, 3, 4, 5]).mul(3);
  const target = (): Tensor => tensor(Array.from({ length: 40 }, (_, i) => [0, 1, 2, 255][i % 4]!), { shape: [2, 4, 5], dtype: 'int64' });

  it('focal loss with γ = 0 is cross-entropy, weighted and with ignored pixels', () => tidy(() => {
    const [x, t, w] = [logits(), target(), tensor([0.5, 2, 1])];
    const a = focalLoss(x, t, { gamma: 0, weight: w, ignoreIndex: 255 }).item();
    const b = F.crossEntropy(x, t, { weight: w, ignoreIndex: 255 }).item();
    assert.ok(Math.abs(a - b) < 1e-6, `${a} vs ${b}`);
  }));

  it('Dice is 0 for a (near) perfect prediction and ignored pixels change nothing whatever their logits', () => tidy(() => {
    const t = target();
    const perfect = t.clamp(0, 2).unsqueeze(1).eq(tensor([0, 1, 2], { dtype: 'int64' }).reshape([1, 3, 1, 1])).float().mul(100);
    assert.ok(diceLoss(perfect, t, { ignoreIndex: 255 }).item() < 1e-6);
    const noisy = perfect.add(randn([2, 3, 4, 5]).mul(t.eq(255).unsqueeze(1).float()).mul(50));
    assert.ok(Math.abs(diceLoss(noisy, t, { ignoreIndex: 255 }).item() - diceLoss(perfect, t, { ignoreIndex: 255 }).item()) < 1e-6);
  }));

  it('SegmentationLoss.terms() gives each weighted term and forward() their sum; no tensor leaks', () => {
    const loss = new SegmentationLoss({ ce: 1, dice: 2, focal: 0.5, classWeights: [1, 2, 3] });
    try {
      assertNoLeak(() => tidy(() => {
        const [x, t] = [logits(), target()];
        const terms = loss.terms(x, t);
        assert.deepEqual(Object.keys(terms), ['ce', 'dice', 'focal']);
        const w = tensor([1, 2, 3]);
        assert.ok(Math.abs(terms.dice!.item() - 2 * diceLoss(x, t, { ignoreIndex: 255, weight: w }).item()) < 1e-6);
        const sum = terms.ce!.item() + terms.dice!.item() + terms.focal!.item();
        assert.ok(Math.abs(loss.forward(x, t).item() - sum) < 1e-5);
      }));
      assert.deepEqual([...loss.stateDict().keys()], [], 'class weights stay out of the state dict');
    } finally {
      loss.dispose();
    }
    assert.deepEqual(Object.keys(new SegmentationLoss().terms(logits(), target())), ['ce']);
  });

  it('refuses weights that make no loss, naming them', () => {
    assert.throws(() => new SegmentationLoss({ ce: 0 }), /at least one of the ce, dice and focal weights must be positive/);
    assert.throws(() => new SegmentationLoss({ dice: -1 }), /loss weight dice must be ≥ 0, got -1/);
    assert.throws(() => new SegmentationLoss({ classWeights: [1, Number.NaN] }), /class weights must be finite and ≥ 0/);
    assert.throws(() => focalLoss(logits(), target(), { gamma: -1 }), /focal loss gamma must be ≥ 0, got -1/);
  });

  it('median-frequency weights: the median class gets 1, rarer ones more, absent ones 0', () => {
    // shares 0.7, 0.2, 0.1 (median 0.2) and an absent class
    const w = medianFrequencyWeights([700, 200, 100, 0]);
    assert.deepEqual(w.map((v) => Math.round(v * 1e9) / 1e9), [0.285714286, 1, 2, 0]);
    assert.deepEqual(medianFrequencyWeights([10, 30]), [2, 2 / 3]);
    assert.throws(() => medianFrequencyWeights([0, 0]), /must include some pixels/);
  });
});
