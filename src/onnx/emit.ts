/**
 * ONNX emitters for nn's functional ops: the export counterparts of src/nn/functional.ts, used by
 * the layers' onnx() methods. Each spells out what the ATen op computes in eval mode with opset
 * 13–17 operators (GELU from Erf or Tanh, HardSwish and LayerNormalization in primitives below the
 * opsets that have them, adaptive pooling as an average pool or a pooling matrix).
 * Only types come from graph.ts, so importing this does not load protobufjs.
 */
import type { OnnxGraph, OnnxValue } from './graph.js';
import { mulDims, type Dim } from './shape.js';

type Pair = number | [number, number];
const pair = (p: Pair): [number, number] => (typeof p === 'number' ? [p, p] : p);

function spatial(x: OnnxValue, what: string): [number, number] {
  const [h, w] = x.shape.slice(2);
  if (x.shape.length !== 4 || typeof h !== 'number' || typeof w !== 'number') {
    throw new RangeError(`${what} needs NCHW input with a static size, got [${x.shape.join(', ')}]`);
  }
  return [h, w];
}

// ---- layers ----

/** x·Wᵀ + b with W [out, in] as stored: Gemm (transB) on 2-D input, else flattened to 2-D and back. */
export function linear(g: OnnxGraph, x: OnnxValue, weight: OnnxValue, bias: OnnxValue | null): OnnxValue {
  const gemm = (v: OnnxValue): OnnxValue => g.op('Gemm', [v, weight, bias], { transB: 1 });
  if (x.shape.length === 2) return gemm(x);
  // Gemm keeps the weight a direct input (what quantizers and fp16 converters look for).
  const lead = x.shape.slice(0, -1);
  const y = gemm(g.reshape(x, [mulDims(lead), x.shape[x.shape.length - 1]!]));
  return g.reshape(y, [...lead, weight.shape[0]!]);
}

export interface Conv2dOptions { stride?: Pair; padding?: Pair | 'same' | 'valid'; dilation?: Pair; groups?: number }

/** ONNX pads [top, left, bottom, right] for PyTorch's padding; 'same' puts the odd pixel at the end, as PyTorch does. */
function convPads(padding: Pair | 'same' | 'valid', kernel: [number, number], dilation: [number, number]): number[] {
  if (padding === 'valid') return [0, 0, 0, 0];
  if (padding === 'same') {
    const total = kernel.map((k, i) => dilation[i]! * (k - 1));
    const begin = total.map((t) => Math.floor(t / 2));
    return [...begin, ...total.map((t, i) => t - begin[i]!)];
  }
  const [ph, pw] = pair(padding);
  return [ph, pw, ph, pw];
}

export function conv2d(g: OnnxGraph, x: OnnxValue, weight: OnnxValue, bias: OnnxValue | null, o: Conv2dOptions = {}): OnnxValue {
  const kernel = weight.shape.slice(2) as [number, number];
  const dilation = pair(o.dilation ?? 1);
  return g.op('Conv', [x, weight, bias], {
    kernel_shape: kernel, strides: pair(o.stride ?? 1), pads: convPads(o.padding ?? 0, kernel, dilation), dilations: dilation, group: o.groups ?? 1,
  });
}

export interface ConvTranspose2dOptions { stride?: Pair; padding?: Pair; outputPadding?: Pair; groups?: number; dilation?: Pair }

export function convTranspose2d(g: OnnxGraph, x: OnnxValue, weight: OnnxValue, bias: OnnxValue | null, o: ConvTranspose2dOptions = {}): OnnxValue {
  const [ph, pw] = pair(o.padding ?? 0);
  return g.op('ConvTranspose', [x, weight, bias], {
    kernel_shape: weight.shape.slice(2) as number[], strides: pair(o.stride ?? 1), pads: [ph, pw, ph, pw],
    output_padding: pair(o.outputPadding ?? 0), dilations: pair(o.dilation ?? 1), group: o.groups ?? 1,
  });
}

export interface Pool2dOptions { stride?: Pair | []; padding?: Pair; dilation?: Pair; ceilMode?: boolean }

