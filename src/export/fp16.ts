/**
 * float32 → float16 conversion of an ONNX model, in the spirit of onnxconverter-common's
 * `convert_float_to_float16`: weights stored as FLOAT16, ops computed in fp16 where the runtime
 * has fp16 kernels, float32 everywhere else with Cast nodes only where a value crosses between
 * the two, and the graph's inputs and outputs kept float32 so callers feed and read float32.
 */
import { setPrecision } from '../onnx/metadata.js';
import { toHalfArray } from '../onnx/half.js';
import { AttributeType, DataType, type GraphProto, type ModelProto, type NodeProto, type TensorProto, type ValueInfoProto } from '../onnx/proto.js';
import { attr, graphNames, intAttr, makeTensor, NameScope, numel, readFloats } from '../onnx/tensor-data.js';
import { assertNoSubgraphs, inferElemTypes } from '../onnx/types.js';

/**
 * Ops onnxruntime-node 1.30's CPU provider runs natively in float16 (on x86-64; measured: a
 * single-node fp16 model whose optimized graph gains no Cast). Every other op has no CPU fp16
 * kernel, so ORT would insert Casts around it itself; Kestrel keeps those in float32 instead, with
 * Casts only at the edges of float32 regions. test/export/fp16.test.ts re-checks this list.
 */
export const ORT_CPU_FP16_OPS: readonly string[] = [
  'LayerNormalization', 'Clip', 'Max', 'Min', 'Round', 'Sign', 'IsNaN', 'Identity', 'Cast', 'Shape',
  'Flatten', 'Reshape', 'Transpose', 'Squeeze', 'Unsqueeze', 'Slice', 'Concat', 'Split', 'Gather',
  'GatherElements', 'Expand',
];

/**
 * Ops that compute in whatever precision their activation inputs arrive in, so they never cause a
 * Cast: data movement, and ops exact in either precision.
 */
const FOLLOW_OPS = new Set(['Identity', 'Flatten', 'Reshape', 'Transpose', 'Squeeze', 'Unsqueeze', 'Slice', 'Concat', 'Split', 'Gather', 'GatherElements', 'Expand', 'Clip', 'Max', 'Min', 'Round', 'Sign']);

/** Ops whose float inputs or outputs cannot be float16 at opsets ≤ 17, or that generate values. */
const ALWAYS_FLOAT32 = new Set([
  'QuantizeLinear', 'DequantizeLinear', 'DynamicQuantizeLinear', 'NonMaxSuppression', 'Celu', 'Range',
  'RandomNormal', 'RandomUniform', 'RandomNormalLike', 'RandomUniformLike', 'Multinomial', 'Bernoulli',
  'ConstantOfShape', 'EyeLike', 'CastLike',
]);

/** Inputs that take any element type (their precision is left as it is). */
const ANY_SLOT: Record<string, readonly number[]> = { Shape: [0], Size: [0], IsNaN: [0], IsInf: [0], Cast: [0], Resize: [1], Dropout: [1] };
/** Inputs that must be float32 whatever the node's precision. */
const FLOAT32_SLOT: Record<string, readonly number[]> = { Resize: [2], Upsample: [1] };

/** Constants at least this large are stored as fp16 even when only float32 nodes read them. */
const STORE_HALF_MIN = 64;

export interface Float16Options {
  /**
   * Ops to compute in float16. Default ORT_CPU_FP16_OPS (what runs natively on ORT's CPU
   * provider); `'all'` converts every standard op that allows fp16 (for GPU or ARM providers; on
   * x86 CPU, ORT then inserts Casts around each op itself). Other ops run in float32.
   */
  fp16Ops?: readonly string[] | 'all';
  /** Names of nodes to keep in float32. */
  keepNodes?: readonly string[];
  /** Finite weights beyond ±maxFinite are clamped to it (default 65504, fp16's largest). */
  maxFinite?: number;
}

type Precision = 'fp16' | 'fp32';
const CODE: Record<Precision, number> = { fp16: DataType.FLOAT16, fp32: DataType.FLOAT };

function slotKind(op: string, i: number): 'any' | 'fp32' | 'T' {
  if (ANY_SLOT[op]?.includes(i)) return 'any';
  if (FLOAT32_SLOT[op]?.includes(i)) return 'fp32';
  return 'T';
}

/** A float TensorProto as FLOAT16 (same name and dims). */
function halfTensor(t: TensorProto, maxFinite: number): TensorProto {
  return { ...makeTensor(t.name ?? '', DataType.FLOAT16, (t.dims ?? []).map(Number), toHalfArray(readFloats(t), maxFinite)), ...(t.docString ? { docString: t.docString } : {}) };
}

