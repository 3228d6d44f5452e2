/**
 * Static post-training int8 quantization of a float32 ONNX model in QDQ form, written by Kestrel
 * (no JS quantizer exists to call). The scheme is ONNX Runtime's U8S8 one:
 *  - weights of Conv, Gemm and MatMul: int8, symmetric, one scale per output channel, stored as
 *    int8 initializers read through DequantizeLinear (so the file shrinks about 4×);
 *  - their biases: int32 with scale = input scale × weight scale, zero point 0 (what QLinearConv
 *    and QGemm take, so ORT fuses the bias);
 *  - activations: uint8, asymmetric, one scale per tensor from calibration, as
 *    QuantizeLinear → DequantizeLinear pairs on the inputs and outputs of quantized ops.
 * ORT's graph optimizer then replaces each DQ → op → Q group with an integer kernel.
 */
import { collectStats, type CalibrationData, type CalibrationMethod } from './calibrate.js';
import { constantsToInitializers, foldBatchNorm, removeIdentities } from './prepare.js';
import { setPrecision } from '../onnx/metadata.js';
import { DataType, toNumber, type GraphProto, type ModelProto, type NodeProto, type TensorProto } from '../onnx/proto.js';
import { planQdq, type QdqPlan, type WeightUse } from './qdq-plan.js';
import { activationParams, quantizeBias, quantizeWeight, type QParams } from './qparams.js';
import { dimsOf, graphNames, intAttr, makeTensor, NameScope, readFloats } from '../onnx/tensor-data.js';
import { assertNoSubgraphs } from '../onnx/types.js';

export type { CalibrationBatch, CalibrationData, CalibrationMethod } from './calibrate.js';

export interface QuantizeOptions {
  /** How activation ranges are chosen from calibration (default `minmax`, as ORT). */
  method?: CalibrationMethod;
  /** For `percentile`: the share of |x| kept inside the range (default 99.999). */
  percentile?: number;
  /** Calibration images to use at most (default 256). */
  calibSize?: number;
  /** One weight scale per output channel (default true); false: one per tensor. */
  perChannel?: boolean;
  /** Node names or op types to leave in float32. */
  exclude?: readonly string[];
  /** 7-bit weights, for x86 CPUs without VNNI whose u8×s8 products can saturate (default false). */
  reduceRange?: boolean;
}

const METHODS: readonly CalibrationMethod[] = ['minmax', 'percentile', 'entropy'];

function checkOptions(model: ModelProto, o: QuantizeOptions): void {
  if (o.method !== undefined && !METHODS.includes(o.method)) throw new Error(`quantize: method must be one of ${METHODS.join(', ')}, got "${o.method}"`);
  if (o.percentile !== undefined && !(o.percentile > 0 && o.percentile <= 100)) throw new Error(`quantize: percentile must be in (0, 100], got ${o.percentile}`);
  if (o.calibSize !== undefined && !(Number.isInteger(o.calibSize) && o.calibSize > 0)) throw new Error(`quantize: calibSize must be a positive integer, got ${o.calibSize}`);
  const opset = model.opsetImport.find((s) => (s.domain ?? '') === '' || s.domain === 'ai.onnx');
  const version = opset ? toNumber(opset.version) : 0;
  if (version < 13) throw new Error(`quantize: the model uses opset ${version}; per-channel QDQ needs opset 13 or later (re-export with a newer opset)`);
  const known = new Set(model.graph.node.flatMap((n) => [n.name ?? '', n.opType]));
  const unknown = (o.exclude ?? []).filter((e) => !known.has(e));
  if (unknown.length) throw new Error(`quantize: exclude names no node or op type of this model: ${unknown.join(', ')}`);
}

/** Activation parameters for every QDQ tensor, shared ones taking their source's. */
function resolveParams(plan: QdqPlan, ranges: Map<string, [number, number]>): Map<string, QParams> {
  const params = new Map<string, QParams>();
  for (const t of plan.calibrated) params.set(t, activationParams(...ranges.get(t)!));
  for (const [t, source] of plan.qdq) params.set(t, params.get(source)!);
  return params;
}

