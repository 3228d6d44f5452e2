// F.* against PyTorch: forward values and gradients from test/fixtures/nn_functional.json
// (written by test/fixtures/gen_nn.py). Every fixture case has exactly one entry below.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { F } from '../../src/nn/index.js';
import { manualSeed, ones, randn, tensor, tidy, type Tensor } from '../../src/tensor/index.js';
import { assertClose, assertCovers, assertNoLeak, checkCase, loadFixture, type Outputs } from '../helpers.js';

type T = Record<string, Tensor>;
// Options as the fixture stores them (Kestrel's names), cast where used.
type Opts = Record<string, unknown>;
type Pair = number | [number, number];
type PadMode = 'constant' | 'reflect' | 'replicate';
type Fn = (t: T, a: Opts) => Outputs;
const fx = loadFixture('nn_functional');

const conv: Record<string, Fn> = {};
for (const name of Object.keys(fx).filter((k) => k.startsWith('conv2d'))) conv[name] = ({ x, w, b }, a) => F.conv2d(x!, w!, b, a as F.Conv2dOptions);
for (const name of Object.keys(fx).filter((k) => k.startsWith('conv_transpose2d'))) conv[name] = ({ x, w, b }, a) => F.convTranspose2d(x!, w!, b, a as F.ConvTranspose2dOptions);

const pool: Record<string, Fn> = {
  adaptive_avg_pool2d: ({ x }) => F.adaptiveAvgPool2d(x!, [3, 2]),
  adaptive_avg_pool2d_global: ({ x }) => F.adaptiveAvgPool2d(x!, 1),
  adaptive_max_pool2d: ({ x }) => F.adaptiveMaxPool2d(x!, [2, 3]),
};
for (const name of Object.keys(fx).filter((k) => k.startsWith('max_pool2d'))) pool[name] = ({ x }, a) => F.maxPool2d(x!, a.kernel as Pair, a);
for (const name of Object.keys(fx).filter((k) => k.startsWith('avg_pool2d'))) pool[name] = ({ x }, a) => F.avgPool2d(x!, a.kernel as Pair, a);

const norm: Record<string, Fn> = {
  // Training updates the running statistics in place: they are outputs 1 and 2.
  batch_norm_train: ({ x, rm, rv, w, b }) => [F.batchNorm(x!, rm!, rv!, { weight: w!, bias: b!, training: true, momentum: 0.1 }), rm!, rv!],
  batch_norm_train_momentum: ({ x, rm, rv, w, b }) => [F.batchNorm(x!, rm!, rv!, { weight: w!, bias: b!, training: true, momentum: 0.3, eps: 1e-3 }), rm!, rv!],
  batch_norm_eval: ({ x, rm, rv, w, b }) => F.batchNorm(x!, rm!, rv!, { weight: w!, bias: b! }),
  batch_norm_no_stats: ({ x }) => F.batchNorm(x!, null, null, { training: true }),
  layer_norm: ({ x, w, b }) => F.layerNorm(x!, [5], w, b),
  layer_norm_2d_plain: ({ x }) => F.layerNorm(x!, [3, 5], null, null, 1e-3),
  group_norm: ({ x, w, b }) => F.groupNorm(x!, 2, w, b),
  dropout_p0: ({ x }) => F.dropout(x!, 0, true),
  dropout_eval: ({ x }) => F.dropout(x!, 0.5, false),
  // Same generator, same operator: the mask is PyTorch's exactly.
  dropout_seeded: ({ x }) => { manualSeed(5); return F.dropout(x!, 0.5, true); },
  linear: ({ x, w, b }) => F.linear(x!, w!, b),
  linear_nobias_3d: ({ x, w }) => F.linear(x!, w!),
  embedding: ({ i, w }) => F.embedding(i!, w!),
  embedding_padding_idx: ({ i, w }) => F.embedding(i!, w!, 0),
};

const act: Record<string, Fn> = {
  relu: ({ x }) => F.relu(x!),
  relu6: ({ x }) => F.relu6(x!),
  leaky_relu: ({ x }) => F.leakyRelu(x!),
  'leaky_relu_0.2': ({ x }) => F.leakyRelu(x!, 0.2),
  gelu: ({ x }) => F.gelu(x!),
  gelu_tanh: ({ x }) => F.gelu(x!, 'tanh'),
  silu: ({ x }) => F.silu(x!),
  hardswish: ({ x }) => F.hardswish(x!),
  hardsigmoid: ({ x }) => F.hardsigmoid(x!),
  sigmoid: ({ x }) => F.sigmoid(x!),
  tanh: ({ x }) => F.tanh(x!),
  elu: ({ x }) => F.elu(x!),
  mish: ({ x }) => F.mish(x!),
  softmax: ({ x }) => F.softmax(x!, 1),
  log_softmax: ({ x }) => F.logSoftmax(x!, 0),
};

const resample: Record<string, Fn> = {};
for (const name of Object.keys(fx).filter((k) => k.startsWith('interpolate'))) resample[name] = ({ x }, a) => F.interpolate(x!, a as F.InterpolateOptions);
for (const name of Object.keys(fx).filter((k) => k.startsWith('pad_'))) resample[name] = ({ x }, a) => F.pad(x!, a.pad as number[], a.mode as PadMode, a.value as number | undefined);

const attention: Record<string, Fn> = {
  sdpa: ({ q, k, v }) => F.scaledDotProductAttention(q!, k!, v!),
  sdpa_bool_mask: ({ q, k, v, mask }) => F.scaledDotProductAttention(q!, k!, v!, { mask: mask! }),
  sdpa_float_mask: ({ q, k, v, mask }) => F.scaledDotProductAttention(q!, k!, v!, { mask: mask! }),
  sdpa_scale: ({ q, k, v }, a) => F.scaledDotProductAttention(q!, k!, v!, { scale: a.scale as number }),
  sdpa_causal: ({ q, k, v }, a) => F.scaledDotProductAttention(q!, k!, v!, { causal: a.causal as boolean }),
  packed_attention: ({ x }, a) => F.packedSelfAttention(x!, a.heads as number),
  packed_attention_one_head: ({ x }, a) => F.packedSelfAttention(x!, a.heads as number, a.scale as number),
};

