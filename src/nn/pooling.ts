import type { OnnxGraph, OnnxValue } from '../onnx/graph.js';
import * as E from '../onnx/emit.js';
import type { Tensor } from '../tensor/tensor.js';
import * as F from './functional.js';
import { Module } from './module.js';

type Pair = number | [number, number];

export class MaxPool2d extends Module {
  constructor(readonly kernelSize: Pair, readonly opts: F.Pool2dOptions = {}) {
    super();
  }

  forward(x: Tensor): Tensor {
    return F.maxPool2d(x, this.kernelSize, this.opts);
  }

  protected override onnx(g: OnnxGraph, x: OnnxValue): OnnxValue {
    return E.maxPool2d(g, x, this.kernelSize, this.opts);
  }
}

export class AvgPool2d extends Module {
  constructor(readonly kernelSize: Pair, readonly opts: Parameters<typeof F.avgPool2d>[2] = {}) {
    super();
  }

  forward(x: Tensor): Tensor {
    return F.avgPool2d(x, this.kernelSize, this.opts);
  }

  protected override onnx(g: OnnxGraph, x: OnnxValue): OnnxValue {
    return E.avgPool2d(g, x, this.kernelSize, this.opts);
  }
}

/** Average-pools to a fixed output size (1 gives global average pooling). */
export class AdaptiveAvgPool2d extends Module {
  constructor(readonly outputSize: Pair) {
    super();
  }

  forward(x: Tensor): Tensor {
    return F.adaptiveAvgPool2d(x, this.outputSize);
  }

  protected override onnx(g: OnnxGraph, x: OnnxValue): OnnxValue {
    return E.adaptiveAvgPool2d(g, x, this.outputSize);
  }
}
