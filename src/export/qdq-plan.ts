/**
 * Which nodes of a float graph the int8 QDQ quantizer quantizes, which tensors get a
 * QuantizeLinear → DequantizeLinear pair, and where each pair's parameters come from. The layout
 * follows what ONNX Runtime's QDQ fusions look for, so its optimizer turns each group into one
 * integer kernel (Conv → QLinearConv, Gemm → QGemm, MatMul → QLinearMatMul, Add → QLinearAdd…).
 */
import { DataType, type GraphProto, type NodeProto, type TensorProto } from '../onnx/proto.js';
import { attrFloat, attrInt, dimsOf, numel } from '../onnx/tensor-data.js';
import { inferElemTypes } from '../onnx/types.js';

/** Ops with weights: int8 per-channel weights, int32 bias, quantized input and output. */
export const WEIGHTED_OPS: readonly string[] = ['Conv', 'Gemm', 'MatMul'];
/** Ops ORT runs on uint8 tensors (QLinearAdd, QLinearAveragePool…): inputs and output quantized. */
export const ACTIVATION_OPS: readonly string[] = ['Add', 'Mul', 'AveragePool', 'GlobalAveragePool', 'Concat', 'Sigmoid', 'LeakyRelu'];
/** Ops that only move or select values: the output reuses the input's parameters. */
export const PASS_OPS: readonly string[] = ['MaxPool', 'GlobalMaxPool', 'Reshape', 'Flatten', 'Transpose', 'Squeeze', 'Unsqueeze'];
const MERGING_OPS = new Set(['Add', 'Mul', 'Concat']);
/** Activations merged into the Q after them (quantizing their output range clamps the same way). */
const FOLDED_ACTIVATIONS = new Set(['Relu', 'Clip']);

/** A quantized node's weight (and bias) initializers. */
export interface WeightUse {
  weight: string;
  /** Input slot of the weight. */
  slot: number;
  /** Channel axis of the weight for per-channel scales; null for one scale. */
  axis: number | null;
  /** Bias initializer and its slot, when there is one (its length is the channel count). */
  bias?: { name: string; slot: number; channels: number };
  /** The activation input whose scale the bias scale multiplies. */
  activation: string;
}

export interface QdqPlan {
  /** Tensor → the tensor whose parameters its Q/DQ pair uses (itself when calibrated). */
  qdq: Map<string, string>;
  weights: Map<NodeProto, WeightUse>;
  /** Tensors whose ranges come from calibration. */
  calibrated: string[];
}

export interface PlanOptions {
  perChannel: boolean;
  exclude: ReadonlySet<string>;
}

function weightUse(node: NodeProto, inits: Map<string, TensorProto>, isActivation: (n: string) => boolean, perChannel: boolean): WeightUse | undefined {
  const [x, wName, bName] = node.input;
  const w = wName ? inits.get(wName) : undefined;
  if (!x || !isActivation(x) || !w) return undefined;
  const dims = dimsOf(w);
  const bias = bName ? inits.get(bName) : undefined;
  if (bName && !bias) return undefined;
  let axis: number;
  switch (node.opType) {
    case 'Conv':
      axis = 0;
      break;
    case 'Gemm':
      if (dims.length !== 2 || attrInt(node, 'transA', 0) !== 0 || attrFloat(node, 'alpha', 1) !== 1 || (bias && attrFloat(node, 'beta', 1) !== 1)) return undefined;
      axis = attrInt(node, 'transB', 0) === 1 ? 0 : 1;
      break;
    default: // MatMul x·W with a 2-D W: one scale per output column
      if (dims.length !== 2) return undefined;
      axis = 1;
  }
  const channels = dims[axis]!;
  // Gemm's C may be [N], [1, N] or a scalar; anything else (a per-row bias) stays float.
  if (bias && !(numel(bias.dims) === channels || numel(bias.dims) === 1)) return undefined;
  return {
    weight: wName!,
    slot: 1,
    axis: perChannel ? axis : null,
    ...(bias ? { bias: { name: bName!, slot: 2, channels } } : {}),
    activation: x,
  };
}

/** Decides the QDQ layout of a float graph (nodes in topological order). */
export function planQdq(g: GraphProto, opts: PlanOptions): QdqPlan {
  const inits = new Map((g.initializer ?? []).filter((t) => t.dataType === DataType.FLOAT).map((t) => [t.name ?? '', t]));
  const types = inferElemTypes(g);
  const consumers = new Map<string, NodeProto[]>();
  for (const n of g.node) for (const i of new Set(n.input)) if (i) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  const graphOutputs = new Set(g.output.map((v) => v.name));
  const constants = new Set(g.node.filter((n) => n.opType === 'Constant').flatMap((n) => n.output));
  const isActivation = (n: string): boolean => !!n && !inits.has(n) && !constants.has(n) && types.get(n) === DataType.FLOAT;
  const excluded = (n: NodeProto): boolean => opts.exclude.has(n.name ?? '') || opts.exclude.has(n.opType);

  const qdq = new Map<string, string>();
  const weights = new Map<NodeProto, WeightUse>();
  const mark = (t: string, source = t): void => {
    if (!graphOutputs.has(t) && !qdq.has(t)) qdq.set(t, source);
  };
  // An output read only by a ReLU/Clip is quantized after it: ORT then drops the activation.
  const markOutput = (t: string): void => {
    const next = consumers.get(t);
    const act = next?.length === 1 ? next[0]! : undefined;
    const foldable = act && FOLDED_ACTIVATIONS.has(act.opType) && !excluded(act) && (act.domain ?? '') === ''
      && act.input.slice(1).every((n) => !n || inits.has(n)) && !graphOutputs.has(t) && !graphOutputs.has(act.output[0]!);
    mark(foldable ? act.output[0]! : t);
  };

  for (const node of g.node) {
    if ((node.domain ?? '') !== '' || excluded(node)) continue;
    const op = node.opType;
    if (WEIGHTED_OPS.includes(op)) {
      const use = weightUse(node, inits, isActivation, opts.perChannel);
      if (use) {
        weights.set(node, use);
        mark(use.activation);
      } else if (op === 'MatMul' && node.input.every(isActivation)) {
        node.input.forEach((n) => mark(n)); // activation × activation (attention): QLinearMatMul
      } else {
        continue;
      }
      markOutput(node.output[0]!);
    } else if (ACTIVATION_OPS.includes(op)) {
      const floats = node.input.filter((n) => n && (types.get(n) === DataType.FLOAT));
      if (floats.length === 0 || !floats.every(isActivation) || node.output.length !== 1) continue;
      // Ops that merge streams join only streams already quantized: a residual stream kept in
      // float (a transformer's, whose outliers per-tensor uint8 cannot hold) stays float.
      if (MERGING_OPS.has(op) && !floats.every((n) => qdq.has(n))) continue;
      floats.forEach((n) => mark(n));
      markOutput(node.output[0]!);
    } else if (PASS_OPS.includes(op)) {
      const source = qdq.get(node.input[0]!);
      if (source !== undefined && node.output.filter(Boolean).length === 1) mark(node.output[0]!, source);
    }
  }
  const calibrated = [...qdq].filter(([t, s]) => t === s).map(([t]) => t);
  return { qdq, weights, calibrated };
}
