/**
 * Runs a classifier on images (a file, a folder or a glob) and streams one result per image, so
 * results never pile up in memory. A `.safetensors` checkpoint runs on libtorch; an `.onnx` file
 * runs on ONNX Runtime, and that path never loads the libtorch addon.
 *
 * @example
 * for await (const r of predict({ weights: 'best.safetensors', source: 'photos/*.jpg', topk: 3 })) console.log(r);
 * for await (const r of predict({ weights: 'model.onnx', source: 'photos', threads: 2 })) console.log(r);
 */
import { extname } from 'node:path';
import { expandSource, runPredictor, type PredictBackend } from '../../engine/predictor.js';
import type { PreprocessSpec } from '../../runtime/preprocess.js';
import { LabelledCopies, type Prediction, type TopResult } from './predict-common.js';

export type { Prediction } from './predict-common.js';
export { expandSource } from '../../engine/predictor.js';

export interface PredictOptions {
  /** A `.safetensors` checkpoint (libtorch) or an `.onnx` model (ONNX Runtime). */
  weights: string;
  source: string;
  topk?: number;
  batch?: number;
  workers?: number;
  /** Images with more pixels than this get an error line instead of being decoded; default 40,000,000. */
  maxPixels?: number;
  /** Writes a labelled copy of each image into a run folder. */
  save?: boolean;
  project?: string;
  /** With `save`: told the folder the copies go to, once it exists. */
  onSaveDir?: (dir: string) => void;
  name?: string;
  /** Intra-op threads (default: the number of cores). */
  threads?: number;
  /** `.onnx` only: the execution provider ('cpu' by default, 'cuda' where installed). */
  provider?: string;
  /** `.onnx` only: preprocessing keys that override the file's metadata (required for a model without it). */
  preprocess?: PreprocessSpec;
  /** `.onnx` only: a YAML file with the same keys (`preprocess` overrides it). */
  preprocessFile?: string;
}

/** Whether weights name an ONNX model (and so run on ONNX Runtime). */
export const isOnnxPath = (weights: string): boolean => extname(weights).toLowerCase() === '.onnx';

export async function* predict(o: PredictOptions): AsyncGenerator<Prediction> {
  const onnx = isOnnxPath(o.weights);
  if (!onnx) {
    const onnxOnly = (['provider', 'preprocess', 'preprocessFile'] as const).filter((key) => o[key] !== undefined);
    if (onnxOnly.length > 0) throw new Error(`${onnxOnly.join(', ')} apply to .onnx models only (${o.weights} is a checkpoint: its own metadata gives the preprocessing)`);
  }
  for (const key of ['threads', 'maxPixels'] as const) {
    const v = o[key];
    if (v !== undefined && !(Number.isInteger(v) && v > 0)) throw new RangeError(`${key} must be a positive integer, got ${v}`);
  }
  const paths = await expandSource(o.source);
  // Each back end is imported only when used: the ONNX one must not load libtorch.
  const backend: PredictBackend<TopResult> = onnx ? await (await import('./predict-onnx.js')).onnxBackend(o) : await (await import('./predict-torch.js')).torchBackend(o);
  const copies = o.save ? new LabelledCopies(paths, o.project ?? 'runs/classify', o.name ?? 'predict') : null;
  if (copies) o.onSaveDir?.(copies.dir);
  yield* runPredictor(backend, paths, {
    ...(o.batch === undefined ? {} : { batch: o.batch }),
    ...(o.workers === undefined ? {} : { workers: o.workers }),
    ...(o.maxPixels === undefined ? {} : { maxPixels: o.maxPixels }),
    ...(copies ? { save: (source: string, r: TopResult) => copies.save(source, r.top[0]!) } : {}),
  });
}
