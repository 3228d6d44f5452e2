// Exact resume: 3 steps, save optimizer + scheduler, load into fresh ones, 2 more steps must equal
// 5 uninterrupted steps bit for bit. The state goes through plain data (tensor bytes + JSON).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  Adam, AdamW, OneCycleLR, SGD, warmupCosine, type AnyOptimizer, type OptimizerStateDict, type Scheduler,
  type SchedulerStateDict,
} from '../../src/optim/index.js';
import { keep, manualSeed, randn, tensor, tidy, type DType, type Tensor } from '../../src/tensor/index.js';
import { assertBitwise, dec, fixture } from './fixture.js';

interface Setup {
  name: string;
  make: (params: Tensor[], foreach: boolean) => { opt: AnyOptimizer; sched: Scheduler | null };
}

const SETUPS: Setup[] = [
  { name: 'SGD nesterov + weight decay', make: (p, foreach) => ({ opt: new SGD(p, { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 1e-2, foreach }), sched: null }) },
  {
    name: 'SGD momentum + warmupCosine, two groups',
    make: (p, foreach) => {
      const opt = new SGD([{ params: p.slice(0, 2) }, { params: p.slice(2), lr: 0.3 }], { lr: 0.1, momentum: 0.9, foreach });
      return { opt, sched: warmupCosine(opt, { warmupSteps: 2, totalSteps: 8, warmupStartFactor: 0.1 }) };
    },
  },
  { name: 'Adam amsgrad + weight decay', make: (p, foreach) => ({ opt: new Adam(p, { lr: 0.01, amsgrad: true, weightDecay: 0.1, foreach }), sched: null }) },
  {
    name: 'AdamW + OneCycleLR cycling beta1',
    make: (p, foreach) => {
      const opt = new AdamW(p, { lr: 0.01, foreach });
      return { opt, sched: new OneCycleLR(opt, { maxLr: 0.05, totalSteps: 6 }) };
    },
  },
];

/** Step k's gradients (parameter 2 has none at step 1, so step counts differ). */
function setGrads(params: Tensor[], k: number): void {
  manualSeed(1000 + k);
  params.forEach((p, i) => (p.grad = k === 1 && i === 2 ? null : randn(p.shape)));
}

function train(params: Tensor[], opt: AnyOptimizer, sched: Scheduler | null, from: number, to: number): void {
  for (let k = from; k < to; k++) {
    tidy(() => {
      setGrads(params, k);
      opt.step();
      opt.zeroGrad();
    });
    sched?.step();
  }
}

const freshParams = (): Tensor[] => fixture.params.map((e) => keep(dec(e).requiresGrad_(true)));

/** As a checkpoint would store it: tensor bytes and JSON text. */
function serialise(sd: OptimizerStateDict, sched: SchedulerStateDict | null): { tensors: [string, DType, number[], number[]][]; json: string } {
  const tensors = [...sd.state].map(([k, t]) => [k, t.dtype, t.shape, t.toArray()] as [string, DType, number[], number[]]);
  return { tensors, json: JSON.stringify({ meta: sd.meta, sched }) };
}

describe('exact resume', () => {
  for (const setup of SETUPS) {
    for (const foreach of [false, true]) {
      test(`${setup.name}${foreach ? ' (foreach)' : ''}`, () => {
        const straight = freshParams();
        const a = setup.make(straight, foreach);
        train(straight, a.opt, a.sched, 0, 5);

        const first = freshParams();
        const b = setup.make(first, foreach);
        train(first, b.opt, b.sched, 0, 3);
        const saved = serialise(b.opt.stateDict(), b.sched?.stateDict() ?? null);
        const weights = first.map((p) => p.toArray());
        b.opt.dispose();

        const resumed = fixture.params.map((e, i) => keep(tensor(weights[i]!, { shape: e.shape }).requiresGrad_(true)));
        const c = setup.make(resumed, foreach);
        const { meta, sched } = JSON.parse(saved.json) as { meta: OptimizerStateDict['meta']; sched: SchedulerStateDict | null };
        const state = new Map(saved.tensors.map(([k, dtype, shape, data]) => [k, tensor(data, { shape, dtype })]));
        c.opt.loadStateDict({ state, meta });
        state.forEach((t) => t.dispose());
        if (sched) c.sched!.loadStateDict(sched);
        train(resumed, c.opt, c.sched, 3, 5);

        straight.forEach((p, i) => assertBitwise(resumed[i]!, p, `param ${i}`));
        assert.deepEqual(c.opt.paramGroups.map(({ params: _, ...h }) => h), a.opt.paramGroups.map(({ params: _, ...h }) => h));
        assert.deepEqual(c.sched?.getLastLr(), a.sched?.getLastLr());
        const [sa, sc] = [a.opt.stateDict(), c.opt.stateDict()];
        assert.deepEqual(sc.meta, sa.meta);
        for (const [k, t] of sa.state) assertBitwise(sc.state.get(k)!, t, k);
        for (const x of [a, c]) x.opt.dispose();
        [...straight, ...first, ...resumed].forEach((p) => p.dispose());
      });
    }
  }
});
