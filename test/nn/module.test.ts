// Module behaviour: modes, freezing, gradients, parameter counts, state dicts and their errors.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BatchNorm2d, Conv2d, Dropout, Linear, Module, ModuleList, ReLU, Sequential } from '../../src/nn/index.js';
import { manualSeed, memory, ones, randn, tensor, tidy, zeros, type Tensor } from '../../src/tensor/index.js';
import { assertClose } from '../helpers.js';

/** A small model with PyTorch-style nesting: stem (conv, bn), a head, a non-persistent buffer. */
class Net extends Module {
  readonly stem: Sequential;
  readonly head: Linear;
  readonly scale: Tensor;
  constructor() {
    super();
    this.stem = this.registerModule('stem', new Sequential(new Conv2d(1, 2, 3, { padding: 1 }), new BatchNorm2d(2), new ReLU()));
    this.head = this.registerModule('head', new Linear(2, 3));
    this.scale = this.registerBuffer('scale', ones([1]), false);
  }
  forward(x: Tensor): Tensor {
    return this.head.forward(this.stem.forward(x).mean([2, 3])).mul(this.scale);
  }
}

function withNet(fn: (net: Net) => void): void {
  manualSeed(0);
  const net = new Net();
  try {
    tidy(() => fn(net));
  } finally {
    net.dispose();
  }
}

const step = (net: Module): void => tidy(() => { net.forward(randn([2, 1, 4, 4])).sum().backward(); });

