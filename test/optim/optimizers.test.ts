// SGD, Adam and AdamW against torch.optim (1.13, single-tensor path) on a fixed gradient sequence,
// in each of their implementations: one tensor at a time, `_foreach_*` ops, Adam's fused kernel.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Adam, AdamW, SGD, type Optimizer } from '../../src/optim/index.js';
import { keep, tensor, tidy, zeros, type Tensor } from '../../src/tensor/index.js';
import { assertBitwise, dec, fixture, maxAbsDiff, type OptimizerCase } from './fixture.js';

const ATOL = 1e-6;

type AnyOpt = Optimizer<{ lr: number; weightDecay: number }>;

type Impl = 'single' | 'foreach' | 'fused';

function makeOptimizer(c: OptimizerCase, params: Tensor[], impl: Impl): AnyOpt {
  const options = { ...c.options, foreach: impl === 'foreach', ...(c.kind === 'SGD' ? {} : { fused: impl === 'fused' }) };
  const groups = c.second ? [{ params: params.slice(0, 2) }, { params: params.slice(2), ...c.second }] : params;
  const cls = { SGD, Adam, AdamW }[c.kind] as unknown as new (p: unknown, o: unknown) => AnyOpt;
  return new cls(groups, options);
}

/** Runs a case; returns the parameters after every step (the caller disposes them). */
function run(c: OptimizerCase, impl: Impl): { after: Tensor[][]; opt: AnyOpt; params: Tensor[] } {
  const params = fixture.params.map((e) => keep(dec(e).requiresGrad_(true)));
  const opt = makeOptimizer(c, params, impl);
  const after = fixture.grads.map((step) =>
    tidy(() => {
      step.forEach((g, i) => (params[i]!.grad = g === null ? null : dec(g)));
      opt.step();
      return params.map((p) => p.detach().clone());
    }),
  );
  return { after, opt, params };
}

const disposeAll = (...lists: Tensor[][]): void => lists.flat().forEach((t) => t.dispose());

describe('optimizers match PyTorch', () => {
  for (const [name, c] of Object.entries(fixture.optimizers)) {
    test(`${name} (${c.kind} ${JSON.stringify(c.options)}${c.second ? ' + group ' + JSON.stringify(c.second) : ''})`, () => {
      const single = run(c, 'single');
      const multi = run(c, 'foreach');
      // The fused kernel rounds in its own order (no FMA, one pass): close, not bitwise.
      const fused = c.kind === 'SGD' ? null : run(c, 'fused');
      let [worst, worstFused] = [0, 0];
      c.after.forEach((expected, k) =>
        expected.forEach((e, i) => {
          worst = Math.max(worst, maxAbsDiff(single.after[k]![i]!, e));
          assertBitwise(multi.after[k]![i]!, single.after[k]![i]!, `${name} step ${k} param ${i}: foreach vs single-tensor`);
          if (fused) worstFused = Math.max(worstFused, maxAbsDiff(fused.after[k]![i]!, e));
        }),
      );
      assert.ok(worst <= ATOL, `${name}: max |diff| to PyTorch ${worst} > ${ATOL}`);
      assert.ok(worstFused <= ATOL, `${name}: fused, max |diff| to PyTorch ${worstFused} > ${ATOL}`);
      for (const r of fused ? [single, multi, fused] : [single, multi]) {
        r.opt.dispose();
        disposeAll(r.params, ...r.after);
      }
    });
  }
});

describe('Optimizer base', () => {
  test('parameters without a gradient are skipped and get no state', () => {
    const [a, b] = [keep(tensor([1, 2]).requiresGrad_(true)), keep(tensor([3, 4]).requiresGrad_(true))];
    const opt = new Adam([a, b], { lr: 0.1 });
    tidy(() => {
      a.grad = tensor([1, 1]);
      opt.step();
    });
    assert.deepEqual(b.toArray(), [3, 4]);
    assert.notDeepEqual(a.toArray(), [1, 2]);
    const sd = opt.stateDict();
    assert.deepEqual([...sd.state.keys()].sort(), ['state.0.exp_avg', 'state.0.exp_avg_sq']);
    assert.deepEqual(sd.meta.steps, { 0: 1 });
    opt.zeroGrad();
    assert.equal(a.grad, null);
    opt.dispose();
    opt.dispose();
    a.dispose();
    b.dispose();
  });

  test('param groups take per-group options; lr reads group 0 and sets all', () => {
    const [a, b] = [keep(zeros([2]).requiresGrad_(true)), keep(zeros([2]).requiresGrad_(true))];
    const opt = new SGD([{ params: [a] }, { params: [b], lr: 0.5, momentum: 0.9 }], { lr: 0.1 });
    assert.equal(opt.paramGroups[0]!.lr, 0.1);
    assert.equal(opt.paramGroups[0]!.momentum, 0);
    assert.equal(opt.paramGroups[1]!.lr, 0.5);
    assert.equal(opt.paramGroups[1]!.momentum, 0.9);
    assert.equal(opt.lr, 0.1);
    opt.lr = 0.01;
    assert.deepEqual(opt.paramGroups.map((g) => g.lr), [0.01, 0.01]);
    const meta = JSON.parse(JSON.stringify(opt.stateDict().meta));
    assert.deepEqual(meta.paramGroups[1].params, [1]);
    assert.equal(meta.paramGroups[1].momentum, 0.9);
    a.dispose();
    b.dispose();
  });

  test('AdamW defaults to weight decay 1e-2; Adam to 0', () => {
    const p = keep(zeros([1]).requiresGrad_(true));
    assert.equal(new AdamW([p]).paramGroups[0]!.weightDecay, 1e-2);
    assert.equal(new Adam([p]).paramGroups[0]!.weightDecay, 0);
    assert.equal(new AdamW([p], { weightDecay: 0 }).paramGroups[0]!.weightDecay, 0);
    p.dispose();
  });

  test('bad options and bad state are refused', () => {
    const p = keep(zeros([2]).requiresGrad_(true));
    assert.throws(() => new SGD([p], { lr: 0.1, nesterov: true }), /Nesterov/);
    assert.throws(() => new SGD([p, p], { lr: 0.1 }), /more than one/);
    assert.throws(() => new Adam([p], { betas: [1, 0.9] }), /betas/);
    assert.throws(() => new SGD([], { lr: 0.1 }), /empty/);
    const sgd = new SGD([p], { lr: 0.1 });
    assert.throws(() => new Adam([p]).loadStateDict(sgd.stateDict()), /state of SGD/);
    const wrong = { state: new Map([['state.0.exp_avg', zeros([3])]]), meta: { ...new Adam([p]).stateDict().meta } };
    assert.throws(() => new Adam([p]).loadStateDict(wrong), /shape/);
    wrong.state.get('state.0.exp_avg')!.dispose();
    p.dispose();
  });
});
