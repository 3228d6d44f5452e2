/**
 * ONNX classifiers built by the tests with src/onnx/proto.ts, each with a plain-JS reference of its
 * forward pass (no ONNX Runtime, no libtorch), and small PNGs with known pixels. Libtorch-free: the
 * deploy-only tests import it too.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import sharp from 'sharp';
import { CONTRACT, contractProps, type DeployContract } from '../../src/onnx/contract.js';
import { AttributeType, DataType, encodeModel, type AttributeProto, type Dimension, type ModelProto, type NodeProto, type TensorProto, type ValueInfoProto } from '../../src/onnx/proto.js';

export const floats = (name: string, dims: number[], data: ArrayLike<number>): TensorProto => ({
  name, dims, dataType: DataType.FLOAT, rawData: new Uint8Array(Float32Array.from(data).buffer),
});
export const ints = (name: string, values: number[]): AttributeProto => ({ name, type: AttributeType.INTS, ints: values });
export const int = (name: string, value: number): AttributeProto => ({ name, type: AttributeType.INT, i: value });
export const float = (name: string, value: number): AttributeProto => ({ name, type: AttributeType.FLOAT, f: value });
const dims = (shape: (number | string)[]): Dimension[] => shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d }));
export const valueInfo = (name: string, shape: (number | string)[]) => ({ name, type: { tensorType: { elemType: DataType.FLOAT, shape: { dim: dims(shape) } } } });

/** A model around one graph, opset 17 (what onnx 1.12's checker knows), with optional metadata. */
export function modelOf(nodes: NodeProto[], initializer: TensorProto[], input: ValueInfoProto, output: ValueInfoProto, metadata: { key: string; value: string }[] = []): Uint8Array {
  const m: ModelProto = {
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    producerName: 'kestrel-tests',
    graph: { name: 'test', node: nodes, initializer, input: [input], output: [output] },
    metadataProps: metadata,
  };
  return encodeModel(m);
}

/** A seeded value in [-1, 1) (a tiny LCG: the weights only need to be fixed and varied). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  };
}

export interface TinySpec {
  channels?: number;
  /** Fixed [h, w], or null for free height and width. */
  hw?: [number, number] | null;
  /** 'N' for a free batch dimension, or a fixed size. */
  batch?: 'N' | number;
  classes?: number;
  hidden?: number;
  /** The Kestrel contract to embed (merged over defaults), or null for a third-party model without metadata. */
  contract?: Partial<DeployContract> | null;
  /** Output shape after the batch: [classes] (default) or something else to test the checks; null declares no shape. */
  outputShape?: (number | string)[] | null;
  seed?: number;
}

export interface Tiny {
  bytes: Uint8Array;
  contract: DeployContract | null;
  classes: number;
  /** Logits of one CHW image (already normalised), computed in plain JS. */
  reference(chw: Float32Array, h: number, w: number): number[];
}

/**
 * Conv 1×1 (channels → hidden) + bias → Relu → GlobalAveragePool → Flatten → Gemm (hidden →
 * classes): small enough to compute by hand, and every op is one a real exported CNN has.
 */
export function tinyClassifier(spec: TinySpec = {}): Tiny {
  const C = spec.channels ?? 3;
  const H = spec.hidden ?? 5;
  const K = spec.classes ?? 4;
  const hw = spec.hw === undefined ? [8, 8] : spec.hw;
  const rnd = lcg(spec.seed ?? 1);
  const w = Array.from({ length: H * C }, rnd);
  const b = Array.from({ length: H }, () => rnd() * 0.5);
  const W = Array.from({ length: K * H }, () => rnd() * 4);
  const B = Array.from({ length: K }, () => rnd() * 0.3);
  const nodes: NodeProto[] = [
    { opType: 'Conv', input: ['images', 'w', 'b'], output: ['conv'], attribute: [ints('kernel_shape', [1, 1])] },
    { opType: 'Relu', input: ['conv'], output: ['relu'] },
    { opType: 'GlobalAveragePool', input: ['relu'], output: ['pool'] },
    { opType: 'Flatten', input: ['pool'], output: ['flat'] },
    { opType: 'Gemm', input: ['flat', 'W', 'B'], output: ['logits'], attribute: [int('transB', 1)] },
  ];
  const init = [floats('w', [H, C, 1, 1], w), floats('b', [H], b), floats('W', [K, H], W), floats('B', [K], B)];
  const batch = spec.batch ?? 'N';
  const input = valueInfo('images', [batch, C, ...(hw ?? ['height', 'width'])]);
  const output = spec.outputShape === null ? { name: 'logits', type: { tensorType: { elemType: DataType.FLOAT } } } : valueInfo('logits', [batch, ...(spec.outputShape ?? [K])]);
  const contract = spec.contract === null ? null : {
    task: 'classify' as const,
    names: Array.from({ length: K }, (_, i) => `class${i}`),
    imgsz: (hw ?? [8, 8]) as [number, number],
    channels: C as 1 | 3,
    mean: Array.from({ length: C }, (_, i) => [0.485, 0.456, 0.406][i % 3]!),
    std: Array.from({ length: C }, (_, i) => [0.229, 0.224, 0.225][i % 3]!),
    transforms: [],
    output: 'logits' as const,
    precision: 'fp32' as const,
    ...spec.contract,
  };
  const bytes = modelOf(nodes, init, input, output, contract ? contractProps(contract) : []);
  const f = (v: number): number => Math.fround(v);
  const reference = (chw: Float32Array, h: number, wd: number): number[] => {
    const P = h * wd;
    const pooled = Array.from({ length: H }, (_, j) => {
      let sum = 0;
      for (let p = 0; p < P; p++) {
        let z = f(b[j]!);
        for (let c = 0; c < C; c++) z += f(w[j * C + c]!) * chw[c * P + p]!;
        sum += Math.max(0, z);
      }
      return sum / P;
    });
    return Array.from({ length: K }, (_, k) => pooled.reduce((a, v, j) => a + f(W[k * H + j]!) * v, f(B[k]!)));
  };
  return { bytes, contract, classes: K, reference };
}

/** Softmax of one row, in float64. */
export function softmax(x: number[]): number[] {
  const m = Math.max(...x);
  const e = x.map((v) => Math.exp(v - m));
  const s = e.reduce((a, v) => a + v, 0);
  return e.map((v) => v / s);
}

/** An RGB image with a texture and a seed-dependent colour, written losslessly as PNG; returns its HWC bytes. */
export async function writePng(path: string, w: number, h: number, seed: number): Promise<Uint8Array> {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) data[(y * w + x) * 3 + c] = ((x * 29 + y * 17 + c * 71 + x * y * 3 + seed * 11) & 63) + ((seed * 5 + c * 2) % 4) * 60;
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, await sharp(Buffer.from(data), { raw: { width: w, height: h, channels: 3 } }).png().toBuffer());
  return data;
}

/** HWC bytes → normalised CHW floats, cropping the window (top, left, h, w): the preprocessing done by hand. */
export function normalise(hwc: Uint8Array, width: number, mean: number[], std: number[], top: number, left: number, h: number, w: number): Float32Array {
  const out = new Float32Array(3 * h * w);
  for (let c = 0; c < 3; c++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[(c * h + y) * w + x] = (hwc[((top + y) * width + left + x) * 3 + c]! / 255 - mean[c]!) / std[c]!;
  return out;
}

export { CONTRACT };
