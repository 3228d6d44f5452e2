/**
 * Static shapes for the export graph builder. A dimension is a number or a symbol (`'N'`, the
 * dynamic batch); products of symbols stay symbolic (`'N*65'`). Each ONNX operator Kestrel emits
 * has a rule here giving its output shape from its inputs' shapes and attributes, so emitters can
 * choose ops by rank and size (Gemm vs MatMul, AveragePool vs a pooling matrix) and a mistake shows
 * up at export time rather than as a runtime error in a deployed model.
 */
export type Dim = number | string;

/** Output shape of a node, from its inputs' shapes, attributes, and the values of constant int inputs. */
export interface ShapeContext {
  shapes: readonly (readonly Dim[] | null)[];
  attrs: Readonly<Record<string, unknown>>;
  /** The content of input i when it is a constant int64 tensor (shapes, axes), else undefined. */
  known(i: number): number[] | undefined;
}

interface Term { k: number; syms: string[] }

function term(d: Dim): Term {
  if (typeof d === 'number') return { k: d, syms: [] };
  const t: Term = { k: 1, syms: [] };
  for (const part of d.split('*')) {
    const n = Number(part);
    if (Number.isInteger(n) && part !== '') t.k *= n;
    else t.syms.push(part);
  }
  return t;
}

function dimOf(t: Term): Dim {
  if (t.syms.length === 0) return t.k;
  const syms = [...t.syms].sort().join('*');
  return t.k === 1 ? syms : `${syms}*${t.k}`;
}

/** The product of dimensions, symbolic when any is. */
export function mulDims(dims: readonly Dim[]): Dim {
  const t: Term = { k: 1, syms: [] };
  for (const d of dims) {
    const x = term(d);
    t.k *= x.k;
    t.syms.push(...x.syms);
  }
  return dimOf(t);
}

/** a / b for dimension products, or undefined when b does not divide a. */
function divDims(a: Dim, b: Dim): Dim | undefined {
  const [x, y] = [term(a), term(b)];
  if (y.k === 0 || x.k % y.k !== 0) return undefined;
  const syms = [...x.syms];
  for (const s of y.syms) {
    const i = syms.indexOf(s);
    if (i < 0) return undefined;
    syms.splice(i, 1);
  }
  return dimOf({ k: x.k / y.k, syms });
}

const fmt = (s: readonly Dim[]): string => `[${s.join(', ')}]`;

function axis(a: number, rank: number, what: string): number {
  const r = a < 0 ? a + rank : a;
  if (r < 0 || r >= rank) throw new RangeError(`${what}: axis ${a} is out of range for rank ${rank}`);
  return r;
}

/** Numpy broadcasting of two shapes (symbols must match or meet a 1). */
export function broadcast(a: readonly Dim[], b: readonly Dim[], what = 'broadcast'): Dim[] {
  const n = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1;
    const y = b[b.length - n + i] ?? 1;
    if (x === y || y === 1) out.push(x);
    else if (x === 1) out.push(y);
    else throw new RangeError(`${what}: shapes ${fmt(a)} and ${fmt(b)} do not broadcast`);
  }
  return out;
}

const ints = (v: unknown, fallback: number[]): number[] => (Array.isArray(v) ? (v as number[]) : fallback);
const int = (v: unknown, fallback: number): number => (typeof v === 'number' ? v : fallback);

/** Spatial output sizes of Conv, MaxPool and AveragePool (floor, or ceil with ceil_mode as PyTorch counts it). */
function windowed(x: readonly Dim[], kernel: number[], c: ShapeContext, op: string): Dim[] {
  const n = kernel.length;
  const strides = ints(c.attrs.strides, Array(n).fill(1));
  const pads = ints(c.attrs.pads, Array(2 * n).fill(0));
  const dil = ints(c.attrs.dilations, Array(n).fill(1));
  const ceil = int(c.attrs.ceil_mode, 0) === 1;
  return kernel.map((k, i) => {
    const size = x[2 + i];
    if (typeof size !== 'number') throw new RangeError(`${op}: spatial size must be static, got ${fmt(x)}`);
    const span = size + pads[i]! + pads[n + i]! - dil[i]! * (k - 1) - 1;
    let out = (ceil ? Math.ceil(span / strides[i]!) : Math.floor(span / strides[i]!)) + 1;
    // PyTorch (and ONNX from opset 19) drop a last window that would start in the right padding.
    if (ceil && (out - 1) * strides[i]! >= size + pads[i]!) out--;
    if (out < 1) throw new RangeError(`${op}: input ${fmt(x)} is too small for kernel ${k}`);
    return out;
  });
}

