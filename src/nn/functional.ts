/**
 * Stateless neural-network functions (PyTorch's torch.nn.functional), each a call to the ATen
 * operator PyTorch itself uses, so values and gradients match it.
 *
 * @example
 * import { F } from 'kestrel';
 * const y = F.relu(F.conv2d(x, w, b, { padding: 1 }));
 */
import { DTYPES } from '../tensor/dtype.js';
import { tidy } from '../tensor/scope.js';
import { native } from '../native/index.js';
import { call, callMany, callVoid, Tensor } from '../tensor/tensor.js';

type Pair = number | [number, number];
export type Reduction = 'none' | 'mean' | 'sum';
const REDUCTION: Record<Reduction, number> = { none: 0, mean: 1, sum: 2 };
const reduction = (r: Reduction | undefined): number => {
  const code = REDUCTION[r ?? 'mean'];
  if (code === undefined) throw new TypeError(`unknown reduction '${String(r)}' (none, mean or sum)`);
  return code;
};

// ---- layers ----
export const linear = (x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor => call('linear', x, weight, bias ?? null);

export interface Conv2dOptions { stride?: Pair; padding?: Pair | 'same' | 'valid'; dilation?: Pair; groups?: number }
export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor | null, o: Conv2dOptions = {}): Tensor {
  if (typeof o.padding === 'string') return call('conv2d.padding', x, weight, bias ?? null, o.stride ?? 1, o.padding, o.dilation ?? 1, o.groups ?? 1);
  return call('conv2d', x, weight, bias ?? null, o.stride ?? 1, o.padding ?? 0, o.dilation ?? 1, o.groups ?? 1);
}

export interface ConvTranspose2dOptions { stride?: Pair; padding?: Pair; outputPadding?: Pair; groups?: number; dilation?: Pair }
export const convTranspose2d = (x: Tensor, weight: Tensor, bias?: Tensor | null, o: ConvTranspose2dOptions = {}): Tensor =>
  call('conv_transpose2d.input', x, weight, bias ?? null, o.stride ?? 1, o.padding ?? 0, o.outputPadding ?? 0, o.groups ?? 1, o.dilation ?? 1);

export interface Pool2dOptions { stride?: Pair; padding?: Pair; dilation?: Pair; ceilMode?: boolean }
export const maxPool2d = (x: Tensor, kernel: Pair, o: Pool2dOptions = {}): Tensor =>
  call('max_pool2d', x, kernel, o.stride ?? [], o.padding ?? 0, o.dilation ?? 1, o.ceilMode ?? false);
/** Max pooling that also returns the flat index of each maximum (for unpooling). */
export function maxPool2dWithIndices(x: Tensor, kernel: Pair, o: Pool2dOptions = {}): { values: Tensor; indices: Tensor } {
  const [values, indices] = callMany('max_pool2d_with_indices', x, kernel, o.stride ?? [], o.padding ?? 0, o.dilation ?? 1, o.ceilMode ?? false);
  return { values: values!, indices: indices! };
}
export const avgPool2d = (x: Tensor, kernel: Pair, o: Omit<Pool2dOptions, 'dilation'> & { countIncludePad?: boolean; divisorOverride?: number } = {}): Tensor =>
  call('avg_pool2d', x, kernel, o.stride ?? [], o.padding ?? 0, o.ceilMode ?? false, o.countIncludePad ?? true, o.divisorOverride ?? null);
export const adaptiveAvgPool2d = (x: Tensor, size: Pair): Tensor => call('adaptive_avg_pool2d', x, size);
export function adaptiveMaxPool2d(x: Tensor, size: Pair): Tensor {
  const [values, indices] = callMany('adaptive_max_pool2d', x, size);
  indices!.dispose();
  return values!;
}

export interface BatchNormOptions { weight?: Tensor | null; bias?: Tensor | null; training?: boolean; momentum?: number; eps?: number }
/** Batch norm; in training the running statistics are updated in place (momentum as in PyTorch). */
export const batchNorm = (x: Tensor, runningMean: Tensor | null, runningVar: Tensor | null, o: BatchNormOptions = {}): Tensor =>
  call('batch_norm', x, o.weight ?? null, o.bias ?? null, runningMean, runningVar, o.training ?? false, o.momentum ?? 0.1, o.eps ?? 1e-5, true);
export const layerNorm = (x: Tensor, normalizedShape: number[], weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5): Tensor =>
  call('layer_norm', x, normalizedShape, weight ?? null, bias ?? null, eps, true);
export const groupNorm = (x: Tensor, groups: number, weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5): Tensor =>
  call('group_norm', x, groups, weight ?? null, bias ?? null, eps, true);
