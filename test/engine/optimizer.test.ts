// The optimizer a run gets: detection's three parameter groups are Ultralytics' (decay on conv
// weights only), checked name by name against build_optimizer's rule run over the PyTorch
// transcription of YOLOv8n (fixtures/gen_param_groups.py); classification keeps one group.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decayGroups, makeOptimizer } from '../../src/engine/optimizer.js';
import { createDetector } from '../../src/models/registry.js';
import { BatchNorm2d, Conv2d, Linear, Sequential, type Module } from '../../src/nn/index.js';
import type { Optimizer } from '../../src/optim/optimizer.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { loadFixture } from '../helpers.js';

const fixture = loadFixture('param_groups') as unknown as Record<string, { decay: string[]; norm: string[]; bias: string[] }>;

const groupsOf = (opt: unknown): [number, number, number][] => (opt as Optimizer).paramGroups.map((g) => [g.params.length, g.weightDecay, g.lr]);

const namesOf = (model: Module<never[], unknown>, ts: Tensor[]): string[] => {
  const byTensor = new Map([...model.namedParameters()].map(([k, t]) => [t, k]));
  return ts.map((t) => byTensor.get(t)!);
};

describe('decayGroups', () => {
  it("YOLOv8n: the same 64 decayed weights, 57 norm weights and 63 biases as Ultralytics' build_optimizer, in order", () => {
    const model = createDetector('yolov8n', { numClasses: 10, inChannels: 3, imgSize: 128 });
    try {
      const g = decayGroups(model);
      const want = fixture['yolov8n-nc10']!;
      for (const k of ['decay', 'norm', 'bias'] as const) assert.deepEqual(namesOf(model, g[k]), want[k], k);
    } finally {
      model.dispose();
    }
  });

  it('a small net: conv and linear weights decay; BatchNorm weights and every bias do not', () => {
    const net = new Sequential(new Conv2d(3, 4, 3, { bias: false }), new BatchNorm2d(4), new Conv2d(4, 2, 1), new Linear(2, 5));
    try {
      const g = decayGroups(net);
      const names = (ts: Tensor[]): string[] => namesOf(net, ts);
      assert.deepEqual(names(g.decay), ['0.weight', '2.weight', '3.weight']);
      assert.deepEqual(names(g.norm), ['1.weight']);
      assert.deepEqual(names(g.bias), ['1.bias', '2.bias', '3.bias']);
    } finally {
      net.dispose();
    }
  });
});

describe('makeOptimizer', () => {
  it("the three groups, biases first: the given decay on the middle one only, every group at the run's lr", () => {
    const net = new Sequential(new Conv2d(3, 4, 3, { bias: false }), new BatchNorm2d(4), new Conv2d(4, 2, 1));
    try {
      for (const optimizer of ['sgd', 'adamw'] as const) {
        const opt = makeOptimizer({ optimizer, momentum: 0.9, weightDecay: 5e-4, lr: 0.01 }, decayGroups(net));
        assert.deepEqual(groupsOf(opt), [[2, 0, 0.01], [2, 5e-4, 0.01], [1, 0, 0.01]], optimizer);
        opt.dispose();
      }
    } finally {
      net.dispose();
    }
  });

  it('a plain parameter list (classification) stays one group, all of it decayed', () => {
    const net = new Sequential(new Conv2d(3, 4, 3), new BatchNorm2d(4));
    try {
      const opt = makeOptimizer({ optimizer: 'adamw', momentum: 0.9, weightDecay: undefined, lr: undefined }, net.parameters());
      assert.deepEqual(groupsOf(opt), [[4, 0.05, 1e-3]]);
      opt.dispose();
    } finally {
      net.dispose();
    }
  });
});
