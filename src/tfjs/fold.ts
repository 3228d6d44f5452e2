/**
 * Constant folding for the ops converters leave on constants (onnx-tf's shape arithmetic in
 * nanodet: SparseToDense of nothing, plus an int offset, as a Reshape target). Folding keeps shape
 * inputs constant, which the ONNX ops that take them (Reshape, Resize) and our shape rules need.
 */
import { TfjsError } from './model-json.js';
import { permuteData, type TfValue } from './tf-values.js';

const BINARY: Record<string, (a: number, b: number) => number> = {
  Add: (a, b) => a + b,
  AddV2: (a, b) => a + b,
  BiasAdd: (a, b) => a + b,
  Sub: (a, b) => a - b,
  Mul: (a, b) => a * b,
  RealDiv: (a, b) => a / b,
  FloorDiv: (a, b) => Math.floor(a / b),
  FloorMod: (a, b) => a - Math.floor(a / b) * b,
  Maximum: Math.max,
  Minimum: Math.min,
};

const size = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

function broadcastShape(a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length);
  return Array.from({ length: n }, (_, i) => {
    const x = a[a.length - n + i] ?? 1;
    const y = b[b.length - n + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw new TfjsError(`constant shapes [${a.join(',')}] and [${b.join(',')}] do not broadcast`);
    return x === 1 ? y : x;
  });
}

/** Index into `shape` (right-aligned with `out`) of the element at out's multi-index. */
function sourceIndex(shape: readonly number[], out: readonly number[], idx: readonly number[]): number {
  let k = 0;
  const lead = out.length - shape.length;
  for (let i = 0; i < shape.length; i++) k = k * shape[i]! + (shape[i] === 1 ? 0 : idx[lead + i]!);
  return k;
}

function elementwise(f: (a: number, b: number) => number, x: TfValue, y: TfValue): TfValue {
  const [a, b] = [x.const!, y.const!];
  const shape = broadcastShape(a.shape, b.shape);
  const n = size(shape);
  const data = new Array<number>(n);
  const idx = Array<number>(shape.length).fill(0);
  for (let o = 0; o < n; o++) {
    data[o] = f(a.data[sourceIndex(a.shape, shape, idx)]!, b.data[sourceIndex(b.shape, shape, idx)]!);
    for (let k = shape.length - 1; k >= 0; k--) {
      if (++idx[k]! < shape[k]!) break;
      idx[k] = 0;
    }
  }
  const kind = x.kind;
  const out = kind === 'int' ? data.map((v) => Math.trunc(v)) : Float32Array.from(data);
  return { shape, kind, const: { shape, kind, data: out } };
}

/**
 * The op's result when every input is a constant and the op is one folded here; undefined
 * otherwise (the caller then emits ONNX nodes).
 */
export function foldConst(op: string, inputs: readonly TfValue[], dstType?: string): TfValue | undefined {
  if (!inputs.every((x) => x.const)) return undefined;
  const f = BINARY[op];
  if (f && inputs.length === 2) return elementwise(f, inputs[0]!, inputs[1]!);
  const x = inputs[0]!.const!;
  switch (op) {
    case 'Cast': {
      const kind: TfValue['kind'] = dstType === 'DT_FLOAT' ? 'float' : dstType === 'DT_BOOL' ? 'bool' : 'int';
      const data = kind === 'float' ? Float32Array.from(x.data) : Array.from(x.data, (v) => (kind === 'bool' ? (v ? 1 : 0) : Math.trunc(v)));
      return { shape: x.shape, kind, const: { shape: x.shape, kind, data } };
    }
    case 'Reshape': {
      const target = Array.from(inputs[1]!.const!.data);
      const free = target.indexOf(-1);
      if (free >= 0) target[free] = size(x.shape) / size(target.filter((_, i) => i !== free));
      return { shape: target, kind: x.kind, const: { ...x, shape: target } };
    }
    case 'Transpose': {
      const perm = Array.from(inputs[1]!.const!.data);
      const shape = perm.map((p) => x.shape[p]!);
      return { shape, kind: x.kind, const: { shape, kind: x.kind, data: permuteData(x.data, x.shape, perm) } };
    }
    case 'SparseToDense': {
      const [indices, outShape, values, fill] = inputs.map((v) => v.const!);
      const shape = Array.from(outShape!.data);
      const data = new Array<number>(size(shape)).fill(fill!.data[0]!);
      const rank = shape.length;
      const count = indices!.shape.length === 0 ? 1 : indices!.shape[0]!;
      for (let i = 0; i < count; i++) {
        let k = 0;
        for (let d = 0; d < rank; d++) k = k * shape[d]! + indices!.data[i * rank + d]!;
        data[k] = values!.shape.length === 0 ? values!.data[0]! : values!.data[i]!;
      }
      return { shape, kind: values!.kind, const: { shape, kind: values!.kind, data } };
    }
    default:
      return undefined;
  }
}
