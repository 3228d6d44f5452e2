// Adam's fused kernel (native/src/optim.cc) beyond the small fixture cases of optimizers.test.ts:
// tensors large enough to be split across threads, channels-last parameters, gradients in another
// layout, state loaded from a contiguous save, and what the kernel refuses. The single-tensor path
// it is compared with matches PyTorch there.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Adam, AdamW } from '../../src/optim/index.js';
import { adamStep, keep, manualSeed, randn, tidy, zeros, type Tensor } from '../../src/tensor/index.js';

type Make = (params: Tensor[], fused: boolean) => Adam;

/** Runs `steps` updates with seeded gradients; returns the final parameters (caller disposes). */
function train(shapes: number[][], make: Make, fused: boolean, steps: number, channelsLast = false): Float32Array[] {
  manualSeed(7);
  const params = shapes.map((s) => keep(tidy(() => (channelsLast ? randn(s).contiguous(true) : randn(s)).requiresGrad_(true))));
  const opt = make(params, fused);
  for (let k = 0; k < steps; k++) {
    tidy(() => {
      // Shrinking gradients make amsgrad's running maximum matter; the gradient stays contiguous
      // even for a channels-last parameter, as one set by hand would.
      params.forEach((p) => (p.grad = randn(p.shape).mul(1 / (k + 1))));
      opt.step();
    });
  }
  const out = params.map((p) => p.contiguous().dataSync() as Float32Array);
  opt.dispose();
  params.forEach((p) => p.dispose());
  return out;
}

function assertClose(a: Float32Array[], b: Float32Array[], atol: number, what: string): void {
  let worst = 0;
  a.forEach((x, i) => x.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - b[i]![j]!)))));
  assert.ok(worst <= atol, `${what}: max |fused − unfused| ${worst} > ${atol}`);
}

describe('fused Adam', () => {
  // 3 × 257 × 129 = 99,459 elements: several chunks of the kernel's 32,768-element grain.
  const shapes = [[3, 257, 129], [7], [64, 33]];
  const cases: [string, Make][] = [
    ['AdamW weight decay 0.05', (p, fused) => new AdamW(p, { lr: 1e-2, weightDecay: 0.05, fused })],
    ['Adam amsgrad + L2 0.1 + maximize', (p, fused) => new Adam(p, { lr: 1e-2, amsgrad: true, weightDecay: 0.1, maximize: true, fused, foreach: false })],
    ['AdamW groups, decay off in one', (p, fused) => new AdamW([{ params: p.slice(0, 2) }, { params: p.slice(2), lr: 3e-2, weightDecay: 0 }], { lr: 1e-2, fused })],
  ];
  for (const [name, make] of cases) {
    test(`${name}: equals the unfused path over 6 steps`, () => {
      assertClose(train(shapes, make, true, 6), train(shapes, make, false, 6), 2e-6, name);
    });
  }

  test('a channels-last parameter with a contiguous gradient', () => {
    const make: Make = (p, fused) => new AdamW(p, { lr: 1e-2, amsgrad: true, fused, foreach: false });
    const single = train([[4, 6, 5, 3]], make, false, 4, true);
    assertClose(train([[4, 6, 5, 3]], make, true, 4, true), single, 2e-6, 'channels-last');
  });

  test('state loaded from a contiguous save into a channels-last parameter', () => {
    manualSeed(3);
    const p = keep(tidy(() => randn([2, 4, 3, 3]).contiguous(true).requiresGrad_(true)));
    const q = keep(tidy(() => p.detach().contiguous().requiresGrad_(true)));
    const [a, b] = [new AdamW([p], { lr: 1e-2 }), new AdamW([q], { lr: 1e-2 })];
    const g = keep(randn([2, 4, 3, 3]));
    for (const [opt, t] of [[a, p], [b, q]] as const) {
      tidy(() => {
        t.grad = g.clone();
        opt.step();
      });
    }
    // b's state is contiguous; loaded into a, it must take p's layout for the next fused step.
    const saved = b.stateDict();
    a.loadStateDict({ state: new Map([...saved.state].map(([k, t]) => [k, t.contiguous()])), meta: saved.meta });
    assert.deepEqual(a.stateDict().state.get('state.0.exp_avg')!.strides, p.strides);
    for (const [opt, t] of [[a, p], [b, q]] as const) {
      tidy(() => {
        t.grad = g.mul(-0.5);
        opt.step();
      });
    }
    assertClose([p.contiguous().dataSync() as Float32Array], [q.dataSync() as Float32Array], 0, 'after loading');
    [a, b].forEach((o) => o.dispose());
    [p, q, g].forEach((t) => t.dispose());
  });

  test('a graph that saved a parameter cannot run backward after the fused step changed it', () => {
    const p = keep(randn([5]).requiresGrad_(true));
    const opt = new AdamW([p], { lr: 1e-2 });
    tidy(() => {
      const loss = p.mul(p).sum();
      loss.backward(undefined, { retainGraph: true });
      opt.step();
      assert.throws(() => loss.backward(), /modified by an inplace operation/);
    });
    opt.dispose();
    p.dispose();
  });

  test('the kernel refuses tensors it cannot walk as float32 buffers', () => {
    tidy(() => {
      const p = zeros([3]);
      const scalars = { beta1: 0.9, beta2: 0.999, eps: 1e-8, l2: 0, decay: 1, maximize: false, stepSizes: [1e-3], bc2Sqrts: [0.03] };
      assert.throws(() => adamStep([p], [zeros([3])], [zeros([3], { dtype: 'float64' })], [zeros([3])], null, scalars), /exp_avg must be a dense float32 CPU tensor/);
      assert.throws(() => adamStep([p], [zeros([4])], [zeros([3])], [zeros([3])], null, scalars), /gradient's shape differs/);
      assert.throws(() => adamStep([p], [zeros([3])], [zeros([3])], [zeros([3])], null, { ...scalars, stepSizes: [] }), /one number per parameter/);
    });
  });
});
