/**
 * ONNX's protobuf messages, read and written with protobufjs from the descriptor of ONNX's own
 * onnx.proto (src/onnx/onnx-proto.ts). The interfaces below type the fields Kestrel uses; names are
 * protobufjs's camelCase forms of onnx.proto's (ir_version → irVersion).
 */
import protobuf from 'protobufjs';
import { onnxDescriptor } from './onnx-proto.js';

/** onnx.TensorProto.DataType */
export const DataType = {
  FLOAT: 1, UINT8: 2, INT8: 3, UINT16: 4, INT16: 5, INT32: 6, INT64: 7, STRING: 8, BOOL: 9,
  FLOAT16: 10, DOUBLE: 11, UINT32: 12, UINT64: 13, BFLOAT16: 16,
} as const;
export type DataTypeCode = (typeof DataType)[keyof typeof DataType];

/** onnx.AttributeProto.AttributeType */
export const AttributeType = {
  FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, FLOATS: 6, INTS: 7, STRINGS: 8,
} as const;

export interface TensorProto {
  name?: string;
  dims?: (number | Long)[];
  dataType?: number;
  rawData?: Uint8Array;
  floatData?: number[];
  int32Data?: number[];
  int64Data?: (number | Long)[];
  doubleData?: number[];
  docString?: string;
  /** 1 (EXTERNAL): the data lives in another file named by externalData. */
  dataLocation?: number;
  externalData?: StringStringEntryProto[];
}

export interface AttributeProto {
  name: string;
  type: number;
  f?: number;
  i?: number | Long;
  s?: Uint8Array;
  t?: TensorProto;
  g?: GraphProto;
  floats?: number[];
  ints?: (number | Long)[];
  strings?: Uint8Array[];
}

export interface NodeProto {
  input: string[];
  output: string[];
  name?: string;
  opType: string;
  domain?: string;
  attribute?: AttributeProto[];
  docString?: string;
}

export interface Dimension { dimValue?: number | Long; dimParam?: string }
export interface TypeProto { tensorType?: { elemType: number; shape?: { dim: Dimension[] } } }
export interface ValueInfoProto { name: string; type?: TypeProto; docString?: string }

export interface GraphProto {
  node: NodeProto[];
  name: string;
  initializer?: TensorProto[];
  input: ValueInfoProto[];
  output: ValueInfoProto[];
  valueInfo?: ValueInfoProto[];
  docString?: string;
}

export interface OperatorSetIdProto { domain?: string; version: number | Long }
export interface StringStringEntryProto { key: string; value: string }

export interface ModelProto {
  irVersion: number | Long;
  opsetImport: OperatorSetIdProto[];
  producerName?: string;
  producerVersion?: string;
  domain?: string;
  modelVersion?: number | Long;
  docString?: string;
  graph: GraphProto;
  metadataProps?: StringStringEntryProto[];
}

/** protobufjs's 64-bit integer for values beyond 2^53 (ONNX int64 fields decode to it or number). */
export interface Long { low: number; high: number; unsigned: boolean; toNumber(): number }

let root: protobuf.Root | undefined;
function modelType(): protobuf.Type {
  root ??= protobuf.Root.fromJSON(onnxDescriptor as unknown as protobuf.INamespace);
  return root.lookupType('onnx.ModelProto');
}

/** Serialises a model to ONNX's wire format. */
export function encodeModel(model: ModelProto): Uint8Array {
  const t = modelType();
  return t.encode(t.fromObject(model as unknown as Record<string, unknown>)).finish();
}

/**
 * Parses ONNX's wire format. Throws protobufjs's error on malformed bytes; callers that read
 * user files wrap it with the file's name.
 */
export function decodeModel(bytes: Uint8Array): ModelProto {
  const t = modelType();
  const msg = t.decode(bytes);
  return t.toObject(msg, { longs: Number, bytes: Uint8Array as unknown as typeof String, defaults: false, arrays: true }) as unknown as ModelProto;
}

/** An int64 field as a JS number (ONNX dims and ints never exceed 2^53 in practice). */
export function toNumber(v: number | Long | undefined): number {
  if (v === undefined) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}
