/**
 * Reading and writing the data of ONNX TensorProtos and node attributes, for graph transforms
 * (fp16 conversion, quantization). Everything written goes into `raw_data`, little-endian, as
 * ONNX Runtime and onnx.numpy_helper write it.
 */
import { fromHalfArray } from './half.js';
import { AttributeType, DataType, toNumber, type AttributeProto, type NodeProto, type TensorProto } from './proto.js';

/** Element count of a shape (1 for a scalar). */
export function numel(dims: readonly (number | { toNumber(): number })[] | undefined): number {
  let n = 1;
  for (const d of dims ?? []) n *= toNumber(d as number);
  return n;
}

export function dimsOf(t: TensorProto): number[] {
  return (t.dims ?? []).map((d) => toNumber(d));
}

/** The bytes of `raw_data`, copied so typed-array views are aligned. */
function rawBytes(t: TensorProto): ArrayBuffer | undefined {
  if (t.dataLocation === 1) {
    throw new Error(`tensor "${t.name ?? ''}" keeps its data in an external file; load the model with its weights inline`);
  }
  const raw = t.rawData;
  if (raw === undefined || raw.byteLength === 0) return undefined;
  return raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength) as ArrayBuffer;
}

/** A FLOAT, FLOAT16 or DOUBLE tensor's values as float32. */
export function readFloats(t: TensorProto): Float32Array {
  const raw = rawBytes(t);
  const n = numel(t.dims);
  let out: Float32Array;
  switch (t.dataType) {
    case DataType.FLOAT:
      out = raw ? new Float32Array(raw) : Float32Array.from(t.floatData ?? []);
      break;
    case DataType.FLOAT16:
      // Without raw_data, fp16 bits sit one per int32_data entry.
      out = fromHalfArray(raw ? new Uint16Array(raw) : Uint16Array.from(t.int32Data ?? []));
      break;
    case DataType.DOUBLE:
      out = Float32Array.from(raw ? new Float64Array(raw) : t.doubleData ?? []);
      break;
    default:
      throw new Error(`tensor "${t.name ?? ''}" has data type ${t.dataType}, not a float type`);
  }
  if (out.length !== n) throw new Error(`tensor "${t.name ?? ''}" holds ${out.length} values for shape [${dimsOf(t).join(', ')}]`);
  return out;
}

/** An INT64 or INT32 tensor's values as numbers (shapes, axes, indices). */
export function readInts(t: TensorProto): number[] {
  const raw = rawBytes(t);
  if (t.dataType === DataType.INT64) return raw ? Array.from(new BigInt64Array(raw), Number) : (t.int64Data ?? []).map((v) => toNumber(v));
  if (t.dataType === DataType.INT32) return raw ? Array.from(new Int32Array(raw)) : [...(t.int32Data ?? [])];
  throw new Error(`tensor "${t.name ?? ''}" has data type ${t.dataType}, not an integer type`);
}

type Data = Float32Array | Uint16Array | Int8Array | Uint8Array | Int32Array | BigInt64Array;

/** A tensor holding `data` in raw_data; FLOAT16 takes fp16 bits in a Uint16Array. */
export function makeTensor(name: string, dataType: number, dims: readonly number[], data: Data): TensorProto {
  if (data.length !== numel(dims)) throw new Error(`tensor "${name}": ${data.length} values for shape [${dims.join(', ')}]`);
  // Typed arrays are little-endian on every platform Node supports.
  return { name, dataType, dims: [...dims], rawData: new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)) };
}

export function attr(node: NodeProto, name: string): AttributeProto | undefined {
  return node.attribute?.find((a) => a.name === name);
}

export function attrInt(node: NodeProto, name: string, fallback: number): number {
  const a = attr(node, name);
  return a?.i === undefined ? fallback : toNumber(a.i);
}

export function attrFloat(node: NodeProto, name: string, fallback: number): number {
  return attr(node, name)?.f ?? fallback;
}

export function attrInts(node: NodeProto, name: string): number[] | undefined {
  const a = attr(node, name);
  return a?.ints?.map((v) => toNumber(v));
}

export const intAttr = (name: string, i: number): AttributeProto => ({ name, type: AttributeType.INT, i });

/** Names not yet used by any value or node, made from a base name. */
export class NameScope {
  private readonly used = new Set<string>();

  constructor(names: Iterable<string>) {
    for (const n of names) this.used.add(n);
  }

  /** `base`, or `base_1`, `base_2`… if taken; the result is reserved. */
  fresh(base: string): string {
    let name = base;
    for (let i = 1; this.used.has(name); i++) name = `${base}_${i}`;
    this.used.add(name);
    return name;
  }
}

/** Every value and node name in a graph (for NameScope). */
export function graphNames(g: { node: NodeProto[]; initializer?: TensorProto[]; input: { name: string }[]; output: { name: string }[] }): string[] {
  const names: string[] = [];
  for (const n of g.node) {
    if (n.name) names.push(n.name);
    names.push(...n.input, ...n.output);
  }
  for (const t of g.initializer ?? []) names.push(t.name ?? '');
  for (const v of [...g.input, ...g.output]) names.push(v.name);
  return names;
}
