/**
 * The Tensor: a typed view over one native at::Tensor. Methods forward to ATen operators through
 * the addon's boxed dispatcher, so autograd, broadcasting and type promotion are libtorch's own.
 */
import { native, type OpHandle, type TensorHandle } from '../native/index.js';
import { checkDevice, type Device } from './device.js';
import { DTYPES, dtypeCode, dtypeOf, viewAs, type DataArray, type DType } from './dtype.js';
import { track, untrack } from './scope.js';

const ops = new Map<string, OpHandle>();

/** The handle of `aten::name.overload`, looked up once. `name` is written `add.Tensor` or `relu`. */
export function op(name: string): OpHandle {
  let h = ops.get(name);
  if (h === undefined) {
    const dot = name.indexOf('.');
    h = dot < 0 ? native().op(`aten::${name}`, '') : native().op(`aten::${name.slice(0, dot)}`, name.slice(dot + 1));
    ops.set(name, h);
  }
  return h;
}

function arg(a: unknown): unknown {
  if (a instanceof Tensor) return a.handle;
  if (Array.isArray(a) && a.length > 0 && (a[0] instanceof Tensor || a[0] === null)) {
    return a.map((x) => (x instanceof Tensor ? x.handle : x));
  }
  return a;
}

/** Calls an ATen operator that returns one tensor. */
export function call(name: string, ...args: unknown[]): Tensor {
  return new Tensor(native().call(op(name), ...args.map(arg)) as TensorHandle);
}

/** Calls an ATen operator that returns several tensors (a tuple or a list). */
export function callMany(name: string, ...args: unknown[]): Tensor[] {
  return (native().call(op(name), ...args.map(arg)) as TensorHandle[]).map((h) => new Tensor(h));
}

/** Calls an ATen operator for its effect (in-place ops), dropping what it returns. */
export function callVoid(name: string, ...args: unknown[]): void {
  native().callVoid(op(name), ...args.map(arg));
}

const finalizer = new FinalizationRegistry<TensorHandle>((h) => {
  gcCollected++;
  native().dispose(h);
});
let gcCollected = 0;

/** Tensors that were freed by the garbage collector rather than dispose()/tidy(): a leak signal. */
export const collectedByGc = (): number => gcCollected;

export type Scalar = number | boolean;
export type TensorOrScalar = Tensor | Scalar;

export class Tensor {
  #handle: TensorHandle | null;
  #gcBackstop = false;

  /**
   * Wraps a native handle; the new tensor joins the current scope. Outside any scope (or once it
   * leaves its last one) it is registered with the GC backstop that frees forgotten tensors.
   */
  constructor(handle: TensorHandle) {
    this.#handle = handle;
    if (!track(this)) this.unscoped();
  }

