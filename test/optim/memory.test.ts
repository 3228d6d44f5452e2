// 200 training steps with every optimizer (plus scheduler, clipping and EMA) keep the live
// tensor count constant once the optimizer state exists.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Linear, ReLU, Sequential } from '../../src/nn/index.js';
import { Adam, AdamW, clipGradNorm, ModelEMA, OneCycleLR, SGD, warmupCosine, type AnyOptimizer, type Scheduler } from '../../src/optim/index.js';
import { manualSeed, memory, randn, tidy } from '../../src/tensor/index.js';

const STEPS = 200;
const SETUPS: [string, (m: Sequential) => [AnyOptimizer, Scheduler]][] = [
  ['SGD', (m) => { const o = new SGD(m.parameters(), { lr: 0.05, momentum: 0.9, nesterov: true }); return [o, warmupCosine(o, { warmupSteps: 10, totalSteps: STEPS + 1 })]; }],
  ['SGD per-tensor', (m) => { const o = new SGD(m.parameters(), { lr: 0.05, momentum: 0.9, weightDecay: 1e-4, foreach: false }); return [o, warmupCosine(o, { warmupSteps: 10, totalSteps: STEPS + 1 })]; }],
  ['Adam amsgrad', (m) => { const o = new Adam(m.parameters(), { lr: 1e-3, amsgrad: true, weightDecay: 1e-4 }); return [o, new OneCycleLR(o, { maxLr: 1e-2, totalSteps: STEPS + 1 })]; }],
  ['AdamW per-tensor', (m) => { const o = new AdamW(m.parameters(), { lr: 1e-3, foreach: false }); return [o, new OneCycleLR(o, { maxLr: 1e-2, totalSteps: STEPS + 1 })]; }],
];

for (const [name, make] of SETUPS) {
  test(`${name}: ${STEPS} steps keep memory().tensors constant`, () => {
    manualSeed(0);
    const model = new Sequential(new Linear(8, 16), new ReLU(), new Linear(16, 4));
    const [opt, sched] = make(model);
    const ema = new ModelEMA(model, { decay: 0.99, tau: 10 });
    const x = randn([32, 8]);
    const y = randn([32, 4]);
    const step = (): number => {
      const loss = tidy(() => {
        const l = model.forward(x).sub(y).pow(2).mean();
        l.backward();
        clipGradNorm(model.parameters(), 5);
        opt.step();
        opt.zeroGrad();
        return l.item();
      });
      sched.step();
      ema.update(model);
      return loss;
    };
    const first = step(); // creates the optimizer state
    const before = memory().tensors;
    let last = first;
    for (let i = 0; i < STEPS - 1; i++) last = step();
    assert.equal(memory().tensors, before, 'live tensor count changed');
    assert.ok(last < first, `the loss went down (${first} → ${last})`);
    for (const t of [ema, opt, model, x, y]) t.dispose();
  });
}
