/**
 * TF.js's model format (https://www.tensorflow.org/js/guide/save_load): a `model.json` holding
 * either a GraphDef (`format: "graph-model"`, from tensorflowjs_converter) or a Keras topology
 * (a layers model), and a weights manifest naming binary shards. This file reads the manifest and
 * the shards into named float32 or int32 arrays, undoing the converter's weight compression:
 * float16, and uint8/uint16 affine quantisation (`value = q * scale + min`).
 */
import { fromHalfArray } from '../onnx/half.js';

export class TfjsError extends Error {
  override name = 'TfjsError';
}

export interface Quantization {
  dtype: 'uint8' | 'uint16' | 'float16';
  scale?: number;
  min?: number;
  original_dtype?: string;
}

export interface WeightSpec {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32' | 'bool' | string;
  quantization?: Quantization;
}

export interface WeightGroup {
  paths: string[];
  weights: WeightSpec[];
}

/** A GraphDef node as the converter writes it (attributes in TensorFlow's JSON form). */
export interface GraphNode {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, TfAttr>;
}

export interface TfAttr {
  s?: string;
  i?: string | number;
  f?: number;
  b?: boolean;
  type?: string;
  shape?: { dim?: { size: string | number }[]; unknownRank?: boolean };
  list?: { s?: string[]; i?: (string | number)[]; f?: number[]; type?: string[] };
  tensor?: unknown;
}

export interface ModelJson {
  format?: string;
  generatedBy?: string;
  convertedBy?: string;
  modelTopology: { node?: GraphNode[]; model_config?: KerasModelConfig; library?: { function?: unknown[] } } & Record<string, unknown>;
  weightsManifest: WeightGroup[];
  signature?: unknown;
  userDefinedMetadata?: Record<string, unknown>;
}

export interface KerasLayer {
  name: string;
  class_name: string;
  config: Record<string, unknown>;
  inbound_nodes: unknown[];
}

export interface KerasModelConfig {
  class_name: string;
  config: { name?: string; layers: KerasLayer[]; input_layers?: unknown[]; output_layers?: unknown[] };
}

/** A weight as TF.js holds it once loaded. */
export interface Weight {
  shape: number[];
  dtype: 'float32' | 'int32' | 'bool';
  data: Float32Array | Int32Array | Uint8Array;
}

const BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2 };

const count = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** Checks the parts of model.json the readers rely on, so a wrong file fails here in one line. */
export function parseModelJson(text: string, what: string): ModelJson {
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch (e) {
    throw new TfjsError(`${what} is not JSON: ${(e as Error).message}`);
  }
  const o = m as Partial<ModelJson>;
  if (typeof o !== 'object' || o === null || typeof o.modelTopology !== 'object' || !Array.isArray(o.weightsManifest)) {
    throw new TfjsError(`${what} is not a TF.js model.json (it needs modelTopology and weightsManifest)`);
  }
  return o as ModelJson;
}

/**
 * The weights of a manifest from its shards' bytes (`shard(path)` gives one file's contents).
 * TF.js concatenates every group's shards and reads the weights in manifest order; so does this.
 */
export function readWeights(manifest: readonly WeightGroup[], shard: (path: string) => Uint8Array): Map<string, Weight> {
  const out = new Map<string, Weight>();
  for (const group of manifest) {
    const parts = group.paths.map((p) => shard(p));
    const total = parts.reduce((a, p) => a + p.byteLength, 0);
    const buf = new Uint8Array(total);
    let at = 0;
    for (const p of parts) {
      buf.set(p, at);
      at += p.byteLength;
    }
    let offset = 0;
    for (const w of group.weights) {
      const stored = w.quantization?.dtype ?? w.dtype;
      const size = BYTES[stored];
      if (size === undefined) throw new TfjsError(`weight ${w.name} has dtype ${stored}, which TF.js models for images do not use and Kestrel does not read`);
      const n = count(w.shape);
      const bytes = n * size;
      if (offset + bytes > total) throw new TfjsError(`weight shards of [${group.paths.join(', ')}] hold ${total} bytes; ${w.name} needs bytes ${offset}–${offset + bytes} (a truncated shard?)`);
      // A copy, so the typed array is aligned whatever the offset.
      const raw = buf.slice(offset, offset + bytes);
      offset += bytes;
      out.set(w.name, decode(w, raw, n));
    }
    if (offset !== total) throw new TfjsError(`weight shards of [${group.paths.join(', ')}] hold ${total} bytes but the manifest describes ${offset}`);
  }
  return out;
}

function decode(w: WeightSpec, raw: Uint8Array, n: number): Weight {
  const q = w.quantization;
  const dtype = (q?.original_dtype ?? w.dtype) as Weight['dtype'];
  if (dtype !== 'float32' && dtype !== 'int32' && dtype !== 'bool') throw new TfjsError(`weight ${w.name} has dtype ${dtype}, which Kestrel does not read`);
  if (!q) {
    const data = dtype === 'bool' ? raw : dtype === 'int32' ? new Int32Array(raw.buffer, 0, n) : new Float32Array(raw.buffer, 0, n);
    return { shape: w.shape, dtype, data };
  }
  if (q.dtype === 'float16') return { shape: w.shape, dtype: 'float32', data: fromHalfArray(new Uint16Array(raw.buffer, 0, n)) };
  const ints = q.dtype === 'uint8' ? raw : new Uint16Array(raw.buffer, 0, n);
  const scale = q.scale ?? 1;
  const min = q.min ?? 0;
  // As TF.js does: the affine map in double precision, rounded once to float32 on storing.
  const f = new Float32Array(n);
  for (let i = 0; i < n; i++) f[i] = ints[i]! * scale + min;
  if (dtype === 'int32') return { shape: w.shape, dtype, data: Int32Array.from(f, (v) => Math.round(v)) };
  return { shape: w.shape, dtype: 'float32', data: f };
}
