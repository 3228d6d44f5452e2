// Autograd behaviour around the fixtures: accumulation, grad mode, detach, zeroing, retained graphs.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { enableGrad, isGradEnabled, noGrad, ones, tensor, tidy, zeros } from '../../src/tensor/index.js';
import { assertClose } from '../helpers.js';

describe('autograd', () => {
  it('gradients accumulate over two backward calls', () => tidy(() => {
    const x = tensor([1, -2, 3], { requiresGrad: true });
    x.mul(x).sum().backward();
    assertClose(x.grad!, [2, -4, 6], 0);
    x.mul(x).sum().backward();
    assertClose(x.grad!, [4, -8, 12], 0);
  }));

  it('backward(grad) weights a non-scalar output', () => tidy(() => {
    const x = tensor([1, 2], { requiresGrad: true });
    x.mul(3).backward(tensor([0.5, -1]));
    assertClose(x.grad!, [1.5, -3], 0);
  }));

  it('setting grad to null zeroes it; the next backward starts fresh', () => tidy(() => {
    const x = tensor([1, 2], { requiresGrad: true });
    x.sum().backward();
    x.grad = null;
    assert.equal(x.grad, null);
    x.mul(5).sum().backward();
    assertClose(x.grad!, [5, 5], 0);
    x.grad = zeros([2]);
    x.sum().backward();
    assertClose(x.grad!, [1, 1], 0);
  }));

  it('noGrad: results have no grad_fn and do not require grad; the mode is restored', () => tidy(() => {
    const x = tensor([1, 2], { requiresGrad: true });
    const y = noGrad(() => {
      assert.equal(isGradEnabled(), false);
      return x.mul(2).add(1);
    });
    assert.equal(isGradEnabled(), true);
    assert.equal(y.requiresGrad, false);
    assert.equal(y.gradFn, null);
    assert.match(x.mul(2).gradFn ?? '', /^MulBackward/);
  }));

  it('noGrad restores grad mode after a throw; enableGrad records inside noGrad', () => tidy(() => {
    assert.throws(() => noGrad(() => { throw new Error('inside'); }), /inside/);
    assert.equal(isGradEnabled(), true);
    const x = tensor([3], { requiresGrad: true });
    const y = noGrad(() => enableGrad(() => x.mul(x)));
    assert.equal(y.requiresGrad, true);
    y.sum().backward();
    assertClose(x.grad!, [6], 0);
  }));

  it('detach cuts the graph but shares the values', () => tidy(() => {
    const x = tensor([1, 2], { requiresGrad: true });
    const y = x.mul(3);
    const d = y.detach();
    assert.equal(d.requiresGrad, false);
    assert.equal(d.gradFn, null);
    assert.equal(d.isLeaf, true);
    assertClose(d, [3, 6], 0);
    // d * x: the gradient flows through x only, with d a constant.
    d.mul(x).sum().backward();
    assertClose(x.grad!, [3, 6], 0);
  }));

  it('retainGraph allows a second backward; without it the second one throws', () => tidy(() => {
    const x = tensor([1, 2], { requiresGrad: true });
    const y = x.mul(x).sum();
    y.backward(undefined, { retainGraph: true });
    y.backward();
    assertClose(x.grad!, [4, 8], 0);
    assert.throws(() => y.backward(), /backward through the graph a second time/);
  }));

  it('createGraph gives a gradient that is itself differentiable', () => tidy(() => {
    const x = tensor([2], { requiresGrad: true });
    x.pow(3).sum().backward(undefined, { createGraph: true });
    const g = x.grad!;
    assert.notEqual(g.gradFn, null);
    assertClose(g, [12], 0);
  }));

  it('leaves and non-leaves', () => tidy(() => {
    const x = ones([2], { requiresGrad: true });
    assert.equal(x.isLeaf, true);
    assert.equal(x.gradFn, null);
    const y = x.exp();
    assert.equal(y.isLeaf, false);
    assert.equal(y.requiresGrad, true);
    assert.equal(ones([2]).requiresGrad, false);
  }));

  it('backward of a non-scalar without a gradient is refused with PyTorch\'s reason', () => tidy(() => {
    const x = ones([2], { requiresGrad: true });
    assert.throws(() => x.mul(2).backward(), /grad can be implicitly created only for scalar outputs/);
    assert.throws(() => ones([1]).sum().backward(), /does not require grad/);
  }));
});