/** PyTorch's pooling windows as ONNX attributes (an empty or absent stride means stride = kernel). */
function poolAttrs(kernel: Pair, o: Pool2dOptions): Record<string, number[] | number> {
  const k = pair(kernel);
  const s = o.stride === undefined || (Array.isArray(o.stride) && o.stride.length === 0) ? k : pair(o.stride as Pair);
  const [ph, pw] = pair(o.padding ?? 0);
  return { kernel_shape: k, strides: s, pads: [ph, pw, ph, pw], ceil_mode: o.ceilMode ? 1 : 0 };
}

export function maxPool2d(g: OnnxGraph, x: OnnxValue, kernel: Pair, o: Pool2dOptions = {}): OnnxValue {
  return g.op('MaxPool', [x], { ...poolAttrs(kernel, o), dilations: pair(o.dilation ?? 1) });
}

export function avgPool2d(g: OnnxGraph, x: OnnxValue, kernel: Pair, o: Omit<Pool2dOptions, 'dilation'> & { countIncludePad?: boolean; divisorOverride?: number } = {}): OnnxValue {
  if (o.divisorOverride !== undefined) throw new RangeError('AvgPool2d with divisorOverride has no ONNX equivalent');
  return g.op('AveragePool', [x], { ...poolAttrs(kernel, o), count_include_pad: o.countIncludePad ?? true ? 1 : 0 });
}

/** Row i averages [⌊i·n/m⌋, ⌈(i+1)·n/m⌉): PyTorch's adaptive windows as an [m, n] matrix. */
function poolMatrix(n: number, m: number): number[] {
  const rows: number[] = [];
  for (let i = 0; i < m; i++) {
    const [a, b] = [Math.floor((i * n) / m), Math.ceil(((i + 1) * n) / m)];
    for (let j = 0; j < n; j++) rows.push(j >= a && j < b ? 1 / (b - a) : 0);
  }
  return rows;
}

const transpose2 = (a: number[], rows: number, cols: number): number[] => Array.from({ length: a.length }, (_, i) => a[(i % rows) * cols + Math.floor(i / rows)]!);

/**
 * Adaptive average pooling to `size`: GlobalAveragePool for 1×1, AveragePool when the input
 * divides evenly, otherwise P_h · X · P_wᵀ with PyTorch's (overlapping) windows as matrices.
 */
export function adaptiveAvgPool2d(g: OnnxGraph, x: OnnxValue, size: Pair): OnnxValue {
  const [h, w] = spatial(x, 'AdaptiveAvgPool2d');
  const [oh, ow] = pair(size);
  if (oh === 1 && ow === 1) return g.op('GlobalAveragePool', [x]);
  if (h % oh === 0 && w % ow === 0) {
    const k = [h / oh, w / ow];
    return g.op('AveragePool', [x], { kernel_shape: k, strides: k });
  }
  const byW = g.op('MatMul', [x, g.floats(transpose2(poolMatrix(w, ow), ow, w), [w, ow], 'pool_w')]);
  return g.op('MatMul', [g.floats(poolMatrix(h, oh), [oh, h], 'pool_h'), byW]);
}

/** Batch norm with running statistics (eval mode). Absent affine parameters become ones and zeros. */
export function batchNorm(g: OnnxGraph, x: OnnxValue, mean: OnnxValue, variance: OnnxValue, weight: OnnxValue | null, bias: OnnxValue | null, eps: number): OnnxValue {
  const c = mean.shape[0] as number;
  const scale = weight ?? g.floats(new Array<number>(c).fill(1), [c], 'ones');
  const shift = bias ?? g.floats(new Array<number>(c).fill(0), [c], 'zeros');
  return g.op('BatchNormalization', [x, scale, shift, mean, variance], { epsilon: { float: eps } });
}

/** Mean and variance over `axes`, then (x - mean) / sqrt(var + eps): the normalisations' common core. */
function normalize(g: OnnxGraph, x: OnnxValue, axes: number[], eps: number): OnnxValue {
  const centred = g.op('Sub', [x, g.op('ReduceMean', [x], { axes, keepdims: 1 })]);
  const variance = g.op('ReduceMean', [g.op('Mul', [centred, centred])], { axes, keepdims: 1 });
  return g.op('Div', [centred, g.op('Sqrt', [g.op('Add', [variance, g.scalar(eps)])])]);
}

