// Deep Networks with Stochastic Depth, https://arxiv.org/abs/1603.09382
import type { OnnxGraph, OnnxValue } from '../onnx/graph.js';
import { empty } from '../tensor/creation.js';
import { tidy } from '../tensor/scope.js';
import { callVoid, type Tensor } from '../tensor/tensor.js';
import { Module } from './module.js';

export type StochasticDepthMode = 'row' | 'batch';

/**
 * torchvision.ops.stochastic_depth: while training, zeroes each sample ('row') or the whole batch
 * ('batch') with probability `p` and scales the survivors by 1/(1-p); the identity otherwise.
 * timm's DropPath is the 'row' mode.
 *
 * @example
 * const y = x.add(stochasticDepth(branch, 0.1, 'row', model.training));
 */
export function stochasticDepth(x: Tensor, p: number, mode: StochasticDepthMode, training = true): Tensor {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`stochastic depth probability must be in [0, 1], got ${p}`);
  if (mode !== 'row' && mode !== 'batch') throw new TypeError(`stochastic depth mode must be 'row' or 'batch', got '${String(mode)}'`);
  if (!training || p === 0) return x;
  const survival = 1 - p;
  const size = x.shape.map((d, i) => (mode === 'row' && i === 0 ? d : 1));
  return tidy(() => {
    const noise = empty(size, { dtype: x.dtype, device: x.device });
    callVoid('bernoulli_.float', noise, survival, null);
    if (survival > 0) noise.div_(survival);
    return x.mul(noise);
  });
}

/** Module form of stochasticDepth (torchvision.ops.StochasticDepth); no parameters. */
export class StochasticDepth extends Module {
  constructor(readonly p: number, readonly mode: StochasticDepthMode = 'row') {
    super();
    if (!(p >= 0 && p <= 1)) throw new RangeError(`stochastic depth probability must be in [0, 1], got ${p}`);
  }

  forward(x: Tensor): Tensor {
    return stochasticDepth(x, this.p, this.mode, this.training);
  }

  /** Identity: the export is of eval mode. */
  protected override onnx(_g: OnnxGraph, x: OnnxValue): OnnxValue {
    return x;
  }
}