/** The tensor of a Constant node that holds a float value, or undefined. */
function constantTensor(node: NodeProto): TensorProto | undefined {
  const a = node.attribute?.[0];
  if (a?.name === 'value' && a.t?.dataType === DataType.FLOAT) return a.t;
  if (a?.name === 'value_float') return { dataType: DataType.FLOAT, dims: [], floatData: [a.f ?? 0] };
  if (a?.name === 'value_floats') return { dataType: DataType.FLOAT, dims: [a.floats?.length ?? 0], floatData: a.floats ?? [] };
  return undefined;
}

class Converter {
  private readonly types: Map<string, number>;
  /** Precision of every float value as its producer writes it. */
  private readonly home = new Map<string, Precision>();
  private readonly nodePrecision = new Map<NodeProto, Precision>();
  private readonly constants = new Map<string, TensorProto>();
  /** Whether an op may compute in fp16; ops of other domains only when listed by name. */
  private readonly allowed: (op: string, standard: boolean) => boolean;
  private readonly keep: Set<string>;

  constructor(private readonly g: GraphProto, private readonly opts: Float16Options) {
    this.types = inferElemTypes(g);
    const ops = opts.fp16Ops ?? ORT_CPU_FP16_OPS;
    const set = new Set(ops === 'all' ? [] : ops);
    this.allowed = (op, standard) => set.has(op) || (ops === 'all' && standard);
    this.keep = new Set(opts.keepNodes ?? []);
    for (const t of g.initializer ?? []) if (t.name && t.dataType === DataType.FLOAT) this.constants.set(t.name, t);
  }

  private isFloatValue(name: string): boolean {
    const t = this.types.get(name);
    return t === DataType.FLOAT || t === DataType.FLOAT16;
  }

  /** Decides each node's precision and each produced value's precision, in graph order. */
  private assign(): void {
    for (const v of this.g.input) {
      if (this.isFloatValue(v.name) && !this.constants.has(v.name)) this.home.set(v.name, this.types.get(v.name) === DataType.FLOAT16 ? 'fp16' : 'fp32');
    }
    for (const node of this.g.node) {
      if (node.opType === 'Constant' && (node.domain ?? '') === '') {
        const t = constantTensor(node);
        if (t) this.constants.set(node.output[0]!, t);
        continue;
      }
      const p = this.precisionOf(node);
      this.nodePrecision.set(node, p);
      node.output.forEach((name, j) => {
        if (!name || !this.isFloatValue(name)) return;
        if (node.opType === 'Cast') this.home.set(name, this.castOutput(node, p));
        else this.home.set(name, node.opType === 'LayerNormalization' && j > 0 ? 'fp32' : p);
      });
    }
    // Constants: fp16 where an fp16 slot reads them or where their size matters for the file.
    const readsHalf = new Set<string>();
    for (const node of this.g.node) {
      const p = this.nodePrecision.get(node);
      node.input.forEach((name, i) => {
        if (p === 'fp16' && slotKind(node.opType, i) === 'T') readsHalf.add(name);
      });
    }
    const outputs = new Set(this.g.output.map((v) => v.name));
    for (const [name, t] of this.constants) {
      const half = !outputs.has(name) && (readsHalf.has(name) || numel(t.dims) >= STORE_HALF_MIN);
      this.home.set(name, half ? 'fp16' : 'fp32');
    }
  }

  private precisionOf(node: NodeProto): Precision {
    const op = node.opType;
    const standard = (node.domain ?? '') === '' || node.domain === 'ai.onnx';
    if (this.keep.has(node.name ?? '') || ALWAYS_FLOAT32.has(op) || !this.allowed(op, standard)) return 'fp32';
    if (op === 'Cast') return 'fp16';
    if (!FOLLOW_OPS.has(op)) return 'fp16';
    // Follow the activations (constants adapt); float32 wins so no value is rounded needlessly.
    const acts = node.input.filter((n, i) => n && slotKind(op, i) === 'T' && this.home.has(n) && !this.constants.has(n));
    return acts.some((n) => this.home.get(n) === 'fp32') ? 'fp32' : 'fp16';
  }

  /** Cast to FLOAT of a float value becomes a cast to the value's own precision. */
  private castOutput(node: NodeProto, p: Precision): Precision {
    const to = Number(attr(node, 'to')?.i ?? 0);
    const src = node.input[0]!;
    if (to === DataType.FLOAT16) return 'fp16';
    if (to === DataType.FLOAT && this.isFloatValue(src) && this.home.has(src) && p === 'fp16') return this.home.get(src)!;
    return 'fp32';
  }