/** Layer norm over the trailing dims: LayerNormalization from opset 17, primitives below. */
export function layerNorm(g: OnnxGraph, x: OnnxValue, normalizedShape: readonly number[], weight: OnnxValue | null, bias: OnnxValue | null, eps: number): OnnxValue {
  const n = normalizedShape.length;
  if (g.opset >= 17) {
    const scale = weight ?? g.floats(new Array<number>(normalizedShape.reduce((a, b) => a * b, 1)).fill(1), normalizedShape, 'ones');
    return g.op('LayerNormalization', [x, scale, bias], { axis: -n, epsilon: { float: eps } });
  }
  let y = normalize(g, x, normalizedShape.map((_, i) => x.shape.length - n + i), eps);
  if (weight) y = g.op('Mul', [y, weight]);
  return bias ? g.op('Add', [y, bias]) : y;
}

/** Group norm: statistics over each group of channels (and all positions), then per-channel affine. */
export function groupNorm(g: OnnxGraph, x: OnnxValue, groups: number, weight: OnnxValue | null, bias: OnnxValue | null, eps: number): OnnxValue {
  const [n, c, ...rest] = x.shape;
  const grouped = g.reshape(x, [n!, groups, mulDims([(c as number) / groups, ...rest])]);
  let y = g.reshape(normalize(g, grouped, [2], eps), x.shape);
  const perChannel = (p: OnnxValue): OnnxValue => g.reshape(p, [c!, ...rest.map(() => 1)]);
  if (weight) y = g.op('Mul', [y, perChannel(weight)]);
  return bias ? g.op('Add', [y, perChannel(bias)]) : y;
}

/** Rows of `weight` at integer `indices`. */
export const embedding = (g: OnnxGraph, indices: OnnxValue, weight: OnnxValue): OnnxValue => g.op('Gather', [weight, indices], { axis: 0 });

export interface InterpolateOptions { mode?: 'nearest' | 'bilinear'; alignCorners?: boolean }

/**
 * F.interpolate to a fixed [h, w]: Resize with PyTorch's sampling. Bilinear without aligned corners
 * is 'half_pixel' (PyTorch clamps source positions below 0, as ORT does); nearest is PyTorch's
 * floor(dst · in/out), i.e. 'asymmetric' with 'floor'. `sizes` is a constant when the batch is
 * fixed; a symbolic batch takes N and C from the input's Shape at run time.
 */