class Rewriter {
  private readonly scope: NameScope;
  private readonly inits: Map<string, TensorProto>;
  private readonly added: TensorProto[] = [];
  private readonly out: NodeProto[] = [];
  /** Tensor → its Q output, scale and zero-point names (made at the first consumer). */
  private readonly quantized = new Map<string, { q: string; scale: string; zp: string }>();
  private readonly int8Weights = new Map<string, { q: string; scale: string; zp: string; scales: Float32Array }>();

  constructor(private readonly g: GraphProto, private readonly plan: QdqPlan, private readonly params: Map<string, QParams>, private readonly reduceRange: boolean) {
    this.scope = new NameScope(graphNames(g));
    this.inits = new Map((g.initializer ?? []).map((t) => [t.name ?? '', t]));
  }

  private dq(input: string[], base: string, axis?: number | null): string {
    const output = this.scope.fresh(`${base}_dequantized`);
    const attribute = axis === null || axis === undefined ? [] : [intAttr('axis', axis)];
    this.out.push({ name: this.scope.fresh(`${base}_DequantizeLinear`), opType: 'DequantizeLinear', input, output: [output], attribute });
    return output;
  }

  /** A DQ of activation `t` for one consumer (its Q is made on first use). */
  private activation(t: string): string {
    let q = this.quantized.get(t);
    if (!q) {
      const source = this.plan.qdq.get(t)!;
      const shared = source !== t ? this.quantized.get(source) : undefined;
      const p = this.params.get(t)!;
      const scale = shared?.scale ?? this.scope.fresh(`${t}_scale`);
      const zp = shared?.zp ?? this.scope.fresh(`${t}_zero_point`);
      if (!shared) {
        this.added.push(makeTensor(scale, DataType.FLOAT, [], Float32Array.of(p.scale)), makeTensor(zp, DataType.UINT8, [], Uint8Array.of(p.zeroPoint)));
      }
      const out = this.scope.fresh(`${t}_quantized`);
      this.out.push({ name: this.scope.fresh(`${t}_QuantizeLinear`), opType: 'QuantizeLinear', input: [t, scale, zp], output: [out] });
      q = { q: out, scale, zp };
      this.quantized.set(t, q);
    }
    return this.dq([q.q, q.scale, q.zp], t);
  }

  private weight(use: WeightUse): { output: string; scales: Float32Array } {
    const key = `${use.weight}\u0000${use.axis}`;
    let w = this.int8Weights.get(key);
    if (!w) {
      const t = this.inits.get(use.weight)!;
      const dims = dimsOf(t);
      const { q, scales } = quantizeWeight(readFloats(t), dims, use.axis, this.reduceRange);
      const shape = use.axis === null ? [] : [scales.length];
      w = { q: this.scope.fresh(`${use.weight}_quantized`), scale: this.scope.fresh(`${use.weight}_scale`), zp: this.scope.fresh(`${use.weight}_zero_point`), scales };
      this.added.push(makeTensor(w.q, DataType.INT8, dims, q), makeTensor(w.scale, DataType.FLOAT, shape, scales), makeTensor(w.zp, DataType.INT8, shape, new Int8Array(scales.length)));
      this.int8Weights.set(key, w);
    }
    return { output: this.dq([w.q, w.scale, w.zp], use.weight, use.axis), scales: w.scales };
  }

  private bias(use: WeightUse, weightScales: Float32Array): string {
    const b = use.bias!;
    let values = readFloats(this.inits.get(b.name)!);
    if (values.length === 1 && b.channels > 1) values = new Float32Array(b.channels).fill(values[0]!);
    const inputScale = this.params.get(use.activation)!.scale;
    const { q, scales } = quantizeBias(values, inputScale, weightScales);
    const perTensor = weightScales.length === 1 && values.length === 1;
    const shape = perTensor ? [] : [values.length];
    const name = this.scope.fresh(`${b.name}_quantized`);
    const scale = this.scope.fresh(`${b.name}_scale`);
    const zp = this.scope.fresh(`${b.name}_zero_point`);
    this.added.push(makeTensor(name, DataType.INT32, [values.length], q), makeTensor(scale, DataType.FLOAT, shape, perTensor ? scales.subarray(0, 1) : scales), makeTensor(zp, DataType.INT32, shape, new Int32Array(perTensor ? 1 : values.length)));
    return this.dq([name, scale, zp], b.name, perTensor ? null : 0);
  }