/** Zeroes elements with probability `p` and scales the rest by 1/(1-p) when `training`. */
export const dropout = (x: Tensor, p = 0.5, training = true): Tensor => {
  if (p < 0 || p > 1) throw new RangeError(`dropout probability must be in [0, 1], got ${p}`);
  return call('dropout', x, p, training);
};
/** Rows of `weight` at `indices`; the `paddingIdx` row (negative counts from the end, as in PyTorch) gets no gradient. */
export function embedding(indices: Tensor, weight: Tensor, paddingIdx?: number | null): Tensor {
  const rows = weight.size(0);
  if (paddingIdx != null && (paddingIdx >= rows || paddingIdx < -rows)) throw new RangeError(`paddingIdx ${paddingIdx} is out of range for ${rows} embeddings`);
  const p = paddingIdx == null ? -1 : paddingIdx < 0 ? rows + paddingIdx : paddingIdx;
  return call('embedding', weight, indices, p, false, false);
}

// ---- activations ----
export const relu = (x: Tensor): Tensor => call('relu', x);
/**
 * In-place activations: overwrite `x` and return it (PyTorch's `inplace=True`). They save one
 * activation-sized allocation and pass over memory; use them only on a tensor nothing else reads
 * later (the output of a norm or conv, not a block's input that a residual still needs).
 */
const inplace = (name: string) => (x: Tensor): Tensor => {
  callVoid(name, x);
  return x;
};
export const relu_ = inplace('relu_');
export const silu_ = inplace('silu_');
export const hardswish_ = inplace('hardswish_');
export const hardsigmoid_ = inplace('hardsigmoid_');
export const sigmoid_ = inplace('sigmoid_');
export const tanh_ = inplace('tanh_');
export const relu6_ = (x: Tensor): Tensor => {
  callVoid('hardtanh_', x, 0, 6);
  return x;
};
export const relu6 = (x: Tensor): Tensor => call('hardtanh', x, 0, 6);
export const leakyRelu = (x: Tensor, slope = 0.01): Tensor => call('leaky_relu', x, slope);
export const gelu = (x: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor => call('gelu', x, approximate);
export const silu = (x: Tensor): Tensor => call('silu', x);
export const hardswish = (x: Tensor): Tensor => call('hardswish', x);
export const hardsigmoid = (x: Tensor): Tensor => call('hardsigmoid', x);
export const sigmoid = (x: Tensor): Tensor => call('sigmoid', x);
export const tanh = (x: Tensor): Tensor => call('tanh', x);
export const elu = (x: Tensor, alpha = 1): Tensor => call('elu', x, alpha, 1, 1);
export const mish = (x: Tensor): Tensor => call('mish', x);
export const softmax = (x: Tensor, dim: number): Tensor => call('softmax.int', x, dim, null);
export const logSoftmax = (x: Tensor, dim: number): Tensor => call('log_softmax.int', x, dim, null);

// ---- resampling and padding ----
export interface InterpolateOptions { size?: Pair; scaleFactor?: number | [number, number]; mode?: 'nearest' | 'bilinear'; alignCorners?: boolean }
/** Resizes NCHW images by `size` or `scaleFactor`, nearest or bilinear (PyTorch's F.interpolate). */
export function interpolate(x: Tensor, o: InterpolateOptions): Tensor {
  if ((o.size === undefined) === (o.scaleFactor === undefined)) throw new TypeError('interpolate(): give exactly one of size and scaleFactor');
  const size = o.size === undefined ? null : typeof o.size === 'number' ? [o.size, o.size] : o.size;
  const scale = o.scaleFactor === undefined ? null : typeof o.scaleFactor === 'number' ? [o.scaleFactor, o.scaleFactor] : o.scaleFactor;
  const mode = o.mode ?? 'nearest';
  if (mode === 'nearest') {
    if (o.alignCorners !== undefined) throw new TypeError('interpolate(): alignCorners applies to bilinear only');
    return call('upsample_nearest2d.vec', x, size, scale);
  }
  if (mode === 'bilinear') return call('upsample_bilinear2d.vec', x, size, o.alignCorners ?? false, scale);
  throw new TypeError(`interpolate(): unknown mode '${String(mode)}'`);
}

/** Pads the last dimensions: `pad` is [left, right, top, bottom, …] as in PyTorch's F.pad. */
export function pad(x: Tensor, padding: number[], mode: 'constant' | 'reflect' | 'replicate' = 'constant', value = 0): Tensor {
  if (mode === 'constant') return call('constant_pad_nd', x, padding, value);
  if (padding.length !== 4) throw new RangeError(`pad(): ${mode} padding takes 4 values for NCHW, got ${padding.length}`);
  return call(mode === 'reflect' ? 'reflection_pad2d' : 'replication_pad2d', x, padding);
}

// ---- attention ----
let packedNative: boolean | undefined;
const usePackedNative = (qkv: Tensor): boolean => {
  packedNative ??= process.env.KESTREL_PACKED_ATTENTION !== '0' && native().packedAttentionAvailable?.() === true;
  return packedNative && qkv.dtype === 'float32' && qkv.device === 'cpu';
};

/**
 * Multi-head self-attention on a packed projection, as timm's ViT computes it: `qkv` [B, N, 3·C]
 * holds q, k and v side by side, each split into `heads` heads of C / heads; returns
 * softmax(q·kᵀ·scale)·v with the heads side by side again, [B, N, C]. Float32 CPU tensors take the
 * addon's fused kernel (native/src/attention.cc: no layout copies, one autograd node); anything
 * else, or KESTREL_PACKED_ATTENTION=0, composes the same ATen ops as PyTorch.
 */
export function packedSelfAttention(qkv: Tensor, heads: number, scale?: number): Tensor {
  if (qkv.ndim !== 3 || qkv.size(2) % (3 * heads) !== 0) {
    throw new RangeError(`packedSelfAttention(): qkv must be [B, N, 3·heads·d], got [${qkv.shape.join(', ')}] with ${heads} heads`);
  }
  const [B, N, C3] = qkv.shape as [number, number, number];
  const d = C3 / 3 / heads;
  const s = scale ?? 1 / Math.sqrt(d);
  if (usePackedNative(qkv)) return new Tensor(native().packedAttention!(qkv.handle, heads, s));
  return tidy(() => {
    const [q, k, v] = qkv.reshape(B, N, 3, heads, d).permute(2, 0, 3, 1, 4).unbind(0);
    return scaledDotProductAttention(q!, k!, v!, { scale: s }).transpose(1, 2).reshape(B, N, C3 / 3);
  });
}

export interface AttentionOptions { mask?: Tensor | null; dropout?: number; causal?: boolean; scale?: number; training?: boolean }
/**
 * softmax(q·kᵀ·scale + mask)·v over the last two dimensions. A boolean mask keeps `true`
 * positions (PyTorch 2's convention); a float mask is added to the scores.
 */
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, o: AttentionOptions = {}): Tensor {
  return tidy(() => {
    let scores = q.matmul(k.transpose(-2, -1)).mul(o.scale ?? 1 / Math.sqrt(q.size(-1)));
    if (o.causal) {
      const keep = call('ones', [q.size(-2), k.size(-2)], DTYPES.bool, null, q.device, null).tril();
      scores = scores.maskedFill(keep.logicalNot(), -Infinity);
    }
    if (o.mask) scores = o.mask.dtype === 'bool' ? scores.maskedFill(o.mask.logicalNot(), -Infinity) : scores.add(o.mask);
    let attn = scores.softmax(-1);
    if (o.dropout && (o.training ?? true)) attn = dropout(attn, o.dropout, true);
    return attn.matmul(v);
  });
}

