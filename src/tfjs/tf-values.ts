/**
 * The bridge between TensorFlow's tensors and the ONNX graph: each TF tensor is an ONNX value
 * stored in some axis order (`perm`: ONNX dimension k is TF dimension perm[k]), or a constant whose
 * data stays in JavaScript until an op needs it. TF image models are NHWC and ONNX's convolutions
 * NCHW; keeping the order with the value means a chain of convolutions, activations and additions
 * runs in NCHW with no Transpose between them, and a Transpose appears only where an op that reads
 * TF's own order (Reshape, StridedSlice, a graph output) meets an NCHW value.
 */
import { DataType, type DataTypeCode } from '../onnx/proto.js';
import type { OnnxGraph, OnnxValue } from '../onnx/graph.js';
import { TfjsError } from './model-json.js';

export interface ConstData {
  shape: number[];
  /** float32 values, or integers (TF's int32 and int64, held as ONNX int64), or booleans. */
  kind: 'float' | 'int' | 'bool';
  data: ArrayLike<number>;
}

export interface TfValue {
  /** TF's shape of the tensor. */
  shape: number[];
  kind: ConstData['kind'];
  /** The ONNX value and the order it holds, absent for constants not yet needed in the graph. */
  onnx?: { v: OnnxValue; perm: number[] };
  const?: ConstData;
}

export const identity = (rank: number): number[] => Array.from({ length: rank }, (_, i) => i);
/** NHWC → NCHW: ONNX's [N, C, H, W] are TF's dimensions 0, 3, 1, 2. */
export const NCHW = [0, 3, 1, 2];
const same = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);
export const onnxType = (kind: ConstData['kind']): DataTypeCode => (kind === 'float' ? DataType.FLOAT : kind === 'int' ? DataType.INT64 : DataType.BOOL);

/** Row-major transpose of `data` with `shape` so that out dim k is in dim perm[k]. */
export function permuteData(data: ArrayLike<number>, shape: readonly number[], perm: readonly number[]): number[] {
  const rank = shape.length;
  const outShape = perm.map((p) => shape[p]!);
  const inStride = Array<number>(rank).fill(1);
  for (let i = rank - 2; i >= 0; i--) inStride[i] = inStride[i + 1]! * shape[i + 1]!;
  const n = outShape.reduce((a, b) => a * b, 1);
  const out = new Array<number>(n);
  const idx = Array<number>(rank).fill(0);
  for (let o = 0; o < n; o++) {
    let src = 0;
    for (let k = 0; k < rank; k++) src += idx[k]! * inStride[perm[k]!]!;
    out[o] = data[src]!;
    for (let k = rank - 1; k >= 0; k--) {
      if (++idx[k]! < outShape[k]!) break;
      idx[k] = 0;
    }
  }
  return out;
}

/** Emits and caches the ONNX forms of TF values. */
export class Values {
  readonly #g: OnnxGraph;
  readonly #cache = new Map<TfValue, Map<string, OnnxValue>>();

  constructor(g: OnnxGraph) {
    this.#g = g;
  }

  /** The ONNX value holding `x` with `perm` (TF dims reordered); a constant is permuted in JavaScript. */
  as(x: TfValue, perm: readonly number[] = identity(x.shape.length)): OnnxValue {
    if (perm.length !== x.shape.length) throw new TfjsError(`internal: order [${perm.join(',')}] for a rank-${x.shape.length} tensor`);
    const key = perm.join(',');
    let byPerm = this.#cache.get(x);
    if (!byPerm) this.#cache.set(x, (byPerm = new Map()));
    const hit = byPerm.get(key);
    if (hit) return hit;
    let v: OnnxValue;
    if (x.onnx) {
      if (same(x.onnx.perm, perm)) v = x.onnx.v;
      else {
        // want dim k = TF dim perm[k]; the stored value's dim j is TF dim have[j]
        const have = x.onnx.perm;
        v = this.#g.op('Transpose', [x.onnx.v], { perm: perm.map((p) => have.indexOf(p)) });
      }
    } else {
      const c = x.const!;
      const data = same(perm, identity(perm.length)) ? c.data : permuteData(c.data, c.shape, perm);
      const shape = perm.map((p) => c.shape[p]!);
      v = c.kind === 'float' ? this.#g.floats(data, shape) : c.kind === 'int' ? this.#g.int64(data, shape) : this.#boolConst(data, shape);
    }
    byPerm.set(key, v);
    return v;
  }

  #boolConst(data: ArrayLike<number>, shape: number[]): OnnxValue {
    const ints = this.#g.int64(data, shape);
    return this.#g.op('Cast', [ints], { to: DataType.BOOL });
  }

  /** The order the value is held in (identity for constants, which take any). */
  permOf(x: TfValue): number[] {
    return x.onnx?.perm ?? identity(x.shape.length);
  }

  /** `x` as a tensor of rank `rank` (leading 1s, as TF broadcasts), in `perm`. */
  broadcastAs(x: TfValue, rank: number, perm: readonly number[]): OnnxValue {
    if (x.shape.length === rank) return this.as(x, perm);
    const lead = rank - x.shape.length;
    const shape = [...Array<number>(lead).fill(1), ...x.shape];
    if (x.const) return this.as({ shape, kind: x.kind, const: { ...x.const, shape } }, perm);
    const up = this.#g.op('Unsqueeze', [this.as(x), this.#g.ints(identity(lead))]);
    return this.as({ shape, kind: x.kind, onnx: { v: up, perm: identity(rank) } }, perm);
  }

  /** A TF value for an ONNX value the graph computed, held in `perm`. */
  wrap(v: OnnxValue, perm: readonly number[], kind: ConstData['kind'] = v.dtype === DataType.FLOAT ? 'float' : v.dtype === DataType.BOOL ? 'bool' : 'int'): TfValue {
    const dims = v.shape.map((d) => {
      if (typeof d !== 'number') throw new TfjsError(`internal: dimension ${d} is not static`);
      return d;
    });
    const shape = Array<number>(perm.length);
    perm.forEach((p, k) => (shape[p] = dims[k]!));
    return { shape, kind, onnx: { v, perm: [...perm] } };
  }
}
