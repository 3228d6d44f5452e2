import type { OnnxGraph, OnnxValue } from '../onnx/graph.js';
import * as E from '../onnx/emit.js';
import { empty } from '../tensor/creation.js';
import type { Tensor } from '../tensor/tensor.js';
import * as F from './functional.js';
import { defaultLayerInit } from './init.js';
import { Module } from './module.js';

type Pair = number | [number, number];
const pair = (p: Pair): [number, number] => (typeof p === 'number' ? [p, p] : p);

export interface Conv2dOptions {
  stride?: Pair;
  padding?: Pair | 'same' | 'valid';
  dilation?: Pair;
  groups?: number;
  bias?: boolean;
}

function checkGroups(inChannels: number, outChannels: number, groups: number): void {
  if (inChannels % groups !== 0 || outChannels % groups !== 0) {
    throw new RangeError(`channels (${inChannels} in, ${outChannels} out) must be divisible by groups (${groups})`);
  }
}

/** 2-D convolution over NCHW input. Weight [out, in/groups, kh, kw]. */
export class Conv2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly options: Required<Omit<Conv2dOptions, 'bias'>>;

  constructor(readonly inChannels: number, readonly outChannels: number, readonly kernelSize: Pair, opts: Conv2dOptions = {}) {
    super();
    const groups = opts.groups ?? 1;
    checkGroups(inChannels, outChannels, groups);
    this.options = { stride: opts.stride ?? 1, padding: opts.padding ?? 0, dilation: opts.dilation ?? 1, groups };
    this.weight = this.registerParameter('weight', empty([outChannels, inChannels / groups, ...pair(kernelSize)]));
    this.bias = this.registerParameter('bias', opts.bias === false ? null : empty([outChannels]));
    defaultLayerInit(this.weight, this.bias);
  }

  forward(x: Tensor): Tensor {
    return F.conv2d(x, this.weight, this.bias, this.options);
  }

  protected override onnx(g: OnnxGraph, x: OnnxValue): OnnxValue {
    return E.conv2d(g, x, g.param(this.weight), this.bias && g.param(this.bias), this.options);
  }
}

export interface ConvTranspose2dOptions {
  stride?: Pair;
  padding?: Pair;
  outputPadding?: Pair;
  dilation?: Pair;
  groups?: number;
  bias?: boolean;
}

/** Transposed 2-D convolution (upsampling). Weight [in, out/groups, kh, kw]. */
export class ConvTranspose2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly options: Required<Omit<ConvTranspose2dOptions, 'bias'>>;

  constructor(readonly inChannels: number, readonly outChannels: number, readonly kernelSize: Pair, opts: ConvTranspose2dOptions = {}) {
    super();
    const groups = opts.groups ?? 1;
    checkGroups(inChannels, outChannels, groups);
    this.options = { stride: opts.stride ?? 1, padding: opts.padding ?? 0, outputPadding: opts.outputPadding ?? 0, dilation: opts.dilation ?? 1, groups };
    this.weight = this.registerParameter('weight', empty([inChannels, outChannels / groups, ...pair(kernelSize)]));
    this.bias = this.registerParameter('bias', opts.bias === false ? null : empty([outChannels]));
    defaultLayerInit(this.weight, this.bias);
  }

  forward(x: Tensor): Tensor {
    return F.convTranspose2d(x, this.weight, this.bias, this.options);
  }

  protected override onnx(g: OnnxGraph, x: OnnxValue): OnnxValue {
    return E.convTranspose2d(g, x, g.param(this.weight), this.bias && g.param(this.bias), this.options);
  }
}
