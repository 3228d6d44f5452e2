/**
 * Weight initialisation, in place and without grad, drawing from libtorch's generator in the same
 * order as torch.nn.init, so a seeded model starts from PyTorch's exact values.
 */
import { noGrad } from '../tensor/runtime.js';
import type { Tensor } from '../tensor/tensor.js';

export type Nonlinearity = 'linear' | 'conv2d' | 'sigmoid' | 'tanh' | 'relu' | 'leaky_relu' | 'selu';

/** torch.nn.init.calculate_gain */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  switch (nonlinearity) {
    case 'linear': case 'conv2d': case 'sigmoid': return 1;
    case 'tanh': return 5 / 3;
    case 'relu': return Math.SQRT2;
    case 'leaky_relu': { const a = param ?? 0.01; return Math.sqrt(2 / (1 + a * a)); }
    case 'selu': return 3 / 4;
  }
}

/** [fanIn, fanOut] as PyTorch computes them: dim 1 and dim 0 times the receptive field. */
export function fans(t: Tensor): [number, number] {
  const s = t.shape;
  if (s.length < 2) throw new RangeError('fan in/out needs a tensor with at least 2 dimensions');
  const receptive = s.slice(2).reduce((a, b) => a * b, 1);
  return [s[1]! * receptive, s[0]! * receptive];
}

export const uniform_ = (t: Tensor, a = 0, b = 1): Tensor => noGrad(() => t.uniform_(a, b));
export const normal_ = (t: Tensor, mean = 0, std = 1): Tensor => noGrad(() => t.normal_(mean, std));
export const constant_ = (t: Tensor, v: number): Tensor => noGrad(() => t.fill_(v));
export const zeros_ = (t: Tensor): Tensor => constant_(t, 0);
export const ones_ = (t: Tensor): Tensor => constant_(t, 1);

export interface KaimingOptions { a?: number; mode?: 'fan_in' | 'fan_out'; nonlinearity?: Nonlinearity }
function kaimingStd(t: Tensor, o: KaimingOptions): number {
  const [fanIn, fanOut] = fans(t);
  const gain = calculateGain(o.nonlinearity ?? 'leaky_relu', o.a ?? 0);
  return gain / Math.sqrt(o.mode === 'fan_out' ? fanOut : fanIn);
}
export const kaimingUniform_ = (t: Tensor, o: KaimingOptions = {}): Tensor => {
  const bound = Math.sqrt(3) * kaimingStd(t, o);
  return uniform_(t, -bound, bound);
};
export const kaimingNormal_ = (t: Tensor, o: KaimingOptions = {}): Tensor => normal_(t, 0, kaimingStd(t, o));
export const xavierUniform_ = (t: Tensor, gain = 1): Tensor => {
  const [fanIn, fanOut] = fans(t);
  const bound = gain * Math.sqrt(6 / (fanIn + fanOut));
  return uniform_(t, -bound, bound);
};
export const xavierNormal_ = (t: Tensor, gain = 1): Tensor => {
  const [fanIn, fanOut] = fans(t);
  return normal_(t, 0, gain * Math.sqrt(2 / (fanIn + fanOut)));
};
/** Normal(mean, std) redrawn outside [a, b], by the inverse-CDF method torch uses. */
export function truncNormal_(t: Tensor, mean = 0, std = 1, a = -2, b = 2): Tensor {
  const cdf = (x: number): number => (1 + erf(x / Math.SQRT2)) / 2;
  const [l, u] = [cdf((a - mean) / std), cdf((b - mean) / std)];
  return noGrad(() => {
    t.uniform_(2 * l - 1, 2 * u - 1);
    const inv = t.erfinv();
    t.copy_(inv);
    inv.dispose();
    return t.mul_(std * Math.SQRT2).add_(mean).clamp_(a, b);
  });
}

// Abramowitz–Stegun 7.1.26 is too coarse for the bounds; use a series good to ~1e-15.
function erf(x: number): number {
  const sign = Math.sign(x);
  const z = Math.abs(x);
  if (z > 6) return sign;
  let sum = z, term = z;
  for (let n = 1; n < 200; n++) {
    term *= (-z * z) / n;
    const add = term / (2 * n + 1);
    sum += add;
    if (Math.abs(add) < 1e-17) break;
  }
  return (sign * 2 * sum) / Math.sqrt(Math.PI);
}

/** The default PyTorch uses for Linear and Conv weights and biases (kaiming_uniform_ with a=√5). */
export function defaultLayerInit(weight: Tensor, bias: Tensor | null): void {
  kaimingUniform_(weight, { a: Math.sqrt(5) });
  if (bias !== null) {
    const [fanIn] = fans(weight);
    const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
    uniform_(bias, -bound, bound);
  }
}