const same = (c: ShapeContext): Dim[] => [...c.shapes[0]!];
const elementwise = (c: ShapeContext): Dim[] =>
  c.shapes.filter((s): s is readonly Dim[] => s !== null).reduce<Dim[]>((a, b) => broadcast(a, b), []);

function matmul(c: ShapeContext): Dim[] {
  const [a, b] = [c.shapes[0]!, c.shapes[1]!];
  if (a.length < 2 || b.length < 2) throw new RangeError(`MatMul: rank-1 operands are not used here, got ${fmt(a)} and ${fmt(b)}`);
  const [ka, kb] = [a[a.length - 1]!, b[b.length - 2]!];
  if (typeof ka === 'number' && typeof kb === 'number' && ka !== kb) throw new RangeError(`MatMul: ${fmt(a)} × ${fmt(b)} inner sizes differ`);
  return [...broadcast(a.slice(0, -2), b.slice(0, -2), 'MatMul'), a[a.length - 2]!, b[b.length - 1]!];
}

function reshape(c: ShapeContext): Dim[] {
  const x = c.shapes[0]!;
  const target = c.known(1);
  if (target === undefined) throw new TypeError('Reshape: the target shape must be a constant');
  const out: Dim[] = target.map((d, i) => (d === 0 ? x[i]! : d));
  const free = out.indexOf(-1);
  if (free >= 0) {
    const rest = divDims(mulDims(x), mulDims(out.filter((_, i) => i !== free)));
    if (rest === undefined) throw new RangeError(`Reshape: ${fmt(x)} cannot be reshaped to ${fmt(target)}`);
    out[free] = rest;
  } else if (mulDims(out) !== mulDims(x)) {
    throw new RangeError(`Reshape: ${fmt(x)} has a different size than ${fmt(out)}`);
  }
  return out;
}

function slice(c: ShapeContext): Dim[] {
  const x = [...c.shapes[0]!];
  const [starts, ends] = [c.known(1), c.known(2)];
  if (!starts || !ends) throw new TypeError('Slice: starts and ends must be constants');
  const axes = c.known(3) ?? starts.map((_, i) => i);
  const steps = c.known(4) ?? starts.map(() => 1);
  axes.forEach((a, i) => {
    const ax = axis(a, x.length, 'Slice');
    const size = x[ax]!;
    if (typeof size !== 'number') {
      if (starts[i] === 0 && ends[i]! >= 2 ** 31 - 1 && steps[i] === 1) return;
      throw new RangeError(`Slice: cannot slice symbolic dimension ${size}`);
    }
    if (steps[i] !== 1) throw new RangeError('Slice: only step 1 is used here');
    const clamp = (v: number): number => Math.min(Math.max(v < 0 ? v + size : v, 0), size);
    x[ax] = Math.max(0, clamp(ends[i]!) - clamp(starts[i]!));
  });
  return x;
}

function reduce(c: ShapeContext): Dim[] {
  const x = c.shapes[0]!;
  const axes = ints(c.attrs.axes, x.map((_, i) => i)).map((a) => axis(a, x.length, 'ReduceMean'));
  const keep = int(c.attrs.keepdims, 1) === 1;
  return x.flatMap((d, i) => (axes.includes(i) ? (keep ? [1] : []) : [d]));
}