describe('Module', () => {
  it('stateDict names follow PyTorch, persistent buffers only, in PyTorch order', () => withNet((net) => {
    assert.deepEqual([...net.stateDict().keys()], [
      'stem.0.weight', 'stem.0.bias', 'stem.1.weight', 'stem.1.bias', 'stem.1.running_mean', 'stem.1.running_var',
      'stem.1.num_batches_tracked', 'head.weight', 'head.bias',
    ]);
    assert.deepEqual([...net.namedBuffers()].map(([k]) => k), ['scale', 'stem.1.running_mean', 'stem.1.running_var', 'stem.1.num_batches_tracked']);
    assert.deepEqual([...net.namedModules()].map(([k]) => k), ['', 'stem', 'stem.0', 'stem.1', 'stem.2', 'head']);
  }));

  it('train() and eval() propagate to every descendant', () => withNet((net) => {
    assert.ok([...net.namedModules()].every(([, m]) => m.training));
    net.eval();
    assert.ok([...net.namedModules()].every(([, m]) => !m.training));
    net.stem.train();
    assert.equal(net.training, false);
    assert.ok([...net.stem.namedModules()].every(([, m]) => m.training));
  }));

  it('the mode changes behaviour: dropout and batch-norm statistics', () => withNet((net) => {
    const drop = new Dropout(0.5);
    const x = ones([1000]);
    assert.ok(drop.forward(x).toArray().some((v) => v === 0), 'train: some elements dropped');
    drop.eval();
    assert.equal(drop.forward(x), x, 'eval: the input itself');
    const bn = net.stateDict();
    step(net);
    assert.equal(bn.get('stem.1.num_batches_tracked')!.item(), 1);
    const mean = bn.get('stem.1.running_mean')!.toArray();
    net.eval();
    step(net);
    assert.equal(bn.get('stem.1.num_batches_tracked')!.item(), 1);
    assert.deepEqual(bn.get('stem.1.running_mean')!.toArray(), mean);
  }));

  it('requiresGrad_(false) freezes a sub-tree: its parameters get no gradient', () => withNet((net) => {
    net.stem.requiresGrad_(false);
    step(net);
    for (const [k, p] of net.namedParameters()) {
      if (k.startsWith('stem.')) assert.equal(p.grad, null, `${k} is frozen`);
      else assert.notEqual(p.grad, null, `${k} is trained`);
    }
    assert.equal(net.numParameters(true), 2 * 3 + 3);
    net.stem.requiresGrad_(true);
    step(net);
    assert.ok(net.parameters().every((p) => p.grad !== null));
  }));

  it('zeroGrad drops every gradient', () => withNet((net) => {
    step(net);
    assert.ok(net.parameters().every((p) => p.grad !== null));
    net.zeroGrad();
    assert.ok(net.parameters().every((p) => p.grad === null));
  }));

  it('numParameters counts elements (all, or trainable only)', () => withNet((net) => {
    // conv 2·1·3·3 + 2, bn 2 + 2, linear 3·2 + 3: 20 + 4 + 9
    assert.equal(net.numParameters(), 33);
    assert.equal(net.numParameters(true), 33);
    assert.equal(new Linear(4, 3, { bias: false }).numParameters(), 12);
  }));

  it('loadStateDict round-trips another model\'s state and copies values', () => withNet((net) => {
    manualSeed(1);
    const other = new Net();
    try {
      step(other);
      net.loadStateDict(other.stateDict());
      for (const [k, v] of net.stateDict()) assertClose(v, other.stateDict().get(k)!, 0, k);
      net.eval();
      other.eval();
      const x = randn([1, 1, 4, 4]);
      assertClose(net.forward(x), other.forward(x), 0);
      // Copies, not shared storage.
      tidy(() => { other.head.weight.detach().fill_(9); });
      assert.ok(net.head.weight.toArray().every((v) => v !== 9));
    } finally {
      other.dispose();
    }
  }));

  it('loadStateDict accepts a plain object', () => {
    const lin = new Linear(2, 1);
    tidy(() => {
      lin.loadStateDict({ weight: tensor([[1, 2]]), bias: tensor([3]) });
      assertClose(lin.forward(tensor([[1, 1]])), [6], 0);
    });
    lin.dispose();
  });

  it('loadStateDict errors name the missing and unexpected keys', () => withNet((net) => {
    const state = new Map(net.stateDict());
    state.delete('head.bias');
    assert.throws(() => net.loadStateDict(state), /loadStateDict\(\): missing keys: head\.bias/);
    state.set('head.bias', zeros([3]));
    state.set('head.extra', zeros([1]));
    assert.throws(() => net.loadStateDict(state), /unexpected keys: head\.extra/);
    state.delete('head.extra');
    state.set('head.bias', zeros([4]));
    assert.throws(() => net.loadStateDict(state), /'head\.bias' has shape \[4\] but the model expects \[3\]/);
  }));

  it('non-strict loading reports the key differences and loads the rest', () => withNet((net) => {
    const r = net.loadStateDict({ 'head.bias': tensor([7, 8, 9]), 'head.extra': zeros([1]) }, { strict: false });
    assert.deepEqual(r.unexpectedKeys, ['head.extra']);
    assert.equal(r.missingKeys.length, 8);
    assertClose(net.head.bias!, [7, 8, 9], 0);
  }));

  it('a shape mismatch leaves the model untouched', () => withNet((net) => {
    const before = net.head.weight.toArray();
    const state = new Map(net.stateDict());
    state.set('head.weight', zeros([3, 2]).add(5));
    state.set('stem.0.bias', zeros([3]));
    assert.throws(() => net.loadStateDict(state), /'stem\.0\.bias' has shape \[3\]/);
    assert.deepEqual(net.head.weight.toArray(), before);
  }));

  it('member names are checked', () => {
    class Bad extends Module {
      forward(x: Tensor): Tensor { return x; }
      add(name: string): void { this.registerModule(name, new ReLU()); }
    }
    const m = new Bad();
    m.add('a');
    assert.throws(() => m.add('a'), /'a' is already registered on Bad/);
    assert.throws(() => m.add('a.b'), /invalid module member name 'a\.b'/);
  });

  it('to(dtype) casts floating parameters and buffers in place, not integer ones', () => withNet((net) => {
    const w = net.head.weight;
    net.to('float64');
    assert.equal(w.dtype, 'float64', 'same handle, new dtype');
    assert.equal(net.stateDict().get('stem.1.running_var')!.dtype, 'float64');
    assert.equal(net.stateDict().get('stem.1.num_batches_tracked')!.dtype, 'int64');
    assert.equal(net.forward(randn([1, 1, 3, 3], { dtype: 'float64' })).dtype, 'float64');
  }));

  it('memoryFormat(channelsLast) restrides 4-d weights in place; outputs, gradients and saved state are unchanged', () => {
    manualSeed(1);
    const net = new Sequential(new Conv2d(3, 4, 3, { padding: 1 }), new BatchNorm2d(4), new ReLU({ inplace: true }), new Conv2d(4, 2, 1));
    try {
      tidy(() => {
        const x = randn([2, 3, 5, 5]);
        const run = (input: Tensor): { y: number[]; g: number[] } => tidy(() => {
          const y = net.forward(input);
          y.mul(y).sum().backward();
          const g = [...net.at(0).parameters()[0]!.grad!.toArray()];
          net.zeroGrad();
          return { y: [...y.toArray()], g };
        });
        const before = run(x);
        const w = net.at(0).parameters()[0]!;
        const saved = [...w.toArray()];
        net.memoryFormat('channelsLast');
        assert.deepEqual(w.shape, [4, 3, 3, 3], 'shape kept');
        assert.deepEqual(w.strides, [27, 1, 9, 3], 'NHWC strides: channel stride 1');
        assert.deepEqual([...w.toArray()], saved, 'toArray (and so checkpoints) still read row-major NCHW');
        const after = run(x.contiguous(true));
        assertClose(after.y, before.y, 1e-5);
        assertClose(after.g, before.g, 1e-4);
        net.memoryFormat('contiguous');
        assert.deepEqual(w.strides, [27, 9, 3, 1]);
      });
    } finally {
      net.dispose();
    }
  });

  it('in-place activations overwrite their input and give the same values and gradients', () => {
    manualSeed(2);
    tidy(() => {
      const x = randn([3, 4], { requiresGrad: true });
      const gradOf = (relu: ReLU): { y: number[]; g: number[] } => tidy(() => {
        const pre = x.mul(2);
        const y = relu.forward(pre);
        if (relu.inplace) assert.equal(y, pre, 'in place: the input tensor is returned');
        else assert.notEqual(y, pre);
        y.mul(y).sum().backward();
        const g = [...x.grad!.toArray()];
        x.grad!.zero_();
        return { y: [...y.toArray()], g };
      });
      const plain = gradOf(new ReLU());
      const inplace = gradOf(new ReLU({ inplace: true }));
      assert.deepEqual(inplace.y, plain.y);
      assert.deepEqual(inplace.g, plain.g);
      assert.ok(plain.y.some((v) => v === 0) && plain.y.some((v) => v > 0), 'both signs present');
    });
  });

  it('dispose frees every parameter and buffer', () => {
    const before = memory().tensors;
    const net = new Net();
    assert.equal(memory().tensors, before + 10);
    net.dispose();
    assert.equal(memory().tensors, before);
  });

  it('parameters survive the tidy scope they were created in', () => {
    const lin = tidy(() => new Linear(3, 3));
    assert.ok(lin.parameters().every((p) => !p.isDisposed));
    lin.dispose();
  });

  it('Sequential and ModuleList index their children as PyTorch does', () => {
    const seq = new Sequential(new Linear(2, 2), new ReLU());
    assert.ok(seq.at(-1) instanceof ReLU);
    assert.throws(() => seq.at(2), /Sequential has 2 layers, no index 2/);
    const list = new ModuleList([new Linear(1, 1), new Linear(1, 1)]);
    assert.deepEqual([...list.stateDict().keys()], ['0.weight', '0.bias', '1.weight', '1.bias']);
    assert.equal(list.length, 2);
    assert.throws(() => list.forward(), /ModuleList has no forward/);
    seq.dispose();
    list.dispose();
  });
});
