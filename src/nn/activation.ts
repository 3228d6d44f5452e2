import type { Tensor } from '../tensor/tensor.js';
import * as F from './functional.js';
import { Module } from './module.js';

/** A parameter-free module around one elementwise function. */
abstract class Activation extends Module {
  protected abstract fn(x: Tensor): Tensor;
  forward(x: Tensor): Tensor {
    return this.fn(x);
  }
}

export class ReLU extends Activation { protected fn = F.relu; }
export class ReLU6 extends Activation { protected fn = F.relu6; }
export class SiLU extends Activation { protected fn = F.silu; }
export class Hardswish extends Activation { protected fn = F.hardswish; }
export class Hardsigmoid extends Activation { protected fn = F.hardsigmoid; }
export class Sigmoid extends Activation { protected fn = F.sigmoid; }
export class Tanh extends Activation { protected fn = F.tanh; }
export class Mish extends Activation { protected fn = F.mish; }

export class LeakyReLU extends Module {
  constructor(readonly negativeSlope = 0.01) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.leakyRelu(x, this.negativeSlope);
  }
}

export class GELU extends Module {
  constructor(readonly approximate: 'none' | 'tanh' = 'none') {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.gelu(x, this.approximate);
  }
}

export class Softmax extends Module {
  constructor(readonly dim: number) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.softmax(x, this.dim);
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
}
