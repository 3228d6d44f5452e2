// clipGradNorm / clipGradValue against torch.nn.utils.clip_grad_norm_ / clip_grad_value_ (1.13).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { clipGradNorm, clipGradValue } from '../../src/optim/index.js';
import { keep, memory, tensor, tidy, zeros, type Tensor } from '../../src/tensor/index.js';
import { assertClose, dec, fixture } from './fixture.js';

/** Zero parameters holding the fixture's first gradients. */
function withGrads(): Tensor[] {
  return fixture.grads[0]!.map((g) => {
    const p = keep(zeros(g!.shape).requiresGrad_(true));
    tidy(() => void (p.grad = dec(g!)));
    return p;
  });
}

describe('gradient clipping matches PyTorch', () => {
  for (const [name, c] of Object.entries(fixture.clip)) {
    test(name, () => {
      const params = withGrads();
      if (c.clipValue !== undefined) {
        clipGradValue(params, c.clipValue);
      } else {
        const normType = c.normType === 'inf' ? Infinity : c.normType!;
        const total = clipGradNorm(params, c.maxNorm!, normType);
        assert.equal(total, Math.fround(Number(c.total!.data[0])), 'total norm');
      }
      tidy(() => params.forEach((p, i) => assertClose(p.grad!, c.grads[i]!, 1e-6, `${name} grad ${i}`)));
      params.forEach((p) => p.dispose());
    });
  }

  test('no gradients: norm 0, nothing touched, nothing leaked', () => {
    const p = keep(tensor([1, 2]).requiresGrad_(true));
    const before = memory().tensors;
    assert.equal(clipGradNorm([p], 1), 0);
    clipGradValue([p], 1);
    assert.equal(memory().tensors, before);
    assert.equal(p.grad, null);
    p.dispose();
  });

  test('clipping leaks no tensors', () => {
    const params = withGrads();
    const before = memory().tensors;
    for (let i = 0; i < 10; i++) {
      clipGradNorm(params, 0.1);
      clipGradNorm(params, 0.1, Infinity);
      clipGradValue(params, 0.05);
    }
    assert.equal(memory().tensors, before);
    params.forEach((p) => p.dispose());
  });
});
