/**
 * Small ONNX graphs built in code for the transform tests, with seeded weights, and helpers to
 * run them in onnxruntime-node. No libtorch: these tests load only protobufjs and ORT.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { AttributeType, DataType, decodeModel, encodeModel, type AttributeProto, type ModelProto, type NodeProto, type TensorProto, type ValueInfoProto } from '../../src/onnx/proto.js';
import { makeTensor } from '../../src/onnx/tensor-data.js';

/** mulberry32: a small seeded PRNG. */
export function rng(seed: number): { uniform: () => number; normal: () => number } {
  let s = seed >>> 0;
  const uniform = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const normal = (): number => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
  return { uniform, normal };
}

type AttrValue = number | number[] | string | TensorProto;

function toAttr(name: string, v: AttrValue): AttributeProto {
  if (typeof v === 'string') return { name, type: AttributeType.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: AttributeType.INTS, ints: v };
  if (typeof v === 'number') return Number.isInteger(v) ? { name, type: AttributeType.INT, i: v } : { name, type: AttributeType.FLOAT, f: v };
  return { name, type: AttributeType.TENSOR, t: v };
}

const valueInfo = (name: string, elemType: number, dims?: (number | string)[]): ValueInfoProto => ({
  name,
  type: { tensorType: { elemType, ...(dims ? { shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } : {}) } },
});

/** Builds a graph node by node; values get generated names. */
export class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly inits: TensorProto[] = [];
  readonly inputs: ValueInfoProto[] = [];
  readonly outputs: ValueInfoProto[] = [];
  private count = 0;
  readonly r: ReturnType<typeof rng>;

  constructor(seed = 1) {
    this.r = rng(seed);
  }

  input(name: string, dims: (number | string)[], elemType: number = DataType.FLOAT): string {
    this.inputs.push(valueInfo(name, elemType, dims));
    return name;
  }

  output(name: string, elemType: number = DataType.FLOAT, dims?: (number | string)[]): void {
    this.outputs.push(valueInfo(name, elemType, dims));
  }

  init(name: string, dims: number[], data: Float32Array | BigInt64Array | number[], dataType?: number): string {
    const d = Array.isArray(data) ? Float32Array.from(data) : data;
    this.inits.push(makeTensor(name, dataType ?? (d instanceof BigInt64Array ? DataType.INT64 : DataType.FLOAT), dims, d));
    return name;
  }

  ints(name: string, values: number[]): string {
    return this.init(name, [values.length], BigInt64Array.from(values, BigInt));
  }

  /** A float initializer of normal values with standard deviation `std` (plus `mean`). */
  randn(name: string, dims: number[], std: number, mean = 0): string {
    const n = dims.reduce((a, b) => a * b, 1);
    return this.init(name, dims, Float32Array.from({ length: n }, () => mean + std * this.r.normal()));
  }

  node(opType: string, input: string[], attrs: Record<string, AttrValue> = {}, opts: { outputs?: number; name?: string; out?: string[] } = {}): string[] {
    const name = opts.name ?? `${opType.toLowerCase()}_${this.count++}`;
    const output = opts.out ?? Array.from({ length: opts.outputs ?? 1 }, (_, i) => `${name}_out${i}`);
    this.nodes.push({ name, opType, input, output, attribute: Object.entries(attrs).map(([k, v]) => toAttr(k, v)) });
    return output;
  }

  /** One-output node. */
  op(opType: string, input: string[], attrs: Record<string, AttrValue> = {}, name?: string): string {
    return this.node(opType, input, attrs, name ? { name } : {})[0]!;
  }

  model(opset = 17, metadata?: Record<string, string>): ModelProto {
    return {
      irVersion: 8,
      opsetImport: [{ domain: '', version: opset }],
      producerName: 'kestrel-test',
      graph: { name: 'g', node: this.nodes, initializer: this.inits, input: this.inputs, output: this.outputs },
      ...(metadata ? { metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })) } : {}),
    };
  }
}

/** Conv (He-initialised weights, small bias) with `pads` 1 for 3×3 kernels. */
export function conv(b: GraphBuilder, x: string, cin: number, cout: number, k: number, opts: { stride?: number; bias?: boolean; group?: number; name?: string } = {}): string {
  const group = opts.group ?? 1;
  const name = opts.name ?? `conv${b.nodes.length}`;
  const w = b.randn(`${name}.weight`, [cout, cin / group, k, k], Math.sqrt(2 / ((cin / group) * k * k)));
  const inputs = [x, w];
  if (opts.bias ?? true) inputs.push(b.randn(`${name}.bias`, [cout], 0.05));
  const p = (k - 1) / 2;
  return b.op('Conv', inputs, { kernel_shape: [k, k], pads: [p, p, p, p], strides: [opts.stride ?? 1, opts.stride ?? 1], group }, name);
}

