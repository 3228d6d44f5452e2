// Layers against PyTorch (test/fixtures/nn_layers.json, written by test/fixtures/gen_nn.py). For
// each layer: seeded default initialisation identical to torch.nn's (tolerance 0), state-dict keys
// in PyTorch's order, forward values and gradients of inputs and parameters, buffers after the
// step, and loadStateDict of PyTorch's values reproducing its eval outputs.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AdaptiveAvgPool2d, AvgPool2d, BatchNorm2d, Conv2d, ConvTranspose2d, Dropout, Embedding, Flatten, GELU, GroupNorm, Hardsigmoid, Hardswish,
  Identity, LayerNorm, LeakyReLU, Linear, MaxPool2d, Mish, MultiheadAttention, ReLU, ReLU6, Sequential, Sigmoid, SiLU, Softmax, Tanh,
  type AttentionResult, type Module,
} from '../../src/nn/index.js';
import { manualSeed, noGrad, tensor, tidy, type Tensor } from '../../src/tensor/index.js';
import { assertClose, assertCovers, assertOutputs, backwardUpstream, buildInputs, fromEnc, loadFixture, type Case, type Enc, type Outputs } from '../helpers.js';

type T = Record<string, Tensor>;
type AnyModule = Module<never, unknown>;
interface Entry { make: () => AnyModule; run: (m: AnyModule, t: T) => Outputs }
interface LayerCase extends Case {
  seed: number;
  train: boolean;
  keys: string[];
  params: Record<string, Enc>;
  numParameters: number;
  after: Record<string, Enc>;
  loaded: { state: Record<string, Enc>; outputs: Enc[] };
}

const fx = loadFixture('nn_layers');
const entry = <M extends AnyModule>(make: () => M, run: (m: M, t: T) => Outputs): Entry => ({ make, run: run as Entry['run'] });
const one = <M extends Module>(make: () => M): Entry => entry(make, (m, { x }) => m.forward(x!));
const attention = (r: AttentionResult): Tensor[] => (r.weights ? [r.output, r.weights] : [r.output]);

const layers: Record<string, Entry> = {
  linear: one(() => new Linear(4, 3)),
  linear_nobias: one(() => new Linear(5, 2, { bias: false })),
  conv2d: one(() => new Conv2d(3, 4, 3, { stride: 2, padding: 1 })),
  conv2d_groups_nobias: one(() => new Conv2d(4, 6, [3, 2], { groups: 2, bias: false, dilation: [1, 2] })),
  conv2d_same: one(() => new Conv2d(2, 3, 3, { padding: 'same', dilation: 2 })),
  conv_transpose2d: one(() => new ConvTranspose2d(4, 2, 3, { stride: 2, padding: 1, outputPadding: 1 })),
  batch_norm2d: one(() => new BatchNorm2d(3)),
  batch_norm2d_eval: one(() => new BatchNorm2d(3, { momentum: 0.2, eps: 1e-3 })),
  batch_norm2d_no_stats: one(() => new BatchNorm2d(3, { affine: false, trackRunningStats: false })),
  layer_norm: one(() => new LayerNorm(5)),
  layer_norm_2d: one(() => new LayerNorm([3, 5], { eps: 1e-3 })),
  layer_norm_no_affine: one(() => new LayerNorm(4, { elementwiseAffine: false })),
  group_norm: one(() => new GroupNorm(2, 4)),
  embedding: one(() => new Embedding(10, 4)),
  embedding_padding_idx: one(() => new Embedding(10, 4, { paddingIdx: 1 })),
  mha: entry(() => new MultiheadAttention(8, 2), (m, { query, key, value, kpm, am }) =>
    attention(m.forward(query!, key!, value!, { keyPaddingMask: kpm!, attnMask: am! }))),
  mha_batch_first: entry(() => new MultiheadAttention(8, 4, { batchFirst: true }), (m, { x, am }) =>
    attention(m.forward(x!, x!, x!, { attnMask: am!, averageAttnWeights: false }))),
  mha_nobias: entry(() => new MultiheadAttention(6, 3, { bias: false }), (m, { x }) => attention(m.forward(x!, x!, x!, { needWeights: false }))),
  // Dropout in training: same generator, same draws as PyTorch after the seeded init.
  mha_dropout: entry(() => new MultiheadAttention(4, 2, { dropout: 0.5 }), (m, { x }) => attention(m.forward(x!, x!, x!))),
  sequential_cnn: one(() => new Sequential(
    new Conv2d(3, 4, 3, { padding: 1 }), new BatchNorm2d(4), new ReLU(), new MaxPool2d(2), new Conv2d(4, 4, 3, { padding: 1 }), new GELU(),
    new AvgPool2d(2), new AdaptiveAvgPool2d(1), new Flatten(), new Dropout(0.5), new Identity(), new Linear(4, 3))),
  dropout_train: one(() => new Sequential(new Linear(4, 6), new Dropout(0.3))),
  sequential_mlp: one(() => new Sequential(
    new Linear(6, 8), new ReLU6(), new Linear(8, 8), new LeakyReLU(0.2), new Linear(8, 8), new SiLU(), new Hardswish(),
    new Linear(8, 8), new GELU('tanh'), new Mish(), new Linear(8, 8), new Hardsigmoid(), new Tanh(), new Linear(8, 4), new Sigmoid(),
    new Linear(4, 4), new Softmax(1))),
};