  convert(): GraphProto {
    this.assign();
    const g = this.g;
    const scope = new NameScope(graphNames(g));
    const versions = new Map<string, Partial<Record<Precision, string>>>();
    const out: NodeProto[] = [];
    const castNode = (from: string, to: string, p: Precision): NodeProto =>
      ({ name: scope.fresh(`${to}_Cast`), opType: 'Cast', input: [from], output: [to], attribute: [intAttr('to', CODE[p])] });

    // Graph outputs keep their float32 names; an fp16 producer writes a renamed value, cast back.
    const outputRename = new Map<string, string>();
    for (const v of g.output) {
      if (this.home.get(v.name) === 'fp16' && !this.constants.has(v.name)) outputRename.set(v.name, scope.fresh(`${v.name}_fp16`));
    }
    const valueAt = (name: string, p: Precision): string => {
      const home = this.home.get(name)!;
      if (home === p) return outputRename.get(name) ?? name;
      const vs = versions.get(name) ?? {};
      versions.set(name, vs);
      vs[p] ??= (() => {
        const v = scope.fresh(`${name}_${p}`);
        out.push(castNode(valueAt(name, home), v, p));
        return v;
      })();
      return vs[p];
    };

    for (const node of g.node) {
      const p = this.nodePrecision.get(node);
      if (p === undefined) {
        out.push(this.convertConstant(node));
        continue;
      }
      const input = node.input.map((name, i) => {
        if (!name || !this.home.has(name)) return name;
        const kind = node.opType === 'Cast' ? 'any' : slotKind(node.opType, i);
        return kind === 'any' ? valueAt(name, this.home.get(name)!) : valueAt(name, kind === 'fp32' ? 'fp32' : p);
      });
      const output = node.output.map((name) => outputRename.get(name) ?? name);
      const converted: NodeProto = { ...node, input, output };
      if (node.opType === 'Cast' && node.output[0] && this.home.has(node.output[0])) {
        converted.attribute = [...(node.attribute ?? []).filter((a) => a.name !== 'to'), intAttr('to', CODE[this.home.get(node.output[0])!])];
      }
      out.push(converted);
      for (const name of node.output) {
        const renamed = outputRename.get(name);
        if (renamed) {
          out.push(castNode(renamed, name, 'fp32'));
          versions.set(name, { fp32: name });
        }
      }
    }

    const initializer = (g.initializer ?? []).map((t) => (t.name && this.home.get(t.name) === 'fp16' && t.dataType === DataType.FLOAT ? halfTensor(t, this.maxFinite) : t));
    const retype = (v: ValueInfoProto): ValueInfoProto => {
      const p = this.home.get(v.name);
      const tt = v.type?.tensorType;
      const name = outputRename.get(v.name) ?? v.name;
      if (!p || !tt) return { ...v, name };
      return { ...v, name, type: { ...v.type, tensorType: { ...tt, elemType: CODE[p] } } };
    };
    return {
      ...g,
      node: out,
      initializer,
      // An initializer listed as a graph input (IR < 4) changes type with it.
      input: g.input.map((v) => (this.constants.has(v.name) ? retype(v) : v)),
      valueInfo: (g.valueInfo ?? []).map(retype),
    };
  }

  private get maxFinite(): number {
    return this.opts.maxFinite ?? 65504;
  }

  private convertConstant(node: NodeProto): NodeProto {
    const t = constantTensor(node);
    if (!t || this.home.get(node.output[0]!) !== 'fp16') return node;
    return { ...node, attribute: [{ name: 'value', type: AttributeType.TENSOR, t: halfTensor(t, this.maxFinite) }] };
  }
}

/**
 * Converts a float32 model to float16: float initializers and Constant tensors become FLOAT16
 * (finite values clamped to ±65504; round to nearest even, subnormals kept), ops in `fp16Ops`
 * compute in fp16, the rest in float32 with Casts where values cross, and graph inputs and outputs
 * stay float32. The deployment contract's `precision` becomes `fp16`. The input is not modified.
 *
 * @example
 * const half = convertToFloat16(decodeModel(readFileSync('model.onnx')));
 * writeFileAtomic('model-fp16.onnx', [encodeModel(half)]);
 */
export function convertToFloat16(model: ModelProto, opts: Float16Options = {}): ModelProto {
  assertNoSubgraphs(model.graph, 'convertToFloat16');
  const graph = new Converter(model.graph, opts).convert();
  return { ...model, graph, metadataProps: setPrecision(model.metadataProps, 'fp16') };
}
