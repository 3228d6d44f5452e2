/**
 * The model a server runs on ONNX Runtime (a classifier or, by its contract's task, a detector or a
 * segmentation model),
 * its description for GET /v1/models, and its ONNX bytes for the browser (GET
 * /v1/models/default/model.onnx). An `.onnx` file never loads libtorch; a `.safetensors`
 * checkpoint is exported to ONNX in memory first, which does.
 */
import { createHash } from 'node:crypto';
import { extname } from 'node:path';
import { readContract, type DeployContract } from '../onnx/contract.js';
import { OnnxClassifier, type ClassifierOptions } from '../runtime/classifier.js';
import { OnnxDetector } from '../runtime/detector.js';
import { OnnxSegmenter } from '../runtime/segmenter.js';
import type { Preprocessing } from '../runtime/preprocess.js';
import { decodeOnnx, readOnnxFile, type OnnxFile } from '../runtime/session.js';

/** One entry of GET /v1/models. */
export type ModelInfo = { id: string; /** Where the ONNX file can be downloaded (relative to the server). */ onnx: string }
  & Pick<DeployContract, 'task' | 'names' | 'imgsz' | 'channels' | 'mean' | 'std' | 'transforms' | 'output' | 'precision'>;

/** What runs the images: a classifier, a detector whose boxes post-processing gives, or a segmentation model whose masks it gives. */
export type ServedRunner = { task: 'classify'; classifier: OnnxClassifier } | { task: 'detect'; detector: OnnxDetector } | { task: 'segment'; segmenter: OnnxSegmenter };

export interface ServedModel {
  runner: ServedRunner;
  /** How images become its input (a detector's or segmentation model's from its contract: letterbox, pixels/255). */
  preprocessing: Preprocessing;
  /** The fixed batch size the graph declares, or null. */
  batchLimit: number | null;
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
  const runner = await loadRunner(file, opts);
  const bytes = Buffer.from(file.bytes.buffer, file.bytes.byteOffset, file.bytes.byteLength);
  const { contract, preprocessing: p, batchLimit } = runner.task === 'classify'
    ? { contract: runner.classifier.contract, preprocessing: runner.classifier.preprocessing, batchLimit: runner.classifier.batchLimit }
    : runner.task === 'detect'
      ? { contract: runner.detector.contract, preprocessing: runner.detector.contract, batchLimit: runner.detector.batchLimit }
      : { contract: runner.segmenter.contract, preprocessing: runner.segmenter.contract, batchLimit: runner.segmenter.batchLimit };
  const info: ModelInfo = {
    id: MODEL_ID,
    task: contract?.task ?? 'classify',
    names: p.names,
    imgsz: p.imgsz,
    channels: p.channels,
    mean: p.mean,
    std: p.std,
    transforms: p.transforms,
    output: p.output,
    precision: contract?.precision ?? 'fp32',
    onnx: `/v1/models/${MODEL_ID}/model.onnx`,
  };
  const { names, imgsz, channels, mean, std, transforms, output } = p;
  return { runner, preprocessing: { names, imgsz, channels, mean, std, transforms, output }, batchLimit, info, bytes, etag: `"${createHash('sha256').update(bytes).digest('base64url')}"` };
}

/** The file's contract says detect or segment: that model (preprocessing options do not apply); else a classifier. */
async function loadRunner(file: OnnxFile, opts: ClassifierOptions): Promise<ServedRunner> {
  let task: string | undefined;
  try {
    task = readContract(file.model.metadataProps ?? [])?.task;
  } catch {
    // A malformed contract: the classifier's loader names the problem.
  }
  if (task !== 'detect' && task !== 'segment') return { task: 'classify', classifier: await OnnxClassifier.load(file, opts) };
  const given = (['preprocess', 'preprocessFile'] as const).filter((k) => opts[k] !== undefined);
  if (given.length > 0) throw new Error(`${given.join(', ')}: a ${task === 'detect' ? 'detection' : 'segmentation'} model's own metadata gives its preprocessing (${file.path})`);
  const { provider, threads } = opts;
  const session = { ...(provider === undefined ? {} : { provider }), ...(threads === undefined ? {} : { threads }) };
  if (task === 'segment') return { task, segmenter: await OnnxSegmenter.load(file, session) };
  return { task, detector: await OnnxDetector.load(file, session) };
}

/** Releases the model's session. */
export const disposeRunner = (r: ServedRunner): Promise<void> => (r.task === 'classify' ? r.classifier.dispose() : r.task === 'detect' ? r.detector.dispose() : r.segmenter.dispose());
