/** Making tensors: from JS data, filled, ranges, random. */
import { native } from '../native/index.js';
import { checkDevice, type Device } from './device.js';
import { dtypeCode, dtypeOfArray, type DType } from './dtype.js';
import { call, Tensor } from './tensor.js';

export interface TensorOptions {
  dtype?: DType;
  device?: Device;
  requiresGrad?: boolean;
}

export type NestedArray = number | boolean | readonly NestedArray[];

function finish(t: Tensor, opts: TensorOptions): Tensor {
  if (opts.requiresGrad) t.requiresGrad_(true);
  return t;
}

const deviceOf = (opts: TensorOptions): Device | null => (opts.device === undefined ? null : checkDevice(opts.device));

function inferShape(data: NestedArray): number[] {
  const shape: number[] = [];
  let cur: NestedArray = data;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    cur = cur[0] as NestedArray;
  }
  return shape;
}

function flatten(data: NestedArray, shape: number[], depth: number, out: (number | boolean)[]): void {
  if (depth === shape.length) {
    if (Array.isArray(data)) throw new RangeError('tensor(): ragged nested array (sub-arrays of different lengths)');
    out.push(data as number | boolean);
    return;
  }
  if (!Array.isArray(data) || data.length !== shape[depth]) {
    throw new RangeError(`tensor(): ragged nested array at depth ${depth} (expected length ${shape[depth]})`);
  }
  for (const d of data) flatten(d as NestedArray, shape, depth + 1, out);
}

function bufferFor(values: (number | boolean)[], dtype: DType): ArrayBufferView {
  switch (dtype) {
    case 'float64': return Float64Array.from(values, Number);
    case 'int64': return BigInt64Array.from(values, (v) => BigInt(Math.trunc(Number(v))));
    case 'int32': return Int32Array.from(values, Number);
    case 'int16': return Int16Array.from(values, Number);
    case 'int8': return Int8Array.from(values, Number);
    case 'uint8': return Uint8Array.from(values, Number);
    case 'bool': return Uint8Array.from(values, (v) => (v ? 1 : 0));
    default: return Float32Array.from(values, Number);
  }
}

const STORED: Partial<Record<DType, DType>> = { float16: 'float32', bfloat16: 'float32' };

/**
 * A tensor from JS data: a number, nested arrays, or a typed array with `shape`.
 * Numbers default to float32, booleans to bool, typed arrays to their own type.
 *
 * @example
 * const x = tensor([[1, 2], [3, 4]]);                          // float32 [2, 2]
 * const y = tensor(new Float32Array(6), { shape: [2, 3] });
 */
export function tensor(data: NestedArray | ArrayBufferView, opts: TensorOptions & { shape?: readonly number[] } = {}): Tensor {
  let t: Tensor;
  if (ArrayBuffer.isView(data)) {
    const own = dtypeOfArray(data);
    if (own === undefined) throw new TypeError('tensor(): unsupported typed array');
    const shape = opts.shape ?? [(data as unknown as ArrayLike<unknown>).length];
    t = new Tensor(native().fromBuffer(data, shape, dtypeCode(own)));
    if (opts.dtype !== undefined && opts.dtype !== own) t = convert(t, opts.dtype);
  } else {
    const shape = inferShape(data);
    const values: (number | boolean)[] = [];
    flatten(data, shape, 0, values);
    const dtype = opts.dtype ?? (typeof values[0] === 'boolean' ? 'bool' : 'float32');
    const stored = STORED[dtype] ?? dtype;
    t = new Tensor(native().fromBuffer(bufferFor(values, stored), opts.shape ?? shape, dtypeCode(stored)));
    if (stored !== dtype) t = convert(t, dtype);
  }
  if (opts.device !== undefined && opts.device !== 'cpu') t = convert(t, opts.device);
  return finish(t, opts);
}

/**
 * A CPU tensor over `data`'s own memory, without a copy (tensor() copies): the data loader's
 * batches, which arrive from its workers as transferred buffers. The tensor keeps `data` alive;
 * writes through either side show in the other, and `data`'s buffer must never be transferred or
 * detached while the tensor lives. With `recycle`, reclaimArrays() returns `data` once the tensor
 * and its views are gone.
 *
 * @example
 * const images = adoptArray(result.data, [n, 3, 224, 224]);
 */
export function adoptArray(data: Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array, shape: readonly number[], opts: { recycle?: boolean } = {}): Tensor {
  const dtype = dtypeOfArray(data);
  if (dtype === undefined) throw new TypeError('adoptArray(): unsupported typed array');
  return new Tensor(native().adoptBuffer(data, shape, dtypeCode(dtype), opts.recycle ?? false));
}

