/** What an op converter gets: the graph, the values, the TF node and its resolved inputs. */
import type { OnnxGraph } from '../onnx/graph.js';
import { TfjsError, type GraphNode, type TfAttr } from './model-json.js';
import type { TfValue, Values } from './tf-values.js';

export interface OpContext {
  g: OnnxGraph;
  vals: Values;
  node: GraphNode;
  inputs: TfValue[];
}

export type OpFn = (c: OpContext) => TfValue | TfValue[];

const b64 = (s: string): string => Buffer.from(s, 'base64').toString('utf8');

/** Typed reads of a node's attributes. */
export const attrs = {
  str: (n: GraphNode, k: string, d = ''): string => (n.attr?.[k]?.s !== undefined ? b64(n.attr[k].s) : d),
  int: (n: GraphNode, k: string, d = 0): number => (n.attr?.[k]?.i !== undefined ? Number(n.attr[k].i) : d),
  float: (n: GraphNode, k: string, d = 0): number => n.attr?.[k]?.f ?? d,
  bool: (n: GraphNode, k: string, d = false): boolean => n.attr?.[k]?.b ?? d,
  ints: (n: GraphNode, k: string): number[] | undefined => n.attr?.[k]?.list?.i?.map(Number),
  strs: (n: GraphNode, k: string): string[] => (n.attr?.[k] as TfAttr | undefined)?.list?.s?.map(b64) ?? [],
  type: (n: GraphNode, k: string): string | undefined => n.attr?.[k]?.type,
};

/** A constant input's values (shapes, axes, sizes); the op cannot be converted without them. */
export function constOf(c: OpContext, i: number, what: string): number[] {
  const x = c.inputs[i];
  if (!x?.const) throw new TfjsError(`${c.node.op} '${c.node.name}': its ${what} must be a constant`);
  return Array.from(x.const.data);
}

