import type { OnnxGraph, OnnxValue } from '../onnx/graph.js';
import * as E from '../onnx/emit.js';
import { empty } from '../tensor/creation.js';
import { noGrad } from '../tensor/runtime.js';
import type { Tensor } from '../tensor/tensor.js';
import * as F from './functional.js';
import { normal_ } from './init.js';
import { Module } from './module.js';

/** A lookup table of `numEmbeddings` vectors; the `paddingIdx` row starts at zero and gets no gradient. */
export class Embedding extends Module {
  readonly weight: Tensor;
  readonly paddingIdx: number;

  constructor(readonly numEmbeddings: number, readonly embeddingDim: number, opts: { paddingIdx?: number } = {}) {
    super();
    const p = opts.paddingIdx;
    if (p !== undefined && (p >= numEmbeddings || p < -numEmbeddings)) throw new RangeError(`paddingIdx ${p} is out of range for ${numEmbeddings} embeddings`);
    this.paddingIdx = p === undefined ? -1 : p < 0 ? numEmbeddings + p : p;
    this.weight = this.registerParameter('weight', empty([numEmbeddings, embeddingDim]));
    normal_(this.weight);
    if (p !== undefined) noGrad(() => { using row = this.weight.select(0, this.paddingIdx); row.zero_(); });
  }

  forward(indices: Tensor): Tensor {
    return F.embedding(indices, this.weight, this.paddingIdx < 0 ? null : this.paddingIdx);
  }

  /** Takes int64 indices (an input declared with DataType.INT64). */
  protected override onnx(g: OnnxGraph, indices: OnnxValue): OnnxValue {
    return E.embedding(g, indices, g.param(this.weight));
  }
}
