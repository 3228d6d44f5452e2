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

/** A TF.js model loaded once, run on as many inputs as a test needs. */
export interface TfjsModel {
  /** The outputs, by name, for an NHWC (or as-declared) float input. */
  run(input: Float32Array, shape: number[], outputs: string[]): Promise<Float32Array[]>;
  dispose(): void;
}

/** TF.js loads the model from the shards' own bytes, so it undoes their quantisation itself. */
export async function tfjsModel(loaded: LoadedTfjs, shards: Uint8Array[]): Promise<TfjsModel> {
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
  const read = (ys: tf.Tensor[]): Float32Array[] => {
    const out = ys.map((y) => Float32Array.from(y.dataSync()));
    ys.forEach((y) => y.dispose());
    return out;
  };
  if (model.modelTopology.node) {
    const m = await t.loadGraphModel(t.io.fromMemory(artifacts));
    return {
      run: async (input, shape, outputs) => {
        const x = t.tensor(input, shape);
        try {
          const r = (await m.executeAsync({ [m.inputs[0]!.name]: x }, outputs)) as tf.Tensor | tf.Tensor[];
          return read(Array.isArray(r) ? r : [r]);
        } finally {
          x.dispose();
        }
      },
      dispose: () => m.dispose(),
    };
  }
  const m = await t.loadLayersModel(t.io.fromMemory(artifacts));
  return {
    run: async (input, shape) => {
      const x = t.tensor(input, shape);
      try {
        return read([m.predict(x) as tf.Tensor]);
      } finally {
        x.dispose();
      }
    },
    dispose: () => m.dispose(),
  };
}

/** TF.js's outputs for one input (the model loaded for this call only). */
export async function tfjsRun(loaded: LoadedTfjs, shards: Uint8Array[], input: Float32Array, shape: number[], outputs: string[]): Promise<Float32Array[]> {
  const m = await tfjsModel(loaded, shards);
  try {
    return await m.run(input, shape, outputs);
  } finally {
    m.dispose();
  }
}

/** An ONNX Runtime session (one thread, as the reference runs), run on as many inputs as a test needs. */
export interface OrtModel {
  run(data: Float32Array, shape: number[], outputs: string[]): Promise<Float32Array[]>;
  release(): Promise<void>;
}

export async function ortModel(bytes: Uint8Array, input: string): Promise<OrtModel> {
  const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, logSeverityLevel: 3 });
  return {
    run: async (data, shape, outputs) => {
      const r = await s.run({ [input]: new ort.Tensor('float32', data, shape) });
      return outputs.map((o) => Float32Array.from(r[o]!.data as Float32Array, Number));
    },
    release: () => s.release(),
  };
}

/** ONNX Runtime's outputs for one input, by name. */
export async function ortRun(bytes: Uint8Array, input: string, data: Float32Array, shape: number[], outputs: string[]): Promise<Float32Array[]> {
  const m = await ortModel(bytes, input);
  try {
    return await m.run(data, shape, outputs);
  } finally {
    await m.release();
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
