// LR schedulers against torch.optim.lr_scheduler (1.13): lr (and momentum) after every step.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import {
  Adam, CosineAnnealingLR, LinearLR, MultiStepLR, OneCycleLR, SGD, StepLR, warmupCosine, warmupSteps, type AnyOptimizer, type Scheduler,
} from '../../src/optim/index.js';
import { keep, zeros } from '../../src/tensor/index.js';
import { assertRelClose, fixture } from './fixture.js';

const RTOL = 1e-9;
const w = [keep(zeros([1]).requiresGrad_(true)), keep(zeros([1]).requiresGrad_(true))];
after(() => w.forEach((t) => t.dispose()));

// As gen_optim.py: two groups, lr 0.1 and 0.01.
const sgd = (): SGD => new SGD([{ params: [w[0]!] }, { params: [w[1]!], lr: 0.01 }], { lr: 0.1, momentum: 0.9 });
const adam = (): Adam => new Adam([{ params: [w[0]!] }, { params: [w[1]!], lr: 0.01 }], { lr: 0.1 });

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Args = any;
const CASES: Record<string, { opt: () => AnyOptimizer; make: (o: AnyOptimizer, a: Args) => Scheduler }> = {
  step: { opt: sgd, make: (o, a) => new StepLR(o, a) },
  multistep: { opt: sgd, make: (o, a) => new MultiStepLR(o, a) },
  cosine: { opt: sgd, make: (o, a) => new CosineAnnealingLR(o, a) },
  linear: { opt: sgd, make: (o, a) => new LinearLR(o, a) },
  onecycle_cos_sgd: { opt: sgd, make: (o, a) => new OneCycleLR(o, a) },
  onecycle_linear_adam: { opt: adam, make: (o, a) => new OneCycleLR(o, a) },
  onecycle_three_phase: { opt: sgd, make: (o, a) => new OneCycleLR(o, a) },
  warmup_cosine: { opt: sgd, make: (o, a) => warmupCosine(o, a) },
};

describe('schedulers match PyTorch', () => {
  for (const [name, c] of Object.entries(fixture.schedulers)) {
    test(`${name} ${JSON.stringify(c.args)}`, () => {
      const { opt: makeOpt, make } = CASES[name]!;
      const opt = makeOpt();
      const sched = make(opt, c.args);
      const momentum = (): number[] => opt.paramGroups.map((g) => opt.getMomentum(g)!);
      c.lrs.forEach((expected, k) => {
        if (k > 0) sched.step();
        assertRelClose(sched.getLastLr(), expected, RTOL, `${name} lr at step ${k}`);
        assertRelClose(opt.paramGroups.map((g) => g.lr), expected, RTOL, `${name} group lr at step ${k}`);
        if (c.momentum) assertRelClose(momentum(), c.momentum[k]!, RTOL, `${name} momentum at step ${k}`);
      });
    });
  }
});

