// Attention Is All You Need, https://arxiv.org/abs/1706.03762
import type { OnnxGraph, OnnxValue } from '../onnx/graph.js';
import * as E from '../onnx/emit.js';
import { empty, ones } from '../tensor/creation.js';
import { tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import * as F from './functional.js';
import { constant_, xavierUniform_ } from './init.js';
import { Linear } from './linear.js';
import { Module } from './module.js';

export interface MultiheadAttentionCall {
  /** [N, S] with true where a key is padding (ignored), as in PyTorch. */
  keyPaddingMask?: Tensor | null;
  /** [L, S] or [N·heads, L, S]: bool true = not allowed, or a float mask added to the scores. */
  attnMask?: Tensor | null;
  needWeights?: boolean;
  averageAttnWeights?: boolean;
  isCausal?: boolean;
}

export interface AttentionResult {
  output: Tensor;
  weights: Tensor | null;
}

/**
 * torch.nn.MultiheadAttention with equal query/key/value sizes: packed `in_proj_weight`
 * [3E, E], `in_proj_bias`, and `out_proj`; inputs [L, N, E], or [N, L, E] with `batchFirst`.
 */
export class MultiheadAttention extends Module<[Tensor, Tensor, Tensor, MultiheadAttentionCall?], AttentionResult> {
  readonly inProjWeight: Tensor;
  readonly inProjBias: Tensor | null;
  readonly outProj: Linear;
  readonly headDim: number;

  constructor(readonly embedDim: number, readonly numHeads: number, readonly opts: { dropout?: number; bias?: boolean; batchFirst?: boolean } = {}) {
    super();
    if (embedDim % numHeads !== 0) throw new RangeError(`embedDim ${embedDim} must be divisible by numHeads ${numHeads}`);
    this.headDim = embedDim / numHeads;
    const bias = opts.bias ?? true;
    this.inProjWeight = this.registerParameter('in_proj_weight', empty([3 * embedDim, embedDim]));
    this.inProjBias = this.registerParameter('in_proj_bias', bias ? empty([3 * embedDim]) : null);
    // PyTorch builds out_proj (drawing its default init) before initialising in_proj: same order here.
    this.outProj = this.registerModule('out_proj', new Linear(embedDim, embedDim, { bias }));
    xavierUniform_(this.inProjWeight);
    if (this.inProjBias) {
      constant_(this.inProjBias, 0);
      constant_(this.outProj.bias!, 0);
    }
  }

  forward(query: Tensor, key: Tensor, value: Tensor, o: MultiheadAttentionCall = {}): AttentionResult {
    return tidy(() => {
      let [q, k, v] = this.opts.batchFirst ? [query, key, value].map((t) => t.transpose(0, 1)) as [Tensor, Tensor, Tensor] : [query, key, value];
      const [L, N, E] = q.shape as [number, number, number];
      const S = k.size(0);
      const H = this.numHeads;
      const [wq, wk, wv] = this.inProjWeight.chunk(3);
      const [bq, bk, bv] = this.inProjBias ? this.inProjBias.chunk(3) : [null, null, null];
      const heads = (t: Tensor, len: number): Tensor => t.reshape(len, N * H, this.headDim).transpose(0, 1).reshape(N, H, len, this.headDim);
      q = heads(F.linear(q, wq!, bq), L);
      k = heads(F.linear(k, wk!, bk), S);
      v = heads(F.linear(v, wv!, bv), S);
      let scores = q.matmul(k.transpose(-2, -1)).mul(1 / Math.sqrt(this.headDim));
      if (o.isCausal) scores = scores.maskedFill(ones([L, S], { dtype: 'bool', device: q.device }).triu(1), -Infinity);
      if (o.attnMask) {
        const m = o.attnMask.ndim === 3 ? o.attnMask.reshape(N, H, L, S) : o.attnMask;
        scores = m.dtype === 'bool' ? scores.maskedFill(m, -Infinity) : scores.add(m);
      }
      if (o.keyPaddingMask) {
        const m = o.keyPaddingMask.reshape(N, 1, 1, S);
        scores = m.dtype === 'bool' ? scores.maskedFill(m, -Infinity) : scores.add(m);
      }
      let attn = scores.softmax(-1);
      const p = this.opts.dropout ?? 0;
      // PyTorch returns the weights after dropout (the ones that multiplied v).
      if (p > 0 && this.training) attn = F.dropout(attn, p, true);
      const weights = o.needWeights === false ? null : o.averageAttnWeights === false ? attn : attn.mean(1);
      let out = attn.matmul(v).permute(2, 0, 1, 3).reshape(L, N, E);
      out = this.outProj.forward(out);
      return { output: this.opts.batchFirst ? out.transpose(0, 1) : out, weights };
    });
  }

  /**
   * Emits the attention output (not the weights) for query, key and value (key and value default
   * to the query: self-attention). Masks are arguments of forward(), not of the module, so the
   * export has none.
   */
  protected override onnx(g: OnnxGraph, query: OnnxValue, key: OnnxValue = query, value: OnnxValue = key): OnnxValue {
    const inputs = [query, key, value].map((t) => (this.opts.batchFirst ? E.transpose(g, t, 0, 1) : t));
    const [E_, H, d] = [this.embedDim, this.numHeads, this.headDim];
    const w = g.param(this.inProjWeight);
    const b = this.inProjBias && g.param(this.inProjBias);
    const part = (t: OnnxValue, i: number): OnnxValue => g.op('Slice', [t, g.ints([i * E_]), g.ints([(i + 1) * E_]), g.ints([0])]);
    // [L, N, E] → [N, H, L, d], as forward's reshape/transpose/reshape does
    const [q, k, v] = inputs.map((t, i) => {
      const proj = E.linear(g, t, part(w, i), b && part(b, i));
      return g.op('Transpose', [g.reshape(proj, [proj.shape[0]!, proj.shape[1]!, H, d])], { perm: [1, 2, 0, 3] });
    }) as [OnnxValue, OnnxValue, OnnxValue];
    const heads = g.op('Transpose', [E.attention(g, q, k, v, 1 / Math.sqrt(d))], { perm: [2, 0, 1, 3] });
    const out = this.outProj.toOnnx(g, g.reshape(heads, [heads.shape[0]!, heads.shape[1]!, E_]));
    return this.opts.batchFirst ? E.transpose(g, out, 0, 1) : out;
  }
}
