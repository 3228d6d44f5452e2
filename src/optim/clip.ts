/** Gradient clipping, as torch.nn.utils.clip_grad_norm_ / clip_grad_value_ (1.13) do it. */
import { noGrad } from '../tensor/runtime.js';
import { tidy } from '../tensor/scope.js';
import { call, type Tensor } from '../tensor/tensor.js';

/**
 * Scales all gradients together so that their joint `normType`-norm is at most `maxNorm`
 * (`grad *= min(1, maxNorm / (total + 1e-6))`) and returns the norm before clipping. Parameters
 * without a gradient are ignored; `normType` may be `Infinity`.
 *
 * @example
 * loss.backward();
 * const norm = clipGradNorm(model.parameters(), 10.0);
 * opt.step();
 */
export function clipGradNorm(params: Iterable<Tensor>, maxNorm: number, normType = 2): number {
  return noGrad(() =>
    tidy(() => {
      const grads: Tensor[] = [];
      for (const p of params) {
        const g = p.grad;
        if (g !== null) grads.push(g);
      }
      if (grads.length === 0) return 0;
      // Tensor arithmetic throughout, in the gradients' dtype, so the result is PyTorch's bit for bit.
      let total: Tensor;
      if (normType === Infinity) {
        const norms = grads.map((g) => g.abs().max());
        total = norms.length === 1 ? norms[0]! : call('stack', norms, 0).max();
      } else {
        total = call('stack', grads.map((g) => g.norm(normType)), 0).norm(normType);
      }
      const coef = total.add(1e-6).reciprocal().mul(maxNorm).clamp(null, 1.0);
      for (const g of grads) g.mul_(coef);
      return total.item();
    }),
  );
}

/**
 * Clamps every gradient element to `[-clipValue, clipValue]` in place.
 *
 * @example
 * loss.backward();
 * clipGradValue(model.parameters(), 1.0);
 */
export function clipGradValue(params: Iterable<Tensor>, clipValue: number): void {
  noGrad(() =>
    tidy(() => {
      for (const p of params) p.grad?.clamp_(-clipValue, clipValue);
    }),
  );
}
