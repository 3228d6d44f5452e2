/**
 * The model a server runs: an `.onnx` file on ONNX Runtime, its description for GET /v1/models,
 * and its bytes for the browser (GET /v1/models/default/model.onnx). Never loads libtorch.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { OnnxClassifier, type ClassifierOptions } from '../runtime/classifier.js';
import type { TransformSpec } from '../data/transforms.js';

/** One entry of GET /v1/models. */
export interface ModelInfo {
  id: string;
  task: 'classify';
  names: string[];
  imgsz: [number, number];
  channels: 1 | 3;
  mean: number[];
  std: number[];
  transforms: TransformSpec[];
  output: 'logits' | 'probs';
  precision: 'fp32' | 'fp16' | 'int8';
  /** Where the ONNX file can be downloaded (relative to the server). */
  onnx: string;
}

export interface ServedModel {
  classifier: OnnxClassifier;
  info: ModelInfo;
  /** The `.onnx` file's bytes, served to browsers (onnxruntime-web). */
  bytes: Buffer;
  /** A strong ETag of the bytes. */
  etag: string;
}

export const MODEL_ID = 'default';

/**
 * Loads `weights` for serving. Only `.onnx` files for now: a `.safetensors` checkpoint is refused
 * with a message that says what to do until in-memory export exists.
 */
export async function loadServedModel(weights: string, opts: ClassifierOptions = {}): Promise<ServedModel> {
  const ext = extname(weights).toLowerCase();
  if (ext === '.safetensors') {
    throw new Error(`${weights}: serving a checkpoint needs the ONNX exporter, which this build lacks; serve an .onnx file instead (exported from the checkpoint)`);
  }
  if (ext !== '.onnx') throw new Error(`${weights}: kestrel serve takes an .onnx model (got a ${ext || 'file without an'} extension)`);
  const classifier = await OnnxClassifier.load(weights, opts);
  const bytes = readFileSync(weights);
  const p = classifier.preprocessing;
  const info: ModelInfo = {
    id: MODEL_ID,
    task: 'classify',
    names: p.names,
    imgsz: p.imgsz,
    channels: p.channels,
    mean: p.mean,
    std: p.std,
    transforms: p.transforms,
    output: p.output,
    precision: classifier.contract?.precision ?? 'fp32',
    onnx: `/v1/models/${MODEL_ID}/model.onnx`,
  };
  return { classifier, info, bytes, etag: `"${createHash('sha256').update(bytes).digest('base64url')}"` };
}
