import type { OnnxGraph, OnnxValue } from '../onnx/graph.js';
import * as E from '../onnx/emit.js';
import { empty } from '../tensor/creation.js';
import type { Tensor } from '../tensor/tensor.js';
import * as F from './functional.js';
import { defaultLayerInit } from './init.js';
import { Module } from './module.js';

/** y = x·Wᵀ + b. Weight [out, in], initialised as torch.nn.Linear. */
export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(readonly inFeatures: number, readonly outFeatures: number, opts: { bias?: boolean } = {}) {
    super();
    this.weight = this.registerParameter('weight', empty([outFeatures, inFeatures]));
    this.bias = this.registerParameter('bias', opts.bias === false ? null : empty([outFeatures]));
    defaultLayerInit(this.weight, this.bias);
  }

  forward(x: Tensor): Tensor {
    return F.linear(x, this.weight, this.bias);
  }

  protected override onnx(g: OnnxGraph, x: OnnxValue): OnnxValue {
    return E.linear(g, x, g.param(this.weight), this.bias && g.param(this.bias));
  }
}

/** Returns its input unchanged. */
export class Identity extends Module {
  forward(x: Tensor): Tensor {
    return x;
  }

  protected override onnx(_g: OnnxGraph, x: OnnxValue): OnnxValue {
    return x;
  }
}

/** Flattens dimensions startDim..endDim (default: all but the batch dimension). */
export class Flatten extends Module {
  constructor(readonly startDim = 1, readonly endDim = -1) {
    super();
  }

  forward(x: Tensor): Tensor {
    return x.flatten(this.startDim, this.endDim);
  }

  protected override onnx(g: OnnxGraph, x: OnnxValue): OnnxValue {
    return E.flatten(g, x, this.startDim, this.endDim);
  }
}