/**
 * The arrays adopted with `{ recycle: true }` that no tensor uses any more (libtorch freed the
 * storage), oldest first, for the caller to reuse: the data loader refills them with later
 * batches instead of allocating and faulting in fresh memory. At most the 16 latest are kept.
 */
export const reclaimArrays = (): ArrayBufferView[] => native().takeReturned();

function convert(t: Tensor, target: DType | Device): Tensor {
  const out = t.to(target);
  if (out !== t) t.dispose();
  return out;
}

const code = (opts: TensorOptions, fallback: DType = 'float32'): number => dtypeCode(opts.dtype ?? fallback);

export const zeros = (shape: readonly number[], opts: TensorOptions = {}): Tensor => finish(call('zeros', shape, code(opts), null, deviceOf(opts), null), opts);
export const ones = (shape: readonly number[], opts: TensorOptions = {}): Tensor => finish(call('ones', shape, code(opts), null, deviceOf(opts), null), opts);
export const empty = (shape: readonly number[], opts: TensorOptions = {}): Tensor => finish(call('empty.memory_format', shape, code(opts), null, deviceOf(opts), null, null), opts);
/** A tensor filled with `value` (float32 unless `dtype` says otherwise). */
export const full = (shape: readonly number[], value: number, opts: TensorOptions = {}): Tensor => finish(call('full', shape, value, code(opts), null, deviceOf(opts), null), opts);
export const zerosLike = (t: Tensor): Tensor => call('zeros_like', t, null, null, null, null, null);
export const onesLike = (t: Tensor): Tensor => call('ones_like', t, null, null, null, null, null);
export const fullLike = (t: Tensor, value: number): Tensor => call('full_like', t, value, null, null, null, null, null);
export const randLike = (t: Tensor): Tensor => call('rand_like', t, null, null, null, null, null);
export const randnLike = (t: Tensor): Tensor => call('randn_like', t, null, null, null, null, null);

/** `[start, end)` by `step`; integral arguments give int64 as in PyTorch, unless `dtype` is given. */
export function arange(start: number, end?: number, step = 1, opts: TensorOptions = {}): Tensor {
  const [a, b] = end === undefined ? [0, start] : [start, end];
  return finish(call('arange.start_step', a, b, step, opts.dtype === undefined ? null : dtypeCode(opts.dtype), null, deviceOf(opts), null), opts);
}
export const linspace = (start: number, end: number, steps: number, opts: TensorOptions = {}): Tensor => finish(call('linspace', start, end, steps, code(opts), null, deviceOf(opts), null), opts);
export const eye = (n: number, m = n, opts: TensorOptions = {}): Tensor => finish(call('eye.m', n, m, code(opts), null, deviceOf(opts), null), opts);
/** Uniform on [0, 1). Seed with manualSeed(). */
export const rand = (shape: readonly number[], opts: TensorOptions = {}): Tensor => finish(call('rand', shape, code(opts), null, deviceOf(opts), null), opts);
/** Standard normal. Seed with manualSeed(). */
export const randn = (shape: readonly number[], opts: TensorOptions = {}): Tensor => finish(call('randn', shape, code(opts), null, deviceOf(opts), null), opts);
/** Integers uniform on [low, high), int64 unless `dtype` says otherwise. */
export const randint = (low: number, high: number, shape: readonly number[], opts: TensorOptions = {}): Tensor => finish(call('randint.low', low, high, shape, code(opts, 'int64'), null, deviceOf(opts), null), opts);
/** A random permutation of 0..n-1 (int64). */
export const randperm = (n: number, opts: TensorOptions = {}): Tensor => finish(call('randperm', n, code(opts, 'int64'), null, deviceOf(opts), null), opts);

export const cat = (tensors: readonly Tensor[], dim = 0): Tensor => call('cat', tensors, dim);
export const stack = (tensors: readonly Tensor[], dim = 0): Tensor => call('stack', tensors, dim);
/** Elementwise `cond ? a : b`. */
export function where(cond: Tensor, a: Tensor | number, b: Tensor | number): Tensor {
  if (a instanceof Tensor && b instanceof Tensor) return call('where.self', cond, a, b);
  if (a instanceof Tensor) return call('where.ScalarOther', cond, a, b);
  if (b instanceof Tensor) return call('where.ScalarSelf', cond, a, b);
  return call('where.Scalar', cond, a, b);
}