  /** @internal See Disposable.unscoped. */
  unscoped(): void {
    if (this.#gcBackstop || this.#handle === null) return;
    finalizer.register(this, this.#handle, this);
    this.#gcBackstop = true;
  }

  get handle(): TensorHandle {
    if (this.#handle === null) throw new Error('tensor was disposed');
    return this.#handle;
  }

  get isDisposed(): boolean {
    return this.#handle === null;
  }

  /** Frees the native tensor now. Safe to call twice. */
  dispose(): void {
    const h = this.#handle;
    if (h === null) return;
    this.#handle = null;
    if (this.#gcBackstop) finalizer.unregister(this);
    untrack(this);
    native().dispose(h);
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  // ---- metadata ----
  get shape(): number[] { return native().shape(this.handle); }
  get dtype(): DType { return dtypeOf(native().dtype(this.handle)); }
  get device(): Device { return native().device(this.handle) as Device; }
  get ndim(): number { return this.shape.length; }
  get strides(): number[] { return native().strides(this.handle); }
  numel(): number { return native().numel(this.handle); }
  size(dim: number): number { const s = this.shape; return s[dim < 0 ? s.length + dim : dim]!; }
  isContiguous(): boolean { return native().isContiguous(this.handle); }
  toString(): string { return `Tensor(shape=[${this.shape.join(', ')}], dtype=${this.dtype}, device=${this.device})`; }

  // ---- reading back ----
  /** The elements as a typed array (a copy; float16/bfloat16 widened to Float32Array, int64 as BigInt64Array). */
  dataSync(): DataArray {
    const d = this.dtype;
    if (d === 'float16' || d === 'bfloat16') {
      const wide = this.to('float32');
      try { return viewAs('float32', native().toBuffer(wide.handle)); } finally { wide.dispose(); }
    }
    return viewAs(d, native().toBuffer(this.handle));
  }
  /** The elements as plain numbers, flat and row-major. */
  toArray(): number[] {
    const data = this.dataSync();
    return data instanceof BigInt64Array ? Array.from(data, Number) : Array.from(data as ArrayLike<number>);
  }
  /** The value of a one-element tensor. */
  item(): number { const v = native().item(this.handle); return typeof v === 'boolean' ? Number(v) : v; }

  // ---- conversion ----
  /** Converts to a dtype or moves to a device (a copy only where needed). */
  to(target: DType | Device, opts: { copy?: boolean } = {}): Tensor {
    if (!(target in DTYPES) && !isDeviceLike(target)) throw new TypeError(`to(): '${target}' is neither a dtype (${Object.keys(DTYPES).join(', ')}) nor a device (cpu, cuda, cuda:N)`);
    if (isDeviceLike(target)) return call('to.device', this, checkDevice(target), dtypeCode(this.dtype), false, opts.copy ?? false);
    return call('to.dtype', this, dtypeCode(target as DType), false, opts.copy ?? false);
  }
  float(): Tensor { return this.to('float32'); }
  long(): Tensor { return this.to('int64'); }
  cpu(): Tensor { return this.to('cpu'); }
  clone(): Tensor { return call('clone', this); }
  contiguous(channelsLast = false): Tensor { return call('contiguous', this, channelsLast ? 2 : 0); }

  // ---- autograd ----
  get requiresGrad(): boolean { return native().requiresGrad(this.handle); }
  /** Marks a leaf tensor as needing gradients; returns this. */
  requiresGrad_(on = true): this { native().setRequiresGrad(this.handle, on); return this; }
  /** The accumulated gradient, or null. A new handle each time: dispose it or read it inside tidy(). */
  get grad(): Tensor | null { const g = native().grad(this.handle); return g === null ? null : new Tensor(g); }
  set grad(g: Tensor | null) { native().setGrad(this.handle, g === null ? null : g.handle); }
  get isLeaf(): boolean { return native().isLeaf(this.handle); }
  get gradFn(): string | null { return native().gradFn(this.handle); }
  /** Backpropagates from this tensor (a scalar unless `grad` is given), accumulating into leaves' `.grad`. */
  backward(grad?: Tensor, opts: { retainGraph?: boolean; createGraph?: boolean } = {}): void {
    native().backward(this.handle, grad?.handle ?? null, opts.retainGraph ?? null, opts.createGraph ?? false);
  }
  /** Replaces this tensor's data (storage, dtype, device) in place, keeping its identity: PyTorch's `t.data = src`. */
  setData(src: Tensor): this { native().setData(this.handle, src.handle); return this; }
  detach(): Tensor { return call('detach', this); }
  detach_(): this { callVoid('detach_', this); return this; }

  // ---- shape and indexing ----
  reshape(...shape: number[] | [number[]]): Tensor { return call('reshape', this, flatShape(shape)); }
  view(...shape: number[] | [number[]]): Tensor { return call('view', this, flatShape(shape)); }
  permute(...dims: number[] | [number[]]): Tensor { return call('permute', this, flatShape(dims)); }
  transpose(d0: number, d1: number): Tensor { return call('transpose.int', this, d0, d1); }
  t(): Tensor { return call('t', this); }
  flatten(start = 0, end = -1): Tensor { return call('flatten.using_ints', this, start, end); }
  squeeze(dim?: number): Tensor { return dim === undefined ? call('squeeze', this) : call('squeeze.dim', this, dim); }
  unsqueeze(dim: number): Tensor { return call('unsqueeze', this, dim); }
  expand(...shape: number[] | [number[]]): Tensor { return call('expand', this, flatShape(shape)); }
  expandAs(other: Tensor): Tensor { return call('expand_as', this, other); }
  repeat(...times: number[] | [number[]]): Tensor { return call('repeat', this, flatShape(times)); }
  flip(...dims: number[] | [number[]]): Tensor { return call('flip', this, flatShape(dims)); }
  /** Elements `start:end:step` along `dim` (a view), like Python's `x[:, start:end:step]`. */
  slice(dim: number, start?: number, end?: number, step = 1): Tensor { return call('slice.Tensor', this, dim, start ?? null, end ?? null, step); }
  narrow(dim: number, start: number, length: number): Tensor { return call('narrow', this, dim, start, length); }
  select(dim: number, index: number): Tensor { return call('select.int', this, dim, index); }
  split(sizeOrSections: number | number[], dim = 0): Tensor[] {
    return typeof sizeOrSections === 'number' ? callMany('split.Tensor', this, sizeOrSections, dim) : callMany('split_with_sizes', this, sizeOrSections, dim);
  }
  chunk(chunks: number, dim = 0): Tensor[] { return callMany('chunk', this, chunks, dim); }
  unbind(dim = 0): Tensor[] { return callMany('unbind.int', this, dim); }
  indexSelect(dim: number, index: Tensor): Tensor { return call('index_select', this, dim, index); }
  /** Advanced indexing: one index tensor (or null for `:`) per leading dimension. */
  index(indices: (Tensor | null)[]): Tensor { return call('index.Tensor', this, indices); }
  indexPut_(indices: (Tensor | null)[], values: Tensor, accumulate = false): this { callVoid('index_put_', this, indices, values, accumulate); return this; }
  gather(dim: number, index: Tensor): Tensor { return call('gather', this, dim, index); }
  scatter(dim: number, index: Tensor, src: TensorOrScalar): Tensor {
    return src instanceof Tensor ? call('scatter.src', this, dim, index, src) : call('scatter.value', this, dim, index, src);
  }
  scatterAdd(dim: number, index: Tensor, src: Tensor): Tensor { return call('scatter_add', this, dim, index, src); }
  maskedFill(mask: Tensor, value: TensorOrScalar): Tensor {
    return value instanceof Tensor ? call('masked_fill.Tensor', this, mask, value) : call('masked_fill.Scalar', this, mask, value);
  }
  maskedSelect(mask: Tensor): Tensor { return call('masked_select', this, mask); }
  /** Indices of non-zero elements, shape [n, ndim]. */
  nonzero(): Tensor { return call('nonzero', this); }

  // ---- arithmetic (broadcasting) ----
  add(o: TensorOrScalar, alpha = 1): Tensor { return o instanceof Tensor ? call('add.Tensor', this, o, alpha) : call('add.Scalar', this, o, alpha); }
  sub(o: TensorOrScalar, alpha = 1): Tensor { return o instanceof Tensor ? call('sub.Tensor', this, o, alpha) : call('sub.Scalar', this, o, alpha); }
  mul(o: TensorOrScalar): Tensor { return o instanceof Tensor ? call('mul.Tensor', this, o) : call('mul.Scalar', this, o); }
  div(o: TensorOrScalar, roundingMode?: 'trunc' | 'floor'): Tensor {
    if (roundingMode) return o instanceof Tensor ? call('div.Tensor_mode', this, o, roundingMode) : call('div.Scalar_mode', this, o, roundingMode);
    return o instanceof Tensor ? call('div.Tensor', this, o) : call('div.Scalar', this, o);
  }
  remainder(o: TensorOrScalar): Tensor { return o instanceof Tensor ? call('remainder.Tensor', this, o) : call('remainder.Scalar', this, o); }
  pow(e: TensorOrScalar): Tensor { return e instanceof Tensor ? call('pow.Tensor_Tensor', this, e) : call('pow.Tensor_Scalar', this, e); }
  neg(): Tensor { return call('neg', this); }
  abs(): Tensor { return call('abs', this); }
  exp(): Tensor { return call('exp', this); }
  log(): Tensor { return call('log', this); }
  log1p(): Tensor { return call('log1p', this); }
  sqrt(): Tensor { return call('sqrt', this); }
  rsqrt(): Tensor { return call('rsqrt', this); }
  reciprocal(): Tensor { return call('reciprocal', this); }
  sign(): Tensor { return call('sign', this); }
  floor(): Tensor { return call('floor', this); }
  ceil(): Tensor { return call('ceil', this); }
  round(): Tensor { return call('round', this); }
  erfinv(): Tensor { return call('erfinv', this); }
  sin(): Tensor { return call('sin', this); }
  cos(): Tensor { return call('cos', this); }
  sigmoid(): Tensor { return call('sigmoid', this); }
  tanh(): Tensor { return call('tanh', this); }
  atan(): Tensor { return call('atan', this); }
  relu(): Tensor { return call('relu', this); }
  relu_(): this { callVoid('relu_', this); return this; }
  clamp(min?: number | null, max?: number | null): Tensor { return call('clamp', this, min ?? null, max ?? null); }
  lerp(end: Tensor, weight: number): Tensor { return call('lerp.Scalar', this, end, weight); }
  matmul(o: Tensor): Tensor { return call('matmul', this, o); }
  mm(o: Tensor): Tensor { return call('mm', this, o); }
  bmm(o: Tensor): Tensor { return call('bmm', this, o); }
  softmax(dim: number): Tensor { return call('softmax.int', this, dim); }
  logSoftmax(dim: number): Tensor { return call('log_softmax.int', this, dim); }

  // ---- in place (optimizers, initialisers) ----
  add_(o: TensorOrScalar, alpha = 1): this { if (o instanceof Tensor) callVoid('add_.Tensor', this, o, alpha); else callVoid('add_.Scalar', this, o, alpha); return this; }
  sub_(o: TensorOrScalar, alpha = 1): this { if (o instanceof Tensor) callVoid('sub_.Tensor', this, o, alpha); else callVoid('sub_.Scalar', this, o, alpha); return this; }
  mul_(o: TensorOrScalar): this { if (o instanceof Tensor) callVoid('mul_.Tensor', this, o); else callVoid('mul_.Scalar', this, o); return this; }
  div_(o: TensorOrScalar): this { if (o instanceof Tensor) callVoid('div_.Tensor', this, o); else callVoid('div_.Scalar', this, o); return this; }
  addcmul_(a: Tensor, b: Tensor, value = 1): this { callVoid('addcmul_', this, a, b, value); return this; }
  addcdiv_(a: Tensor, b: Tensor, value = 1): this { callVoid('addcdiv_', this, a, b, value); return this; }
  lerp_(end: Tensor, weight: number): this { callVoid('lerp_.Scalar', this, end, weight); return this; }
  clamp_(min?: number | null, max?: number | null): this { callVoid('clamp_', this, min ?? null, max ?? null); return this; }
  sqrt_(): this { callVoid('sqrt_', this); return this; }
  copy_(src: Tensor): this { callVoid('copy_', this, src, false); return this; }
  fill_(v: number): this { callVoid('fill_.Scalar', this, v); return this; }
  zero_(): this { callVoid('zero_', this); return this; }
  maskedFill_(mask: Tensor, value: number): this { callVoid('masked_fill_.Scalar', this, mask, value); return this; }
  uniform_(from = 0, to = 1): this { callVoid('uniform_', this, from, to, null); return this; }
  normal_(mean = 0, std = 1): this { callVoid('normal_', this, mean, std, null); return this; }

  // ---- comparison and logic ----
  eq(o: TensorOrScalar): Tensor { return o instanceof Tensor ? call('eq.Tensor', this, o) : call('eq.Scalar', this, o); }
  ne(o: TensorOrScalar): Tensor { return o instanceof Tensor ? call('ne.Tensor', this, o) : call('ne.Scalar', this, o); }
  lt(o: TensorOrScalar): Tensor { return o instanceof Tensor ? call('lt.Tensor', this, o) : call('lt.Scalar', this, o); }
  le(o: TensorOrScalar): Tensor { return o instanceof Tensor ? call('le.Tensor', this, o) : call('le.Scalar', this, o); }
  gt(o: TensorOrScalar): Tensor { return o instanceof Tensor ? call('gt.Tensor', this, o) : call('gt.Scalar', this, o); }
  ge(o: TensorOrScalar): Tensor { return o instanceof Tensor ? call('ge.Tensor', this, o) : call('ge.Scalar', this, o); }
  logicalAnd(o: Tensor): Tensor { return call('logical_and', this, o); }
  logicalOr(o: Tensor): Tensor { return call('logical_or', this, o); }
  logicalNot(): Tensor { return call('logical_not', this); }
  isnan(): Tensor { return call('isnan', this); }
  allclose(o: Tensor, rtol = 1e-5, atol = 1e-8): boolean { return native().call(op('allclose'), this.handle, o.handle, rtol, atol, false) as boolean; }

  // ---- reductions ----
  sum(dim?: number | number[], keepdim = false): Tensor { return dim === undefined ? call('sum', this, null) : call('sum.dim_IntList', this, dims(dim), keepdim, null); }
  mean(dim?: number | number[], keepdim = false): Tensor { return dim === undefined ? call('mean', this, null) : call('mean.dim', this, dims(dim), keepdim, null); }
  prod(dim?: number, keepdim = false): Tensor { return dim === undefined ? call('prod', this, null) : call('prod.dim_int', this, dim, keepdim, null); }
  /** Maximum of all elements. With `dim`, see maxDim. */
  max(): Tensor { return call('max', this); }
  min(): Tensor { return call('min', this); }
  /** Maximum along `dim` with the index where it occurs. */
  maxDim(dim: number, keepdim = false): { values: Tensor; indices: Tensor } { const [values, indices] = callMany('max.dim', this, dim, keepdim); return { values: values!, indices: indices! }; }
  minDim(dim: number, keepdim = false): { values: Tensor; indices: Tensor } { const [values, indices] = callMany('min.dim', this, dim, keepdim); return { values: values!, indices: indices! }; }
  /** Maximum over `dim` without indices (PyTorch's amax; the gradient is shared between tied maxima). */
  amax(dim: number | number[], keepdim = false): Tensor { return call('amax', this, dims(dim), keepdim); }
  amin(dim: number | number[], keepdim = false): Tensor { return call('amin', this, dims(dim), keepdim); }
  maximum(o: Tensor): Tensor { return call('maximum', this, o); }
  minimum(o: Tensor): Tensor { return call('minimum', this, o); }
  argmax(dim?: number, keepdim = false): Tensor { return call('argmax', this, dim ?? null, keepdim); }
  argmin(dim?: number, keepdim = false): Tensor { return call('argmin', this, dim ?? null, keepdim); }
  /** Variance; `correction` 1 is the unbiased estimator (PyTorch's default), 0 the population variance. */
  var(dim?: number | number[], opts: { correction?: number; keepdim?: boolean } = {}): Tensor { return call('var.correction', this, dim === undefined ? null : dims(dim), opts.correction ?? 1, opts.keepdim ?? false); }
  std(dim?: number | number[], opts: { correction?: number; keepdim?: boolean } = {}): Tensor { return call('std.correction', this, dim === undefined ? null : dims(dim), opts.correction ?? 1, opts.keepdim ?? false); }
  norm(p = 2, dim?: number | number[], keepdim = false): Tensor { return dim === undefined ? call('norm.Scalar', this, p) : call('norm.ScalarOpt_dim', this, p, dims(dim), keepdim); }
  topk(k: number, dim = -1, largest = true, sorted = true): { values: Tensor; indices: Tensor } { const [values, indices] = callMany('topk', this, k, dim, largest, sorted); return { values: values!, indices: indices! }; }
  sort(dim = -1, descending = false): { values: Tensor; indices: Tensor } { const [values, indices] = callMany('sort', this, dim, descending); return { values: values!, indices: indices! }; }
  argsort(dim = -1, descending = false): Tensor { return call('argsort', this, dim, descending); }
  tril(diagonal = 0): Tensor { return call('tril', this, diagonal); }
  triu(diagonal = 0): Tensor { return call('triu', this, diagonal); }
  cumsum(dim: number): Tensor { return call('cumsum', this, dim, null); }
  all(): Tensor { return call('all', this); }
  any(): Tensor { return call('any', this); }
}

const isDeviceLike = (s: string): boolean => s === 'cpu' || /^cuda(:\d+)?$/.test(s);

function flatShape(args: number[] | [number[]]): number[] {
  return Array.isArray(args[0]) ? args[0] : (args as number[]);
}

const dims = (d: number | number[]): number[] => (typeof d === 'number' ? [d] : d);
