/**
 * TF.js itself (the @tensorflow/tfjs devDependency, CPU backend) as the reference the converted
 * ONNX models are compared with, and ONNX Runtime to run them.
 */
import * as tf from '@tensorflow/tfjs';
import ort from 'onnxruntime-node';
import type { LoadedTfjs } from '../../src/tfjs/load.js';

let ready: Promise<boolean> | undefined;
/** The CPU backend, without TF.js's banner about tfjs-node. */
export async function tfCpu(): Promise<typeof tf> {
  ready ??= (async () => {
    tf.env().set('IS_NODE', false);
    return tf.setBackend('cpu');
  })();
  await ready;
  return tf;
}

/** TF.js's outputs for an NHWC (or as-declared) float input, by output name. */
export async function tfjsRun(loaded: LoadedTfjs, shards: Uint8Array[], input: Float32Array, shape: number[], outputs: string[]): Promise<Float32Array[]> {
  const t = await tfCpu();
  const bytes = new Uint8Array(shards.reduce((a, s) => a + s.byteLength, 0));
  let at = 0;
  for (const s of shards) {
    bytes.set(s, at);
    at += s.byteLength;
  }
  const { model } = loaded;
  const artifacts = {
    modelTopology: model.modelTopology,
    weightSpecs: model.weightsManifest.flatMap((g) => g.weights) as tf.io.WeightsManifestEntry[],
    weightData: bytes.buffer,
    ...(model.format ? { format: model.format } : {}),
    ...(model.signature ? { signature: model.signature as object } : {}),
    ...(model.userDefinedMetadata ? { userDefinedMetadata: model.userDefinedMetadata as object } : {}),
  };
  const x = t.tensor(input, shape);
  try {
    if (model.modelTopology.node) {
      const m = await t.loadGraphModel(t.io.fromMemory(artifacts));
      const r = (await m.executeAsync({ [m.inputs[0]!.name]: x }, outputs)) as tf.Tensor | tf.Tensor[];
      const list = Array.isArray(r) ? r : [r];
      const out = list.map((y) => Float32Array.from(y.dataSync()));
      list.forEach((y) => y.dispose());
      m.dispose();
      return out;
    }
    const m = await t.loadLayersModel(t.io.fromMemory(artifacts));
    const y = m.predict(x) as tf.Tensor;
    const out = [Float32Array.from(y.dataSync())];
    y.dispose();
    m.dispose();
    return out;
  } finally {
    x.dispose();
  }
}

/** ONNX Runtime's outputs for one input, by name. */
export async function ortRun(bytes: Uint8Array, input: string, data: Float32Array, shape: number[], outputs: string[]): Promise<Float32Array[]> {
  const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, logSeverityLevel: 3 });
  try {
    const r = await s.run({ [input]: new ort.Tensor('float32', data, shape) });
    return outputs.map((o) => Float32Array.from(r[o]!.data as Float32Array, Number));
  } finally {
    await s.release();
  }
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** NCHW data → NHWC (TF's order), for feeding TF.js the same image. */
export function toNhwc(x: Float32Array, [n, c, h, w]: number[]): Float32Array {
  const out = new Float32Array(x.length);
  for (let b = 0; b < n!; b++) for (let k = 0; k < c!; k++) for (let y = 0; y < h!; y++) for (let i = 0; i < w!; i++) out[((b * h! + y) * w! + i) * c! + k] = x[((b * c! + k) * h! + y) * w! + i]!;
  return out;
}