export function interpolate(g: OnnxGraph, x: OnnxValue, size: Pair, o: InterpolateOptions = {}): OnnxValue {
  const [n, c] = x.shape;
  const [h, w] = pair(size);
  const mode = o.mode ?? 'nearest';
  const attrs: Record<string, string> = mode === 'nearest'
    ? { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' }
    : { mode: 'linear', coordinate_transformation_mode: o.alignCorners ? 'align_corners' : 'half_pixel' };
  if (typeof n !== 'number' || typeof c !== 'number') {
    const shape = g.op('Shape', [x]);
    const nc = g.op('Slice', [shape, g.ints([0]), g.ints([2])]);
    const sizes = g.op('Concat', [nc, g.ints([h, w])], { axis: 0 }, { shape: [4] });
    return g.op('Resize', [x, null, null, sizes], attrs, { shape: [n!, c!, h, w] });
  }
  return g.op('Resize', [x, null, null, g.ints([n, c, h, w])], attrs);
}

// ---- activations ----
export const relu = (g: OnnxGraph, x: OnnxValue): OnnxValue => g.op('Relu', [x]);
export const relu6 = (g: OnnxGraph, x: OnnxValue): OnnxValue => g.op('Clip', [x, g.scalar(0), g.scalar(6)]);
export const leakyRelu = (g: OnnxGraph, x: OnnxValue, slope = 0.01): OnnxValue => g.op('LeakyRelu', [x], { alpha: { float: slope } });
export const sigmoid = (g: OnnxGraph, x: OnnxValue): OnnxValue => g.op('Sigmoid', [x]);
export const tanh = (g: OnnxGraph, x: OnnxValue): OnnxValue => g.op('Tanh', [x]);
export const silu = (g: OnnxGraph, x: OnnxValue): OnnxValue => g.op('Mul', [x, g.op('Sigmoid', [x])]);
export const mish = (g: OnnxGraph, x: OnnxValue): OnnxValue => g.op('Mul', [x, g.op('Tanh', [g.op('Softplus', [x])])]);
/** relu6(x + 3) / 6, which is ONNX's HardSigmoid with alpha 1/6 and beta 1/2. */
export const hardsigmoid = (g: OnnxGraph, x: OnnxValue): OnnxValue => g.op('HardSigmoid', [x], { alpha: { float: 1 / 6 }, beta: { float: 0.5 } });
/** HardSwish (opset 14), or x · hardsigmoid(x) before it. */
export const hardswish = (g: OnnxGraph, x: OnnxValue): OnnxValue =>
  (g.opset >= 14 ? g.op('HardSwish', [x]) : g.op('Mul', [x, hardsigmoid(g, x)]));
export const softmax = (g: OnnxGraph, x: OnnxValue, dim: number): OnnxValue => g.op('Softmax', [x], { axis: dim });

/** GELU exactly (0.5·x·(1 + erf(x/√2))) or with PyTorch's tanh approximation. */
export function gelu(g: OnnxGraph, x: OnnxValue, approximate: 'none' | 'tanh' = 'none'): OnnxValue {
  let inner: OnnxValue;
  if (approximate === 'tanh') {
    const cube = g.op('Mul', [g.op('Mul', [x, x]), x]);
    const poly = g.op('Add', [x, g.op('Mul', [cube, g.scalar(0.044715)])]);
    inner = g.op('Tanh', [g.op('Mul', [poly, g.scalar(Math.sqrt(2 / Math.PI))])]);
  } else {
    inner = g.op('Erf', [g.op('Mul', [x, g.scalar(Math.SQRT1_2)])]);
  }
  return g.op('Mul', [g.op('Mul', [x, g.op('Add', [inner, g.scalar(1)])]), g.scalar(0.5)]);
}

// ---- shapes and attention ----

/** Swaps two axes (Transpose with the matching permutation). */
export function transpose(g: OnnxGraph, x: OnnxValue, a: number, b: number): OnnxValue {
  const r = x.shape.length;
  const perm = x.shape.map((_, i) => i);
  const [i, j] = [a < 0 ? a + r : a, b < 0 ? b + r : b];
  [perm[i], perm[j]] = [perm[j]!, perm[i]!];
  return g.op('Transpose', [x], { perm });
}

/** torch.flatten(x, start, end) as a Reshape that keeps a dynamic batch dynamic. */
export function flatten(g: OnnxGraph, x: OnnxValue, start = 0, end = -1): OnnxValue {
  const r = x.shape.length;
  const [s, e] = [start < 0 ? start + r : start, end < 0 ? end + r : end];
  if (s === 1 && e === r - 1) return g.op('Flatten', [x], { axis: 1 });
  const target: Dim[] = [...x.shape.slice(0, s), mulDims(x.shape.slice(s, e + 1)), ...x.shape.slice(e + 1)];
  return g.reshape(x, target);
}

/** softmax(q·kᵀ·scale)·v over the last two axes (F.scaledDotProductAttention without masks). */
export function attention(g: OnnxGraph, q: OnnxValue, k: OnnxValue, v: OnnxValue, scale = 1 / Math.sqrt(q.shape[q.shape.length - 1] as number)): OnnxValue {
  const scores = g.op('Mul', [g.op('MatMul', [q, transpose(g, k, -2, -1)]), g.scalar(scale)]);
  return g.op('MatMul', [g.op('Softmax', [scores], { axis: -1 }), v]);
}

/** Index `i` of axis `axis`, dropping the axis (x.select(axis, i)). */
export const select = (g: OnnxGraph, x: OnnxValue, axis: number, i: number): OnnxValue => g.op('Gather', [x, g.scalarInt(i)], { axis });
