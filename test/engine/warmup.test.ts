// SGD's warm-up as Ultralytics runs it (fixtures/gen_param_groups.py transcribes BaseTrainer's
// np.interp): the bias group's lr falls from 0.1 to the base lr, momentum rises from 0.8 to 0.937,
// the other groups rise from ~0 with the schedule's own warm-up; resume gives the same values.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { withBiasWarmup, BiasWarmup } from '../../src/engine/warmup.js';
import { SGD, AdamW, warmupCosine } from '../../src/optim/index.js';
import type { Optimizer } from '../../src/optim/optimizer.js';
import { zeros } from '../../src/tensor/creation.js';
import { loadFixture } from '../helpers.js';

interface WarmupCase { nw: number; lr0: number; warmupBiasLr: number; warmupMomentum: number; momentum: number; lr: number[][]; momentumAt: number[] }
const f = (loadFixture('param_groups') as unknown as Record<string, WarmupCase>).warmup!;

const sgd = (): SGD => new SGD([{ params: [zeros([2])], weightDecay: 0 }, { params: [zeros([3])] }, { params: [zeros([1])], weightDecay: 0 }], { lr: f.lr0, momentum: f.momentum, nesterov: true, weightDecay: 5e-4 });
const warmed = (opt: SGD): BiasWarmup => new BiasWarmup(warmupCosine(opt as never, { warmupSteps: f.nw, totalSteps: 100 }), { steps: f.nw, biasLr: f.warmupBiasLr, momentum: [f.warmupMomentum, f.momentum] });
const momenta = (opt: SGD): number[] => opt.paramGroups.map((g) => g.momentum);

describe('BiasWarmup', () => {
  it("follows Ultralytics' warm-up step by step: bias lr and momentum exactly, the other groups within the 0.001 start factor", () => {
    const opt = sgd();
    const s = warmed(opt);
    for (let k = 0; k <= f.nw + 2; k++) {
      const lr = s.getLastLr();
      if (k <= f.nw) {
        assert.ok(Math.abs(lr[0]! - f.lr[k]![0]!) < 1e-12, `step ${k}: bias lr ${lr[0]} vs ${f.lr[k]![0]}`);
        for (const j of [1, 2]) assert.ok(Math.abs(lr[j]! - f.lr[k]![j]!) <= f.lr0 * 1e-3, `step ${k}: group ${j} lr ${lr[j]} vs ${f.lr[k]![j]}`);
        momenta(opt).forEach((m) => assert.ok(Math.abs(m - f.momentumAt[k]!) < 1e-12, `step ${k}: momentum ${m} vs ${f.momentumAt[k]}`));
      } else {
        // After the warm-up every group follows the cosine, at the run's momentum.
        assert.deepEqual([lr[1], lr[2]], [lr[0], lr[0]]);
        assert.ok(lr[0]! < f.lr0 && lr[0]! > 0.99 * f.lr0, `step ${k}: ${lr[0]}`);
        assert.deepEqual(momenta(opt), [f.momentum, f.momentum, f.momentum]);
      }
      s.step();
    }
  });

  it('a resumed run continues with the same lrs and momentum', () => {
    const [a, b] = [sgd(), sgd()];
    const s = warmed(a);
    for (let k = 0; k < 17; k++) s.step();
    // As the Trainer resumes: the optimizer's groups (lr, momentum), then the schedule's step.
    const r = warmed(b);
    b.loadStateDict(a.stateDict());
    r.loadStateDict(s.stateDict());
    s.step();
    r.step();
    assert.deepEqual(r.getLastLr(), s.getLastLr());
    assert.deepEqual(momenta(b), momenta(a));
    assert.ok(Math.abs(b.paramGroups[0]!.lr - f.lr[18]![0]!) < 1e-12);
  });

  it('withBiasWarmup wraps SGD over split groups only: AdamW and a single group keep the plain schedule', () => {
    const args = { optimizer: 'sgd' as const, momentum: 0.937, warmupBiasLr: 0.1, warmupMomentum: 0.8 };
    const opt = sgd();
    const plain = warmupCosine(opt as never, { warmupSteps: 10, totalSteps: 50 });
    assert.ok(withBiasWarmup(plain, args, 10, true) instanceof BiasWarmup);
    assert.equal(withBiasWarmup(plain, args, 10, false), plain);
    assert.equal(withBiasWarmup(plain, { ...args, warmupBiasLr: undefined }, 10, true), plain);
    const adam = new AdamW([zeros([2])], { lr: 1e-3 }) as unknown as Optimizer;
    const adamPlain = warmupCosine(adam as never, { warmupSteps: 10, totalSteps: 50 });
    assert.equal(withBiasWarmup(adamPlain, { ...args, optimizer: 'adamw' }, 10, true), adamPlain);
  });
});
