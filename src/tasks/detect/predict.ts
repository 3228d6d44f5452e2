/**
 * Runs a detector on images (a file, a folder or a glob) through the shared Predictor and streams
 * one result per image: its boxes in the original image's pixels, best first. `--save` writes copies
 * with the boxes and labels drawn. A `.safetensors` detection checkpoint runs on libtorch.
 *
 * @example
 * for await (const r of predictDetect({ weights: 'best.safetensors', source: 'photos' })) console.log(r);
 */
import sharp from 'sharp';
import { CopiesDir, expandSource, runPredictor, type PredictBackend } from '../../engine/predictor.js';
import { NMS_PREDICT } from '../../metrics/nms.js';
import { drawBoxes } from '../../plot/boxes.js';

export interface DetectBox {
  label: string;
  class: number;
  score: number;
  /** x1, y1, x2, y2 in the original image's pixels. */
  box: [number, number, number, number];
}

export interface DetectResult {
  boxes: DetectBox[];
}

export type DetectPrediction = ({ source: string } & DetectResult) | { source: string; error: string };

export interface DetectPredictOptions {
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
  save?: boolean;
  project?: string;
  name?: string;
}

export async function* predictDetect(o: DetectPredictOptions): AsyncGenerator<DetectPrediction> {
  const paths = await expandSource(o.source);
  const backend: PredictBackend<DetectResult> = await (await import('./predict-torch.js')).detectTorchBackend(o, { ...NMS_PREDICT, ...defined(o) });
  const copies = o.save ? new CopiesDir(paths, o.project ?? 'runs/detect', o.name ?? 'predict') : null;
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
