/**
 * Runs a detector on images (a file, a folder or a glob) through the shared Predictor and streams
 * one result per image: its boxes in the original image's pixels, best first. `--save` writes copies
 * with the boxes and labels drawn. A `.safetensors` detection checkpoint runs on libtorch; an
 * `.onnx` file from `kestrel export` runs on ONNX Runtime, and that path never loads the addon.
 * Both end in the same post-processing (postprocess.ts), so they print the same boxes.
 *
 * @example
 * for await (const r of predictDetect({ weights: 'best.safetensors', source: 'photos' })) console.log(r);
 * for await (const r of predictDetect({ weights: 'best.onnx', source: 'photos', conf: 0.5 })) console.log(r);
 */
import { extname } from 'node:path';
import sharp from 'sharp';
import { CopiesDir, expandSource, runPredictor, type PredictBackend } from '../../engine/predictor.js';
import { NMS_PREDICT } from '../../metrics/nms.js';
import { drawBoxes } from '../../plot/boxes.js';
import type { DetectBox } from './postprocess.js';

export type { DetectBox } from './postprocess.js';

export interface DetectResult {
  boxes: DetectBox[];
}

export type DetectPrediction = ({ source: string } & DetectResult) | { source: string; error: string };

export interface DetectPredictOptions {
  /** A `.safetensors` checkpoint (libtorch) or an exported `.onnx` (ONNX Runtime). */
  weights: string;
  source: string;
  /** Confidence threshold (0.25), NMS IoU (0.7) and boxes per image (300), Ultralytics' defaults. */
  conf?: number;
  iou?: number;
  maxDet?: number;
  batch?: number;
  workers?: number;
  maxPixels?: number;
  threads?: number;
  /** `.onnx` only: the execution provider ('cpu' by default, 'cuda' where installed). */
  provider?: string;
  save?: boolean;
  project?: string;
  name?: string;
  /** With `save`: told the folder the copies go to, once it exists. */
  onSaveDir?: (dir: string) => void;
}

export async function* predictDetect(o: DetectPredictOptions): AsyncGenerator<DetectPrediction> {
  const paths = await expandSource(o.source);
  const nms = { ...NMS_PREDICT, ...defined(o) };
  const onnx = extname(o.weights).toLowerCase() === '.onnx';
  if (!onnx && o.provider !== undefined) throw new Error(`provider applies to .onnx models only (${o.weights} is a checkpoint)`);
  // Each back end is imported only when used: the ONNX one must not load libtorch.
  const backend: PredictBackend<DetectResult> = onnx
    ? await (await import('./predict-onnx.js')).detectOnnxBackend(o, nms)
    : await (await import('./predict-torch.js')).detectTorchBackend(o, nms);
  const copies = o.save ? new CopiesDir(paths, o.project ?? 'runs/detect', o.name ?? 'predict') : null;
  if (copies) o.onSaveDir?.(copies.dir);
  yield* runPredictor(backend, paths, {
    ...(o.batch === undefined ? {} : { batch: o.batch }),
    ...(o.workers === undefined ? {} : { workers: o.workers }),
    ...(o.maxPixels === undefined ? {} : { maxPixels: o.maxPixels }),
    ...(copies ? { save: (source: string, r: DetectResult) => saveCopy(copies, source, r) } : {}),
  });
}

/** A copy of the image with its boxes and labels drawn, in the run folder. */
async function saveCopy(copies: CopiesDir, source: string, r: DetectResult): Promise<void> {
  const drawn = await drawBoxes(source, r.boxes.map((b) => ({ box: b.box, cls: b.class, label: `${b.label} ${b.score.toFixed(2)}` })));
  await CopiesDir.write(copies.target(source), sharp(drawn));
}

/** The NMS settings the user gave. */
const defined = (o: DetectPredictOptions): { conf?: number; iou?: number; maxDet?: number } => ({
  ...(o.conf === undefined ? {} : { conf: o.conf }), ...(o.iou === undefined ? {} : { iou: o.iou }), ...(o.maxDet === undefined ? {} : { maxDet: o.maxDet }),
});
