// Misuse gives a thrown Error with a message that names the problem, never a crash: every test
// here ends by checking that the process still computes.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { cat, cudaAvailable, ones, stack, tensor, tidy, zeros, type Tensor } from '../../src/tensor/index.js';

/** After each error the addon must still work. */
function stillWorks(): void {
  tidy(() => assert.deepEqual(ones([2, 2]).matmul(ones([2, 1])).toArray(), [2, 2]));
}

/** Asserts fn throws an Error (of `type`, if given) whose message matches `re`, inside a scope. */
function throwsError(fn: () => unknown, re: RegExp, type: new (...a: never[]) => Error = Error): void {
  tidy(() => {
    assert.throws(fn, (e: unknown) => {
      assert.ok(e instanceof type, `expected a ${type.name}, got ${String(e)}`);
      assert.match((e as Error).message, re);
      return true;
    });
  });
}

describe('errors', () => {
  afterEach(stillWorks);

  it('matmul with mismatched shapes', () => {
    throwsError(() => ones([2, 3]).matmul(ones([4, 5])), /mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x5\)/);
    throwsError(() => ones([2, 2, 3]).bmm(ones([2, 4, 5])), /batch1|Expected size|size/);
  });

  it('an unknown dtype name', () => {
    throwsError(() => tensor([1, 2], { dtype: 'float99' as never }), /unknown dtype 'float99' \(expected one of .*float32/, TypeError);
    throwsError(() => zeros([2], { dtype: 'float99' as never }), /unknown dtype 'float99'/, TypeError);
    throwsError(() => ones([2]).to('int3' as never), /to\(\): 'int3' is neither a dtype .* nor a device/, TypeError);
  });

  it('out-of-range indices in indexSelect and gather', () => {
    const idx = (v: number[] | number[][]): Tensor => tensor(v, { dtype: 'int64' });
    throwsError(() => ones([2, 3]).indexSelect(0, idx([0, 5])), /index out of range/);
    throwsError(() => ones([2, 3]).gather(1, idx([[0, 7, 1], [0, 0, 0]])), /index 7 is out of bounds for dimension 1 with size 3/);
    throwsError(() => ones([2, 3]).select(0, 4), /out of range/);
  });

  it('using a disposed tensor', () => {
    const t = ones([2]);
    t.dispose();
    assert.equal(t.isDisposed, true);
    throwsError(() => t.add(1), /tensor was disposed/);
    throwsError(() => ones([2]).add(t), /tensor was disposed/);
    throwsError(() => t.shape, /tensor was disposed/);
    throwsError(() => t.toArray(), /tensor was disposed/);
  });

  it('cat and stack of mismatched shapes', () => {
    throwsError(() => cat([ones([2, 3]), ones([4, 5])]), /Sizes of tensors must match except in dimension 0\. Expected size 3 but got size 5/);
    throwsError(() => cat([ones([2, 3]), ones([2, 3, 1])]), /Tensors must have same number of dimensions: got 2 and 3/);
    throwsError(() => stack([ones([2]), ones([3])]), /stack expects each tensor to be equal size/);
  });

  it('device cuda on a CPU-only build names CUDA', { skip: cudaAvailable() ? 'this libtorch has CUDA' : false }, () => {
    throwsError(() => tensor([1], { device: 'cuda' }), /device 'cuda' was requested but the linked libtorch has no usable CUDA/);
    throwsError(() => zeros([1], { device: 'cuda:0' }), /CUDA/);
    throwsError(() => ones([1]).to('cuda'), /CUDA/);
  });

  it('an unknown device string', () => {
    throwsError(() => zeros([1], { device: 'tpu' as never }), /unknown device 'tpu' \(expected cpu, cuda or cuda:N\)/, TypeError);
  });

  it('wrong argument types name the operator and the argument', () => {
    throwsError(() => ones([2]).add('x' as never), /aten::add\(\): argument 'other' must be a number/);
    throwsError(() => ones([4]).reshape('x' as never), /aten::reshape\(\): argument 'shape'/);
    throwsError(() => ones([4]).reshape(2.5, 2), /aten::reshape\(\): argument 'shape' must be an integer, got 2\.5/);
    throwsError(() => ones([4]).clamp('0' as never), /aten::clamp\(\): argument 'min' must be a number/);
    throwsError(() => ones([2]).matmul(3 as never), /aten::matmul\(\): argument 'other' must be a tensor/, TypeError);
  });

  it('an ATen error with a bad dimension', () => {
    throwsError(() => ones([2, 3]).sum(5), /Dimension out of range \(expected to be in range of \[-2, 1\], but got 5\)/);
    throwsError(() => ones([2, 3]).reshape(4, 2), /shape '\[4, 2\]' is invalid for input of size 6/);
  });
});
