import type { OnnxGraph, OnnxValue } from '../onnx/graph.js';
import * as E from '../onnx/emit.js';
import { ones, zeros } from '../tensor/creation.js';
import { noGrad } from '../tensor/runtime.js';
import type { Tensor } from '../tensor/tensor.js';
import * as F from './functional.js';
import { Module } from './module.js';

export interface BatchNormOptions {
  eps?: number;
  momentum?: number;
  affine?: boolean;
  trackRunningStats?: boolean;
}

/** Batch normalisation over N, H, W of NCHW input, with running statistics for eval. */
export class BatchNorm2d extends Module {
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  readonly runningMean: Tensor | null;
  readonly runningVar: Tensor | null;
  readonly numBatchesTracked: Tensor | null;
  readonly eps: number;
  readonly momentum: number;

  constructor(readonly numFeatures: number, opts: BatchNormOptions = {}) {
    super();
    this.eps = opts.eps ?? 1e-5;
    this.momentum = opts.momentum ?? 0.1;
    const affine = opts.affine ?? true;
    const track = opts.trackRunningStats ?? true;
    this.weight = this.registerParameter('weight', affine ? ones([numFeatures]) : null);
    this.bias = this.registerParameter('bias', affine ? zeros([numFeatures]) : null);
    this.runningMean = this.registerBuffer('running_mean', track ? zeros([numFeatures]) : null);
    this.runningVar = this.registerBuffer('running_var', track ? ones([numFeatures]) : null);
    this.numBatchesTracked = this.registerBuffer('num_batches_tracked', track ? zeros([], { dtype: 'int64' }) : null);
  }

  forward(x: Tensor): Tensor {
    if (x.ndim !== 4) throw new RangeError(`BatchNorm2d expects NCHW input, got shape [${x.shape.join(', ')}]`);
    const useBatchStats = this.training || this.runningMean === null;
    if (this.training && this.numBatchesTracked !== null) noGrad(() => this.numBatchesTracked!.add_(1));
    return F.batchNorm(x, this.runningMean, this.runningVar, {
      weight: this.weight, bias: this.bias, training: useBatchStats, momentum: this.momentum, eps: this.eps,
    });
  }

  /** Eval mode: normalises with the running statistics. */
  protected override onnx(g: OnnxGraph, x: OnnxValue): OnnxValue {
    if (this.runningMean === null || this.runningVar === null) {
      throw new Error('BatchNorm2d without running statistics (trackRunningStats: false) normalises with batch statistics, which the export does not do');
    }
    const p = (t: Tensor | null): OnnxValue | null => t && g.param(t);
    return E.batchNorm(g, x, g.param(this.runningMean), g.param(this.runningVar), p(this.weight), p(this.bias), this.eps);
  }
}

/** Normalises over the trailing `normalizedShape` dimensions. */
export class LayerNorm extends Module {
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  readonly normalizedShape: number[];

  constructor(normalizedShape: number | number[], readonly opts: { eps?: number; elementwiseAffine?: boolean; bias?: boolean } = {}) {
    super();
    this.normalizedShape = typeof normalizedShape === 'number' ? [normalizedShape] : normalizedShape;
    const affine = opts.elementwiseAffine ?? true;
    this.weight = this.registerParameter('weight', affine ? ones(this.normalizedShape) : null);
    this.bias = this.registerParameter('bias', affine && opts.bias !== false ? zeros(this.normalizedShape) : null);
  }

  forward(x: Tensor): Tensor {
    return F.layerNorm(x, this.normalizedShape, this.weight, this.bias, this.opts.eps ?? 1e-5);
  }

  protected override onnx(g: OnnxGraph, x: OnnxValue): OnnxValue {
    return E.layerNorm(g, x, this.normalizedShape, this.weight && g.param(this.weight), this.bias && g.param(this.bias), this.opts.eps ?? 1e-5);
  }
}

/** Normalises channels in `numGroups` groups (independent of batch size). */
export class GroupNorm extends Module {
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;

  constructor(readonly numGroups: number, readonly numChannels: number, readonly opts: { eps?: number; affine?: boolean } = {}) {
    super();
    if (numChannels % numGroups !== 0) throw new RangeError(`GroupNorm: ${numChannels} channels are not divisible into ${numGroups} groups`);
    const affine = opts.affine ?? true;
    this.weight = this.registerParameter('weight', affine ? ones([numChannels]) : null);
    this.bias = this.registerParameter('bias', affine ? zeros([numChannels]) : null);
  }

  forward(x: Tensor): Tensor {
    return F.groupNorm(x, this.numGroups, this.weight, this.bias, this.opts.eps ?? 1e-5);
  }

  protected override onnx(g: OnnxGraph, x: OnnxValue): OnnxValue {
    return E.groupNorm(g, x, this.numGroups, this.weight && g.param(this.weight), this.bias && g.param(this.bias), this.opts.eps ?? 1e-5);
  }
}