/** Output-shape rules by operator type. */
export const SHAPE_RULES: Record<string, (c: ShapeContext) => Dim[]> = {
  Identity: same, Relu: same, Sigmoid: same, Tanh: same, Erf: same, Sqrt: same, Neg: same, Exp: same, Abs: same,
  Reciprocal: same, Softplus: same, LeakyRelu: same, HardSigmoid: same, HardSwish: same, Clip: same, Softmax: same,
  LogSoftmax: same, Cast: same, BatchNormalization: same, LayerNormalization: same,
  Floor: same, Not: same, Elu: same,
  Equal: elementwise, Greater: elementwise, Less: elementwise, Mod: elementwise, Max: elementwise, Min: elementwise, Sum: elementwise, PRelu: elementwise,
  Add: elementwise, Sub: elementwise, Mul: elementwise, Div: elementwise, Pow: elementwise, Where: elementwise,
  MatMul: matmul,
  Gemm(c) {
    const [a, b] = [c.shapes[0]!, c.shapes[1]!];
    const [ta, tb] = [int(c.attrs.transA, 0) === 1, int(c.attrs.transB, 0) === 1];
    const [ka, kb] = [ta ? a[0]! : a[1]!, tb ? b[1]! : b[0]!];
    if (typeof ka === 'number' && typeof kb === 'number' && ka !== kb) {
      throw new RangeError(`Gemm: ${fmt(a)}${ta ? 'ᵀ' : ''} × ${fmt(b)}${tb ? 'ᵀ' : ''} inner sizes differ`);
    }
    return [ta ? a[1]! : a[0]!, tb ? b[0]! : b[1]!];
  },
  Conv(c) {
    const [x, w] = [c.shapes[0]!, c.shapes[1]!];
    return [x[0]!, w[0]!, ...windowed(x, ints(c.attrs.kernel_shape, w.slice(2) as number[]), c, 'Conv')];
  },
  ConvTranspose(c) {
    const [x, w] = [c.shapes[0]!, c.shapes[1]!];
    const kernel = ints(c.attrs.kernel_shape, w.slice(2) as number[]);
    const n = kernel.length;
    const s = ints(c.attrs.strides, Array(n).fill(1));
    const p = ints(c.attrs.pads, Array(2 * n).fill(0));
    const d = ints(c.attrs.dilations, Array(n).fill(1));
    const op = ints(c.attrs.output_padding, Array(n).fill(0));
    const spatial = kernel.map((k, i) => s[i]! * ((x[2 + i] as number) - 1) + op[i]! + (k - 1) * d[i]! + 1 - p[i]! - p[n + i]!);
    return [x[0]!, (w[1] as number) * int(c.attrs.group, 1), ...spatial];
  },
  MaxPool: (c) => [c.shapes[0]![0]!, c.shapes[0]![1]!, ...windowed(c.shapes[0]!, ints(c.attrs.kernel_shape, []), c, 'MaxPool')],
  AveragePool: (c) => [c.shapes[0]![0]!, c.shapes[0]![1]!, ...windowed(c.shapes[0]!, ints(c.attrs.kernel_shape, []), c, 'AveragePool')],
  GlobalAveragePool: (c) => c.shapes[0]!.map((d, i) => (i < 2 ? d : 1)),
  Reshape: reshape,
  Flatten(c) {
    const x = c.shapes[0]!;
    const a = int(c.attrs.axis, 1);
    const ax = a < 0 ? a + x.length : a;
    return [mulDims(x.slice(0, ax)), mulDims(x.slice(ax))];
  },
  Transpose(c) {
    const x = c.shapes[0]!;
    const perm = ints(c.attrs.perm, x.map((_, i) => x.length - 1 - i));
    return perm.map((p) => x[p]!);
  },
  Resize(c) {
    const sizes = c.known(3);
    if (!sizes) throw new TypeError('Resize: give the output size as a constant `sizes` input');
    if (sizes.length !== c.shapes[0]!.length) throw new RangeError(`Resize: ${sizes.length} sizes for a rank-${c.shapes[0]!.length} input`);
    // the batch and channel entries repeat the input's, which may be symbolic
    return sizes.map((s, i) => (i < 2 ? c.shapes[0]![i]! : s));
  },
  Concat(c) {
    const xs = c.shapes as readonly Dim[][];
    const ax = axis(int(c.attrs.axis, 0), xs[0]!.length, 'Concat');
    const out = [...xs[0]!];
    let total = 0;
    for (const s of xs) {
      if (typeof s[ax] !== 'number') throw new RangeError('Concat: cannot join along a symbolic dimension');
      total += s[ax] as number;
    }
    out[ax] = total;
    return out;
  },
  Gather(c) {
    const [x, idx] = [c.shapes[0]!, c.shapes[1]!];
    const ax = axis(int(c.attrs.axis, 0), x.length, 'Gather');
    return [...x.slice(0, ax), ...idx, ...x.slice(ax + 1)];
  },
  Shape: (c) => [c.shapes[0]!.length],
  Pad(c) {
    const x = c.shapes[0]!;
    const pads = c.known(1);
    if (!pads) throw new TypeError('Pad: the pads must be a constant');
    return x.map((d, i) => (typeof d === 'number' ? d + pads[i]! + pads[x.length + i]! : d));
  },
  Slice: slice,
  Unsqueeze(c) {
    const out = [...c.shapes[0]!];
    const axes = c.known(1);
    if (!axes) throw new TypeError('Unsqueeze: axes must be a constant');
    const rank = out.length + axes.length;
    for (const a of axes.map((a) => axis(a, rank, 'Unsqueeze')).sort((p, q) => p - q)) out.splice(a, 0, 1);
    return out;
  },
  Squeeze(c) {
    const x = c.shapes[0]!;
    const axes = c.known(1)?.map((a) => axis(a, x.length, 'Squeeze')) ?? x.flatMap((d, i) => (d === 1 ? [i] : []));
    return x.filter((_, i) => !axes.includes(i));
  },
  ReduceMean: reduce,
  Expand(c) {
    const target = c.known(1);
    if (!target) throw new TypeError('Expand: give the output shape (the target is computed at run time)');
    return broadcast(c.shapes[0]!, target, 'Expand');
  },
};