// ---- losses ----
export interface CrossEntropyOptions { weight?: Tensor | null; reduction?: Reduction; ignoreIndex?: number; labelSmoothing?: number }
/** Cross entropy from logits; `target` holds class indices (int64) or class probabilities. */
export const crossEntropy = (logits: Tensor, target: Tensor, o: CrossEntropyOptions = {}): Tensor =>
  call('cross_entropy_loss', logits, target, o.weight ?? null, reduction(o.reduction), o.ignoreIndex ?? -100, o.labelSmoothing ?? 0);
export const nllLoss = (logProbs: Tensor, target: Tensor, o: Omit<CrossEntropyOptions, 'labelSmoothing'> = {}): Tensor =>
  call('nll_loss_nd', logProbs, target, o.weight ?? null, reduction(o.reduction), o.ignoreIndex ?? -100);
export const binaryCrossEntropy = (probs: Tensor, target: Tensor, o: { weight?: Tensor | null; reduction?: Reduction } = {}): Tensor =>
  call('binary_cross_entropy', probs, target, o.weight ?? null, reduction(o.reduction));
export const binaryCrossEntropyWithLogits = (logits: Tensor, target: Tensor, o: { weight?: Tensor | null; posWeight?: Tensor | null; reduction?: Reduction } = {}): Tensor =>
  call('binary_cross_entropy_with_logits', logits, target, o.weight ?? null, o.posWeight ?? null, reduction(o.reduction));
export const mseLoss = (x: Tensor, target: Tensor, r?: Reduction): Tensor => call('mse_loss', x, target, reduction(r));
export const l1Loss = (x: Tensor, target: Tensor, r?: Reduction): Tensor => call('l1_loss', x, target, reduction(r));
export const smoothL1Loss = (x: Tensor, target: Tensor, o: { reduction?: Reduction; beta?: number } = {}): Tensor =>
  call('smooth_l1_loss', x, target, reduction(o.reduction), o.beta ?? 1);