/** Gemm with transB=1 (PyTorch Linear's layout). */
export function linear(b: GraphBuilder, x: string, cin: number, cout: number, name = `fc${b.nodes.length}`): string {
  const w = b.randn(`${name}.weight`, [cout, cin], Math.sqrt(2 / cin));
  const bias = b.randn(`${name}.bias`, [cout], 0.05);
  return b.op('Gemm', [x, w, bias], { transB: 1 }, name);
}

/** BatchNormalization with random running statistics (as a trained net has). */
export function batchNorm(b: GraphBuilder, x: string, c: number, name = `bn${b.nodes.length}`): string {
  const scale = b.randn(`${name}.weight`, [c], 0.1, 1);
  const bias = b.randn(`${name}.bias`, [c], 0.1);
  const mean = b.randn(`${name}.running_mean`, [c], 0.1);
  const v = Float32Array.from({ length: c }, () => 0.5 + b.r.uniform());
  const variance = b.init(`${name}.running_var`, [c], v);
  return b.op('BatchNormalization', [x, scale, bias, mean, variance], { epsilon: 1e-5 }, name);
}

/** Random images shaped like normalised MNIST digits: a blob of bright strokes on a dark field. */
export function images(n: number, c: number, h: number, w: number, seed: number): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n * c * h * w);
  for (let i = 0; i < n; i++) {
    const cy = h * (0.3 + 0.4 * r.uniform());
    const cx = w * (0.3 + 0.4 * r.uniform());
    const sy = 1 + (h / 5) * r.uniform();
    const sx = 1 + (w / 5) * r.uniform();
    for (let ch = 0; ch < c; ch++) {
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const v = Math.exp(-(((y - cy) / sy) ** 2 + ((x - cx) / sx) ** 2)) + 0.1 * r.uniform();
          out[((i * c + ch) * h + y) * w + x] = (v - 0.13) / 0.31;
        }
      }
    }
  }
  return out;
}

export const sessionOptions: ort.InferenceSession.SessionOptions = { logSeverityLevel: 3 };

/** Runs a model on one float32 input and returns the first output's data. */
export async function run(model: ModelProto | Uint8Array, data: Float32Array, dims: number[], opts: ort.InferenceSession.SessionOptions = {}): Promise<Float32Array> {
  const bytes = model instanceof Uint8Array ? model : encodeModel(model);
  const session = await ort.InferenceSession.create(bytes, { ...sessionOptions, ...opts });
  try {
    const result = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', data, dims) });
    return result[session.outputNames[0]!]!.data as Float32Array;
  } finally {
    await session.release();
  }
}

/** The node op types of the graph ORT runs after its optimizations (at `level`). */
export async function optimizedOps(model: ModelProto, level: 'basic' | 'extended' | 'all' | 'disabled' = 'all'): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'kestrel-ort-'));
  try {
    const path = join(dir, 'optimized.onnx');
    const session = await ort.InferenceSession.create(encodeModel(model), { ...sessionOptions, graphOptimizationLevel: level, optimizedModelFilePath: path });
    await session.release();
    return decodeModel(readFileSync(path)).graph.node.map((n) => n.opType);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Top-1 index of each row of [n, k] logits. */
export function argmaxRows(logits: Float32Array, k: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < logits.length / k; i++) {
    let best = 0;
    for (let j = 1; j < k; j++) if (logits[i * k + j]! > logits[i * k + best]!) best = j;
    out.push(best);
  }
  return out;
}

export function cosine(a: Float32Array, b: Float32Array): number {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! ** 2;
    bb += b[i]! ** 2;
  }
  return ab / Math.sqrt(aa * bb);
}

const PY = '/usr/bin/python3';
let onnxPython: boolean | undefined;

/** Whether Debian's python with the onnx package is there (for onnx.checker). */
export function hasOnnxPython(): boolean {
  onnxPython ??= spawnSync(PY, ['-c', 'import onnx'], { stdio: 'ignore' }).status === 0;
  return onnxPython;
}

/** Runs onnx.checker.check_model(full_check=True); returns '' when valid, else the error text. */
export function onnxCheck(model: ModelProto): string {
  const dir = mkdtempSync(join(tmpdir(), 'kestrel-check-'));
  try {
    const path = join(dir, 'm.onnx');
    writeFileSync(path, encodeModel(model));
    const r = spawnSync(PY, ['-c', 'import onnx, sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)', path], { encoding: 'utf8' });
    return r.status === 0 ? '' : (r.stderr.trim().split('\n').pop() ?? 'failed');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Rows of [n, k] logits whose float top-1 leads the runner-up by more than `margin` but whose
 * top-1 changed in `got` (random test networks have near-ties that any rounding may flip).
 */
export function flippedConfident(ref: Float32Array, got: Float32Array, k: number, margin: number): number[] {
  const a = argmaxRows(ref, k);
  const b = argmaxRows(got, k);
  return a.flatMap((top, i) => {
    const row = Array.from(ref.subarray(i * k, (i + 1) * k)).sort((p, q) => q - p);
    return row[0]! - row[1]! > margin && b[i] !== top ? [i] : [];
  });
}