const groups = { conv, pool, norm, act, resample, attention };

describe('F.* match PyTorch (nn_functional.json)', () => {
  it('every fixture case has a test and every test a case', () => {
    assertCovers(fx, Object.assign({}, ...Object.values(groups)) as Record<string, unknown>);
  });
  for (const [group, table] of Object.entries(groups)) {
    describe(group, () => {
      for (const [name, fn] of Object.entries(table)) it(name, () => checkCase<Opts>(fx[name]!, fn));
    });
  }
});

describe('F.dropout statistics', () => {
  it('zeroes about p of the elements and scales survivors by exactly 1/(1-p)', () => tidy(() => {
    manualSeed(0);
    for (const p of [0.2, 0.5, 0.8]) {
      const x = randn([20000]);
      const y = F.dropout(x, p, true);
      const [xs, ys] = [x.toArray(), y.toArray()];
      let zeros = 0;
      for (let i = 0; i < xs.length; i++) {
        if (ys[i] === 0) zeros++;
        // fround: the scaled value is a float32 product, as in PyTorch.
        else assert.equal(ys[i], Math.fround(xs[i]! * Math.fround(1 / (1 - p))), `survivor ${i} for p=${p}`);
      }
      const frac = zeros / xs.length;
      assert.ok(Math.abs(frac - p) < 0.02, `zero fraction ${frac} for p=${p}`);
    }
  }));
  it('p=1 zeroes everything; p outside [0, 1] is rejected', () => tidy(() => {
    assertClose(F.dropout(ones([5]), 1, true), [0, 0, 0, 0, 0], 0);
    assert.throws(() => F.dropout(ones([2]), 1.5), /dropout probability must be in \[0, 1\], got 1.5/);
  }));
});

describe('F option checks', () => {
  it('interpolate needs exactly one of size and scaleFactor', () => tidy(() => {
    const x = ones([1, 1, 2, 2]);
    assert.throws(() => F.interpolate(x, {}), /exactly one of size and scaleFactor/);
    assert.throws(() => F.interpolate(x, { size: 4, scaleFactor: 2 }), /exactly one of size and scaleFactor/);
    assert.throws(() => F.interpolate(x, { size: 4, alignCorners: true }), /alignCorners applies to bilinear only/);
  }));
  it('an unknown reduction is rejected by name', () => tidy(() => {
    assert.throws(() => F.mseLoss(ones([2]), ones([2]), 'avg' as F.Reduction), /unknown reduction 'avg'/);
  }));
});

describe('F.embedding paddingIdx', () => {
  it('a negative index counts from the end, as in PyTorch, and that row gets no gradient', () => tidy(() => {
    manualSeed(3);
    const w = randn([5, 3]).requiresGrad_();
    const idx = tensor([0, 4, 4, 2], { dtype: 'int64' });
    F.embedding(idx, w, -1).sum().backward();
    const g = w.grad!.toArray();
    assert.deepEqual(g.slice(12, 15), [0, 0, 0], 'row 4 (= -1) is the padding row');
    assert.deepEqual(g.slice(0, 3), [1, 1, 1]);
    assert.throws(() => F.embedding(idx, w, 5), /paddingIdx 5 is out of range for 5 embeddings/);
  }));
});

describe('F.packedSelfAttention', () => {
  // The composed ATen ops in float64 (the path anything but float32 on the CPU takes) as the
  // reference for the addon's fused float32 kernel, at ViT-Tiny's sizes (65 tokens, 3 heads of 64).
  const run = (x: Tensor, up: Tensor): [Tensor, Tensor] => {
    const leaf = x.detach().requiresGrad_();
    const y = F.packedSelfAttention(leaf, 3);
    y.mul(up).sum().backward();
    return [y, leaf.grad!];
  };

  it('the fused float32 kernel matches the composed float64 ops, forward and backward, and frees what it saved', () => tidy(() => {
    manualSeed(3);
    const x = randn([2, 65, 3 * 192]);
    const up = randn([2, 65, 192]);
    assertNoLeak(() => tidy(() => {
      const [y, grad] = run(x, up);
      assert.match(F.packedSelfAttention(x.detach().requiresGrad_(), 3).gradFn ?? '', /PackedAttention/, 'the fused kernel ran');
      const [y64, grad64] = run(x.to('float64'), up.to('float64'));
      assert.deepEqual(y.shape, [2, 65, 192]);
      assertClose(y, y64.float(), 2e-6, 'output');
      assertClose(grad, grad64.float(), 2e-6, 'gradient');
    }));
  }));

  it('reads a strided qkv as its contiguous copy', () => tidy(() => {
    manualSeed(4);
    const x = randn([3 * 48, 2, 9]).permute(1, 2, 0);
    assert.equal(x.isContiguous(), false);
    assertClose(F.packedSelfAttention(x, 4), F.packedSelfAttention(x.contiguous(), 4), 0, 'output');
  }));

  it('refuses a qkv whose last dimension is not 3 × heads × head size', () => tidy(() => {
    assert.throws(() => F.packedSelfAttention(randn([2, 5, 20]), 3), /qkv must be \[B, N, 3·heads·d\], got \[2, 5, 20\] with 3 heads/);
    assert.throws(() => F.packedSelfAttention(randn([10, 18]), 3), /qkv must be \[B, N, 3·heads·d\]/);
  }));
});