  rewrite(): GraphProto {
    for (const node of this.g.node) {
      const use = this.plan.weights.get(node);
      const input = [...node.input];
      if (use) {
        const w = this.weight(use);
        input[use.slot] = w.output;
        // Per-tensor weights with a per-channel bias still need one scale per channel.
        if (use.bias) input[use.bias.slot] = this.bias(use, w.scales.length === 1 && use.bias.channels > 1 ? new Float32Array(use.bias.channels).fill(w.scales[0]!) : w.scales);
      }
      const dqs = new Map<string, string>();
      node.input.forEach((name, i) => {
        if (!name || !this.plan.qdq.has(name) || (use && (i === use.slot || i === use.bias?.slot))) return;
        if (!dqs.has(name)) dqs.set(name, this.activation(name));
        input[i] = dqs.get(name)!;
      });
      this.out.push({ ...node, input });
    }
    const used = new Set(this.out.flatMap((n) => n.input));
    for (const v of this.g.output) used.add(v.name);
    const initializer = [...(this.g.initializer ?? []), ...this.added].filter((t) => used.has(t.name ?? ''));
    const kept = new Set(initializer.map((t) => t.name));
    const dropped = new Set((this.g.initializer ?? []).map((t) => t.name ?? '').filter((n) => !kept.has(n)));
    return { ...this.g, node: this.out, initializer, input: this.g.input.filter((v) => !dropped.has(v.name)) };
  }
}

/**
 * Quantizes a float32 model to int8 QDQ form, calibrating activation ranges on `calibration`
 * (float32 batches preprocessed exactly like the model's input). Identity nodes are dropped,
 * Constant nodes become initializers and BatchNormalization after a Conv is folded into it first. The deployment contract's `precision` becomes `int8`. The input model is not
 * modified.
 *
 * @example
 * const int8 = await quantizeStatic(model, batches, { method: 'percentile', calibSize: 256 });
 * writeFileAtomic('model-int8.onnx', [encodeModel(int8)]);
 */
export async function quantizeStatic(model: ModelProto, calibration: CalibrationData, opts: QuantizeOptions = {}): Promise<ModelProto> {
  checkOptions(model, opts);
  assertNoSubgraphs(model.graph, 'quantizeStatic');
  const graph = foldBatchNorm(constantsToInitializers(removeIdentities(model.graph)));
  const folded: ModelProto = { ...model, graph };
  const plan = planQdq(graph, { perChannel: opts.perChannel ?? true, exclude: new Set(opts.exclude ?? []) });
  if (plan.weights.size === 0 && plan.calibrated.length === 0) throw new Error('quantize: the model has no Conv, Gemm, MatMul or other quantizable node');
  const { stats } = await collectStats(folded, plan.calibrated, calibration, opts.calibSize ?? 256);
  const method = opts.method ?? 'minmax';
  // The network input keeps its full observed range whatever the method: its values are pixels
  // on a known scale, and histograms of images are spiky (a background level holding most of the
  // mass), which makes entropy clip away the strokes that carry the content.
  const inputs = new Set(graph.input.map((v) => v.name));
  const ranges = new Map(plan.calibrated.map((t) => [t, stats.get(t)!.threshold(inputs.has(t) ? 'minmax' : method, opts.percentile ?? 99.999)]));
  const quantized = new Rewriter(graph, plan, resolveParams(plan, ranges), opts.reduceRange ?? false).rewrite();
  return { ...folded, graph: quantized, metadataProps: setPrecision(model.metadataProps, 'int8') };
}
