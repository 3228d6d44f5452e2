import type { OnnxGraph, OnnxValue } from '../onnx/graph.js';
import * as E from '../onnx/emit.js';
import type { Tensor } from '../tensor/tensor.js';
import * as F from './functional.js';
import { Module } from './module.js';

export interface ActivationOptions {
  /**
   * Overwrite the input instead of allocating the output (PyTorch's `inplace=True`): saves memory
   * and time, but only where nothing else reads the input afterwards (e.g. right after a norm).
   */
  inplace?: boolean;
}

/** A parameter-free module around one elementwise function, its in-place form (if any) and its ONNX emitter. */
abstract class Activation extends Module {
  protected abstract fn(x: Tensor): Tensor;
  protected abstract emit(g: OnnxGraph, x: OnnxValue): OnnxValue;
  protected fnInplace: ((x: Tensor) => Tensor) | null = null;
  readonly inplace: boolean;
  constructor(opts: ActivationOptions = {}) {
    super();
    this.inplace = opts.inplace ?? false;
  }
  forward(x: Tensor): Tensor {
    return this.inplace && this.fnInplace ? this.fnInplace(x) : this.fn(x);
  }
  protected override onnx(g: OnnxGraph, x: OnnxValue): OnnxValue {
    return this.emit(g, x);
  }
}

export class ReLU extends Activation { protected fn = F.relu; protected override fnInplace = F.relu_; protected emit = E.relu; }
export class ReLU6 extends Activation { protected fn = F.relu6; protected override fnInplace = F.relu6_; protected emit = E.relu6; }
export class SiLU extends Activation { protected fn = F.silu; protected override fnInplace = F.silu_; protected emit = E.silu; }
export class Hardswish extends Activation { protected fn = F.hardswish; protected override fnInplace = F.hardswish_; protected emit = E.hardswish; }
export class Hardsigmoid extends Activation { protected fn = F.hardsigmoid; protected override fnInplace = F.hardsigmoid_; protected emit = E.hardsigmoid; }
export class Sigmoid extends Activation { protected fn = F.sigmoid; protected override fnInplace = F.sigmoid_; protected emit = E.sigmoid; }
export class Tanh extends Activation { protected fn = F.tanh; protected override fnInplace = F.tanh_; protected emit = E.tanh; }
export class Mish extends Activation { protected fn = F.mish; protected emit = E.mish; }

export class LeakyReLU extends Module {
  constructor(readonly negativeSlope = 0.01) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.leakyRelu(x, this.negativeSlope);
  }
  protected override onnx(g: OnnxGraph, x: OnnxValue): OnnxValue {
    return E.leakyRelu(g, x, this.negativeSlope);
  }
}

export class GELU extends Module {
  constructor(readonly approximate: 'none' | 'tanh' = 'none') {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.gelu(x, this.approximate);
  }
  protected override onnx(g: OnnxGraph, x: OnnxValue): OnnxValue {
    return E.gelu(g, x, this.approximate);
  }
}

export class Softmax extends Module {
  constructor(readonly dim: number) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.softmax(x, this.dim);
  }
  protected override onnx(g: OnnxGraph, x: OnnxValue): OnnxValue {
    return E.softmax(g, x, this.dim);
  }
}

/** Zeroes elements with probability p while training; identity in eval. */
export class Dropout extends Module {
  constructor(readonly p = 0.5) {
    super();
    if (p < 0 || p > 1) throw new RangeError(`dropout probability must be in [0, 1], got ${p}`);
  }
  forward(x: Tensor): Tensor {
    return this.training && this.p > 0 ? F.dropout(x, this.p, true) : x;
  }
  /** Identity: the export is of eval mode. */
  protected override onnx(_g: OnnxGraph, x: OnnxValue): OnnxValue {
    return x;
  }
}