/** Builds the layer as the fixture script did: seeded, then in the case's mode. */
function build(c: LayerCase, e: Entry): AnyModule {
  manualSeed(c.seed);
  return e.make().train(c.train);
}

function withModule<M extends AnyModule>(m: M, fn: (m: M) => void): void {
  try {
    tidy(() => fn(m));
  } finally {
    m.dispose();
  }
}

describe('layers match PyTorch (nn_layers.json)', () => {
  it('every fixture case has a test and every test a case', () => assertCovers(fx, layers));

  for (const [name, e] of Object.entries(layers)) {
    const c = fx[name] as LayerCase;
    describe(name, () => {
      it(`seeded default init equals torch.nn's exactly, with PyTorch's state-dict keys (seed ${c.seed})`, () => withModule(build(c, e), (m) => {
        const sd = m.stateDict();
        assert.deepEqual([...sd.keys()], c.keys);
        for (const [k, v] of sd) assertClose(v, c.params[k]!, 0, k);
        assert.equal(m.numParameters(), c.numParameters);
      }));

      it(`forward and gradients (${c.train ? 'train' : 'eval'} mode)`, () => withModule(build(c, e), (m) => {
        const t = buildInputs(c);
        const outs = e.run(m, t);
        const list = outs instanceof Array ? outs : [outs as Tensor];
        assertOutputs(list, c);
        backwardUpstream(list, c.upstream!);
        const sd = m.stateDict();
        for (const [k, g] of Object.entries(c.grads!)) {
          const grad = (t[k] ?? sd.get(k))!.grad;
          assert.ok(grad !== null, `${k} got no gradient`);
          assertClose(grad, g, 1e-5, `grad of ${k}`);
        }
        // Buffers after the step: batch-norm running statistics and its counter.
        for (const [k, v] of Object.entries(c.after)) assertClose(sd.get(k)!, v, 1e-6, `${k} after the step`);
      }));

      it('loadStateDict of PyTorch\'s values reproduces its eval outputs', () => withModule(e.make(), (m) => {
        const state = new Map(Object.entries(c.loaded.state).map(([k, v]) => [k, fromEnc(v, false)]));
        const r = m.loadStateDict(state);
        assert.deepEqual(r, { missingKeys: [], unexpectedKeys: [] });
        m.eval();
        const outs = noGrad(() => e.run(m, buildInputs(c)));
        assertOutputs(outs instanceof Array ? outs : [outs as Tensor], { outputs: c.loaded.outputs });
        for (const [k, v] of m.stateDict()) assertClose(v, c.loaded.state[k]!, 0, `${k} after loading`);
      }));
    });
  }
});

describe('layer behaviour beyond the fixtures', () => {
  it('Embedding with paddingIdx starts that row at zero and never gives it a gradient', () => {
    manualSeed(0);
    withModule(new Embedding(6, 3, { paddingIdx: -1 }), (m) => {
      const w = m.stateDict().get('weight')!;
      assertClose(w.select(0, 5), [0, 0, 0], 0, 'padding row');
      m.forward(tensor([5, 1, 5, 0], { dtype: 'int64' })).sum().backward();
      assertClose(w.grad!.select(0, 5), [0, 0, 0], 0, 'padding row grad');
      assertClose(w.grad!.select(0, 1), [1, 1, 1], 0, 'used row grad');
    });
  });
  it('BatchNorm2d in eval uses and keeps the running statistics', () => withModule(new BatchNorm2d(2), (m) => {
    m.eval();
    const x = tensor([[[[1, 3]], [[-2, 4]]]]);
    assertClose(m.forward(x), [1, 3, -2, 4].map((v) => v / Math.sqrt(1 + 1e-5)), 1e-6);
    assertClose(m.stateDict().get('num_batches_tracked')!, 0, 0);
    assertClose(m.stateDict().get('running_mean')!, [0, 0], 0);
  }));
  it('constructor argument checks name the problem', () => {
    assert.throws(() => new Conv2d(3, 4, 3, { groups: 2 }), /channels \(3 in, 4 out\) must be divisible by groups \(2\)/);
    assert.throws(() => new GroupNorm(3, 4), /4 channels are not divisible into 3 groups/);
    assert.throws(() => new MultiheadAttention(10, 3), /embedDim 10 must be divisible by numHeads 3/);
    assert.throws(() => new Embedding(4, 2, { paddingIdx: 4 }), /paddingIdx 4 is out of range for 4 embeddings/);
    assert.throws(() => new Dropout(-0.1), /dropout probability must be in \[0, 1\]/);
  });
});
