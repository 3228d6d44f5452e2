// Creation functions and the seeded generator against PyTorch (test/fixtures/creation.json).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  arange, empty, eye, full, getRngState, linspace, manualSeed, ones, rand, randint, randn, randperm, setRngState, tensor, tidy, zeros,
  type Tensor,
} from '../../src/tensor/index.js';
import { assertClose, assertCovers, assertOutputs, loadFixture } from '../helpers.js';

const fx = loadFixture('creation');

const made: Record<string, () => Tensor[]> = {
  arange_end: () => [arange(5)],
  arange_start_end: () => [arange(2, 7)],
  arange_float_step: () => [arange(1, 4, 0.5)],
  arange_negative_step: () => [arange(3, -2, -1.5)],
  arange_float32: () => [arange(0, 5, 1, { dtype: 'float32' })],
  linspace: () => [linspace(0, 1, 5)],
  linspace_neg: () => [linspace(-2, 3, 7)],
  eye: () => [eye(3)],
  eye_rect: () => [eye(2, 4)],
  zeros: () => [zeros([2, 3])],
  ones_int32: () => [ones([2, 2], { dtype: 'int32' })],
  full: () => [full([2, 3], 1.25)],
  full_int64: () => [full([3], 7, { dtype: 'int64' })],
  zeros_bool: () => [zeros([4], { dtype: 'bool' })],
  random_seed42: () => {
    manualSeed(42);
    return [rand([3, 4]), randn([2, 5]), randint(0, 10, [6]), randint(-3, 3, [2, 3]), randperm(8), rand([3], { dtype: 'float64' }), randn([100])];
  },
  randperm_seed7: () => {
    manualSeed(7);
    return [randperm(20), randperm(5)];
  },
  inplace_init_seed123: () => {
    manualSeed(123);
    const x = empty([3, 4]);
    return [x.uniform_(-2, 3).clone(), x.normal_(1, 0.5).clone()];
  },
};

describe('creation matches PyTorch (creation.json)', () => {
  it('every fixture case has a test', () => assertCovers(fx, made));
  for (const [name, fn] of Object.entries(made)) {
    // Same operators and the same generator as PyTorch: values are bit-identical.
    it(name, () => tidy(() => assertOutputs(fn(), fx[name]!, 0)));
  }
});

describe('tensor() from JS data', () => {
  it('nested numbers give float32 with the nested shape', () => tidy(() => {
    const t = tensor([[1, 2, 3], [4, 5, 6]]);
    assert.deepEqual(t.shape, [2, 3]);
    assert.equal(t.dtype, 'float32');
    assert.deepEqual(t.toArray(), [1, 2, 3, 4, 5, 6]);
  }));
  it('booleans give bool, a number gives a 0-d tensor', () => tidy(() => {
    assert.equal(tensor([true, false]).dtype, 'bool');
    const s = tensor(2.5);
    assert.deepEqual(s.shape, []);
    assert.equal(s.item(), 2.5);
  }));
  it('typed arrays keep their type and take a shape', () => tidy(() => {
    const t = tensor(new Int32Array([1, 2, 3, 4, 5, 6]), { shape: [3, 2] });
    assert.equal(t.dtype, 'int32');
    assert.deepEqual(t.shape, [3, 2]);
    assert.equal(tensor(new Float64Array([0.1])).dtype, 'float64');
    assert.equal(tensor(new BigInt64Array([1n, 2n])).dtype, 'int64');
  }));
  it('dtype option converts, and int64 reads back as numbers', () => tidy(() => {
    const t = tensor([1.7, -2.2, 3], { dtype: 'int64' });
    assert.equal(t.dtype, 'int64');
    assert.deepEqual(t.toArray(), [1, -2, 3]);
    assert.ok(t.dataSync() instanceof BigInt64Array);
    const h = tensor([0.5, 1.5], { dtype: 'float16' });
    assert.equal(h.dtype, 'float16');
    assert.deepEqual(Array.from(h.dataSync() as Float32Array), [0.5, 1.5]);
  }));
  it('requiresGrad makes a leaf that requires grad', () => tidy(() => {
    const t = tensor([1, 2], { requiresGrad: true });
    assert.equal(t.requiresGrad, true);
    assert.equal(t.isLeaf, true);
  }));
  it('ragged arrays are rejected with the depth', () => {
    assert.throws(() => tensor([[1, 2], [3]]), /ragged nested array at depth 1/);
  });
  it('typed data whose size does not fit the shape is rejected', () => {
    assert.throws(() => tensor(new Float32Array(5), { shape: [2, 3] }), /data has 20 bytes but shape \[2, 3\]/);
  });
});

describe('generator state', () => {
  it('getRngState/setRngState replays the same draws', () => tidy(() => {
    manualSeed(3);
    const state = getRngState();
    const a = randn([5]);
    setRngState(state);
    assertClose(randn([5]), a, 0, 'replayed draw');
  }));
  it('the same seed gives the same values, another seed different ones', () => tidy(() => {
    manualSeed(11);
    const a = rand([4]).toArray();
    manualSeed(11);
    assert.deepEqual(rand([4]).toArray(), a);
    manualSeed(12);
    assert.notDeepEqual(rand([4]).toArray(), a);
  }));
});
