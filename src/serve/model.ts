/**
 * The model a server runs on ONNX Runtime, its description for GET /v1/models, and its ONNX bytes
 * for the browser (GET /v1/models/default/model.onnx). An `.onnx` file never loads libtorch; a
 * `.safetensors` checkpoint is exported to ONNX in memory first, which does.
 */
import { createHash } from 'node:crypto';
import { extname } from 'node:path';
import type { DeployContract } from '../onnx/contract.js';
import { OnnxClassifier, type ClassifierOptions } from '../runtime/classifier.js';
import { decodeOnnx, readOnnxFile, type OnnxFile } from '../runtime/session.js';

/** One entry of GET /v1/models. */
export type ModelInfo = { id: string; /** Where the ONNX file can be downloaded (relative to the server). */ onnx: string }
  & Pick<DeployContract, 'task' | 'names' | 'imgsz' | 'channels' | 'mean' | 'std' | 'transforms' | 'output' | 'precision'>;

export interface ServedModel {
  classifier: OnnxClassifier;
  info: ModelInfo;
  /** The `.onnx` file's bytes, served to browsers (onnxruntime-web). */
  bytes: Buffer;
  /** A strong ETag of the bytes. */
  etag: string;
}

export const MODEL_ID = 'default';

/** A checkpoint as ONNX bytes in memory, with a dynamic batch (the only place serving loads libtorch). */
async function exportInMemory(weights: string): Promise<OnnxFile> {
  const { checkpointToOnnx } = await import('../export/export.js');
  return decodeOnnx(`${weights} (exported to ONNX)`, (await checkpointToOnnx(weights, { dynamicBatch: true })).bytes);
}

/**
 * Loads `weights` for serving: an `.onnx` file, or a `.safetensors` checkpoint written by
 * `kestrel train` (exported to ONNX in memory; its own metadata gives the preprocessing).
 */
export async function loadServedModel(weights: string, opts: ClassifierOptions = {}): Promise<ServedModel> {
  const ext = extname(weights).toLowerCase();
  let file: OnnxFile;
  if (ext === '.safetensors') {
    const onnxOnly = (['preprocess', 'preprocessFile'] as const).filter((k) => opts[k] !== undefined);
    if (onnxOnly.length > 0) throw new Error(`${onnxOnly.join(', ')} apply to .onnx models only (${weights} is a checkpoint: its own metadata gives the preprocessing)`);
    file = await exportInMemory(weights);
  } else if (ext === '.onnx') {
    file = readOnnxFile(weights);
  } else {
    throw new Error(`${weights}: kestrel serve takes an .onnx model or a .safetensors checkpoint (got ${ext ? `a ${ext} file` : 'a file without an extension'})`);
  }
  const classifier = await OnnxClassifier.load(file, opts);
  const bytes = Buffer.from(file.bytes.buffer, file.bytes.byteOffset, file.bytes.byteLength);
  const p = classifier.preprocessing;
  const info: ModelInfo = {
    id: MODEL_ID,
    task: classifier.contract?.task ?? 'classify',
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