describe('scheduler behaviour', () => {
  test('OneCycleLR refuses to step past totalSteps', () => {
    const sched = new OneCycleLR(sgd(), { maxLr: 0.1, totalSteps: 3 });
    for (let i = 0; i < 3; i++) sched.step();
    assert.throws(() => sched.step(), /totalSteps is 3/);
  });

  test('OneCycleLR takes epochs × stepsPerEpoch and sets initial lr = maxLr / divFactor', () => {
    const opt = sgd();
    const sched = new OneCycleLR(opt, { maxLr: [1, 0.5], epochs: 2, stepsPerEpoch: 5, cycleMomentum: false });
    assert.equal(sched.totalSteps, 10);
    assertRelClose(sched.getLastLr(), [1 / 25, 0.5 / 25], 1e-12, 'initial lr');
    assert.equal(opt.paramGroups[0]!.momentum, 0.9, 'momentum untouched without cycleMomentum');
  });

  test('the first scheduler fixes initialLr; later ones start from it', () => {
    const opt = sgd();
    const warm = new LinearLR(opt, { startFactor: 0.5, totalIters: 2 });
    assert.deepEqual(warm.getLastLr(), [0.05, 0.005]);
    const cos = new CosineAnnealingLR(opt, { tMax: 4 });
    assert.deepEqual(cos.baseLrs, [0.1, 0.01]);
  });

  test('warmupCosine without warm-up is a plain cosine', () => {
    const sched = warmupCosine(sgd(), { warmupSteps: 0, totalSteps: 10 });
    assert.ok(sched instanceof CosineAnnealingLR);
    assert.throws(() => warmupCosine(sgd(), { warmupSteps: 10, totalSteps: 10 }), /warmupSteps/);
  });

  test('warmupSteps: warmupEpochs of steps, at most a fifth of the run', () => {
    assert.equal(warmupSteps(5, 937, 1), 937, 'the default 5-epoch MNIST run keeps its one warm-up epoch');
    assert.equal(warmupSteps(1, 937, 1), 187, 'a 1-epoch run warms up over a fifth of it');
    assert.equal(warmupSteps(2, 100, 1), 40);
    assert.equal(warmupSteps(10, 100, 0.5), 50);
    assert.equal(warmupSteps(10, 100, 3), 200);
    assert.equal(warmupSteps(3, 100, 0), 0);
    assert.equal(warmupSteps(1, 4, 1), 0, 'too short to warm up at all');
  });

  test('a 1-epoch warm-up cosine peaks after a fifth of the run and anneals to ~0 by its end', () => {
    const [steps, base] = [937, 0.1];
    const sched = warmupCosine(sgd(), { warmupSteps: warmupSteps(1, steps, 1), totalSteps: steps });
    const lrs = [sched.getLastLr()[0]!];
    for (let k = 1; k < steps; k++) {
      sched.step();
      lrs.push(sched.getLastLr()[0]!);
    }
    assert.equal(lrs.indexOf(Math.max(...lrs)), 187);
    assert.ok(Math.abs(lrs[187]! - base) < 1e-12);
    assert.ok(Math.abs(lrs[0]! - base * 1e-3) < 1e-12, 'starts at 0.001× the base lr');
    // The last step is the cosine's 749th of 750: (1 + cos(749π/750)) / 2 ≈ 4.4e-6 of the base.
    assert.ok(Math.abs(lrs[steps - 1]! - (base * (1 + Math.cos((749 * Math.PI) / 750))) / 2) < 1e-15);
    assert.ok(lrs[steps - 1]! < base * 1e-5);
  });

  test('a state dict restores the schedule exactly (JSON round trip)', () => {
    const makers: [string, (o: AnyOptimizer) => Scheduler][] = [
      ['StepLR', (o) => new StepLR(o, { stepSize: 2, gamma: 0.7 })],
      ['OneCycleLR', (o) => new OneCycleLR(o, { maxLr: 0.3, totalSteps: 12 })],
      ['warmupCosine', (o) => warmupCosine(o, { warmupSteps: 3, totalSteps: 12, etaMin: 1e-5 })],
    ];
    for (const [name, make] of makers) {
      const optA = sgd();
      const a = make(optA);
      const lrsA: number[][] = [];
      for (let i = 0; i < 10; i++) {
        a.step();
        lrsA.push(a.getLastLr());
      }
      const optB = sgd();
      const b = make(optB);
      for (let i = 0; i < 4; i++) b.step();
      const saved = JSON.parse(JSON.stringify({ opt: optB.stateDict().meta, sched: b.stateDict() }));
      const optC = sgd();
      const c = make(optC);
      optC.loadStateDict({ state: new Map(), meta: saved.opt });
      c.loadStateDict(saved.sched);
      const lrsC = [...lrsA.slice(0, 4)];
      for (let i = 4; i < 10; i++) {
        c.step();
        lrsC.push(c.getLastLr());
      }
      assert.deepEqual(lrsC, lrsA, name);
      assert.deepEqual(optC.paramGroups.map((g) => [g.lr, g.momentum]), optA.paramGroups.map((g) => [g.lr, g.momentum]), name);
    }
  });
});
