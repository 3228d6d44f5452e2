/**
 * Element types of every value in an ONNX graph, inferred from the graph inputs, initializers and
 * a table of the operators whose outputs do not simply take their first input's type. Graph
 * transforms use it to know which values are float tensors without running ONNX shape inference.
 */
import { attr } from './tensor-data.js';
import { AttributeType, DataType, toNumber, type GraphProto, type NodeProto } from './proto.js';

const INT64_OUT = new Set(['Shape', 'Size', 'NonZero', 'ArgMax', 'ArgMin']);
const BOOL_OUT = new Set(['Equal', 'Less', 'LessOrEqual', 'Greater', 'GreaterOrEqual', 'Not', 'And', 'Or', 'Xor', 'IsNaN', 'IsInf']);
/** Ops whose second output is an index tensor. */
const INDEX_SECOND = new Set(['TopK', 'MaxPool', 'Unique']);

/** Ops whose float type comes from a `dtype` attribute (default float). */
const DTYPE_ATTR = new Set(['RandomNormal', 'RandomUniform', 'RandomNormalLike', 'RandomUniformLike', 'EyeLike', 'Multinomial', 'Bernoulli']);

function outputTypes(node: NodeProto, input: (i: number) => number | undefined): (number | undefined)[] {
  const op = node.opType;
  const n = node.output.length;
  const same = Array<number | undefined>(n).fill(input(0));
  if (node.domain && node.domain !== 'ai.onnx') {
    // Contrib ops (com.microsoft …) follow the same rule for the ops a classifier uses.
    return same;
  }
  if (INT64_OUT.has(op)) return same.fill(DataType.INT64);
  if (BOOL_OUT.has(op)) return same.fill(DataType.BOOL);
  if (INDEX_SECOND.has(op)) return same.map((t, i) => (i === 0 ? t : DataType.INT64));
  switch (op) {
    case 'Cast': return [toNumber(attr(node, 'to')?.i)];
    case 'CastLike': return [input(1)];
    case 'Where': return [input(1)];
    case 'Constant': {
      const a = node.attribute?.[0];
      if (a?.type === AttributeType.TENSOR) return [a.t?.dataType];
      if (a?.name === 'value_float' || a?.name === 'value_floats') return [DataType.FLOAT];
      if (a?.name === 'value_int' || a?.name === 'value_ints') return [DataType.INT64];
      return [undefined];
    }
    case 'ConstantOfShape': return [attr(node, 'value')?.t?.dataType ?? DataType.FLOAT];
    case 'OneHot': return [input(2)];
    case 'QuantizeLinear': return [input(2) ?? DataType.UINT8];
    case 'DequantizeLinear': return [DataType.FLOAT];
    case 'DynamicQuantizeLinear': return [DataType.UINT8, DataType.FLOAT, DataType.UINT8];
    case 'Dropout': return same.map((t, i) => (i === 0 ? t : DataType.BOOL));
    case 'LayerNormalization': return same.map((t, i) => (i === 0 ? t : toNumber(attr(node, 'stash_type')?.i ?? 1)));
    case 'BatchNormalization': return same;
    default:
      if (DTYPE_ATTR.has(op)) {
        const d = attr(node, 'dtype');
        return [d ? toNumber(d.i) : op.endsWith('Like') || op === 'EyeLike' ? input(0) : DataType.FLOAT];
      }
      return same;
  }
}

/** Throws for control-flow ops: their subgraphs would need the same treatment recursively. */
export function assertNoSubgraphs(g: GraphProto, what: string): void {
  for (const n of g.node) {
    if (n.attribute?.some((a) => a.type === AttributeType.GRAPH || a.g !== undefined)) {
      throw new Error(`${what} does not support control-flow nodes with subgraphs (${n.opType} "${n.name ?? ''}")`);
    }
  }
}

/**
 * The element type (onnx DataType code) of every value the graph defines, where it can be told;
 * nodes are assumed in topological order, as ONNX requires.
 */
export function inferElemTypes(g: GraphProto): Map<string, number> {
  const types = new Map<string, number>();
  for (const t of g.initializer ?? []) if (t.name && t.dataType !== undefined) types.set(t.name, t.dataType);
  for (const v of [...g.input, ...(g.valueInfo ?? []), ...g.output]) {
    const e = v.type?.tensorType?.elemType;
    if (e) types.set(v.name, e);
  }
  for (const node of g.node) {
    const out = outputTypes(node, (i) => {
      const name = node.input[i];
      return name ? types.get(name) : undefined;
    });
    node.output.forEach((name, i) => {
      const t = out[i];
      if (name && t !== undefined && !types.has(name)) types.set(name, t);
    });
  }
  return types;
}

export const isFloat = (t: number | undefined): boolean => t === DataType.FLOAT || t === DataType.FLOAT16 || t === DataType.DOUBLE || t === DataType.BFLOAT16;
