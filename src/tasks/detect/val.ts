/**
 * Evaluates a detection checkpoint on a data split through the shared Validator: Ultralytics'
 * summary (P, R, mAP50, mAP50-95 per class), the 12 COCO statistics, and in the run folder
 * `metrics.json`, `predictions.json` (COCO results: `image_id` = the file's name without extension,
 * `category_id` = the class index, `bbox` = [x, y, w, h] in the original image's pixels, `score`)
 * and `ground_truth.json` (COCO instances with the same ids), so anyone can recompute the metrics.
 *
 * @example
 * const { metrics } = await valDetect({ weights: 'runs/detect/train/weights/best.safetensors', data: 'digits/data.yaml' });
 */
import { basename, extname } from 'node:path';
import type { TransformSpec } from '../../data/transforms.js';
import { DataLoader } from '../../data/loader.js';
import type { FileSource } from '../../data/source.js';
import { resolveDetectData } from '../../data/yolo.js';
import { loadCheckpoint } from '../../engine/checkpoint.js';
import { runValidation, type ValOptionsBase, type ValRun, type ValTask } from '../../engine/validator.js';
import { cocoEvaluate, formatCocoStats, type CocoDataset, type CocoDetection } from '../../metrics/coco-eval.js';
import { DetectionMetrics, formatDetectionSummary, type DetectionSummary } from '../../metrics/detect-metrics.js';
import { NMS_VAL } from '../../metrics/nms.js';
import { MODELS, isModelName, type DetectorModel } from '../../models/registry.js';
import { detectionConfusionPng, f1CurvePng, prCurvePng } from '../../plot/index.js';
import { noGrad } from '../../tensor/runtime.js';
import { tidy } from '../../tensor/scope.js';
import type { Tensor } from '../../tensor/tensor.js';
import { detectionsOf, toOriginal, type ImageDetections } from './postprocess.js';

export interface DetectValOptions extends ValOptionsBase {
  batch?: number;
  workers?: number;
  /** NMS settings (validation defaults: conf 0.001, iou 0.7, 300 per image). */
  conf?: number;
  iou?: number;
  maxDet?: number;
}

export interface DetectValMetrics extends DetectionSummary {
  /** The 12 COCO statistics of predictions.json against ground_truth.json. */
  coco: number[];
}

interface Scored {
  source: FileSource;
  detections: ImageDetections[];
  /** The COCO form, made once by report() for both the evaluator and the files. */
  coco?: ReturnType<typeof asCoco>;
}

const COCO_NAMES = ['AP', 'AP50', 'AP75', 'AP_small', 'AP_medium', 'AP_large', 'AR1', 'AR10', 'AR100', 'AR_small', 'AR_medium', 'AR_large'];

/** The file's name without extension as its id (a number when it is one, as Ultralytics writes it); paths break ties. */
function imageIds(paths: readonly string[]): (string | number)[] {
  const stems = paths.map((p) => basename(p, extname(p)));
  const taken = new Map<string, number>();
  for (const s of stems) taken.set(s, (taken.get(s) ?? 0) + 1);
  return stems.map((s, i) => {
    const id = taken.get(s)! > 1 ? paths[i]!.slice(0, paths[i]!.length - extname(paths[i]!).length) : s;
    return /^\d+$/.test(id) ? Number(id) : id;
  });
}

/** The split's labels and the detections as COCO files (ids as written) and as numbered sets for the evaluator. */
function asCoco(scored: Scored, classes: readonly string[]): { gt: CocoDataset; dt: CocoDetection[]; files: { gt: unknown; dt: unknown[] } } {
  const { source, detections } = scored;
  const ids = imageIds(source.paths);
  const images: { id: number; file_name: string }[] = [];
  const annotations: { id: number; image_id: number; category_id: number; bbox: number[]; area: number; iscrowd: 0 }[] = [];
  const dt: CocoDetection[] = [];
  source.paths.forEach((path, i) => {
    images.push({ id: i + 1, file_name: path });
    const t = source.boxes![i]!;
    for (let j = 0; j < t.classes.length; j++) {
      const [x1, y1, x2, y2] = Array.from(t.boxes.subarray(j * 4, j * 4 + 4));
      annotations.push({ id: annotations.length + 1, image_id: i + 1, category_id: t.classes[j]!, bbox: [x1!, y1!, x2! - x1!, y2! - y1!], area: (x2! - x1!) * (y2! - y1!), iscrowd: 0 });
    }
    const d = detections[i]!;
    for (let j = 0; j < d.scores.length; j++) {
      const [x1, y1, x2, y2] = Array.from(d.boxes.subarray(j * 4, j * 4 + 4));
      dt.push({ image_id: i + 1, category_id: d.classes[j]!, bbox: [x1!, y1!, x2! - x1!, y2! - y1!].map((v) => Number(v.toFixed(3))), score: Number(d.scores[j]!.toFixed(5)) });
    }
  });
  const categories = classes.map((name, id) => ({ id, name }));
  const gt: CocoDataset = { images, annotations, categories };
  const named = (n: number): string | number => ids[n - 1]!;
  return {
    gt, dt,
    files: {
      gt: { images: images.map((im) => ({ ...im, id: named(im.id) })), annotations: annotations.map((a) => ({ ...a, image_id: named(a.image_id) })), categories },
      dt: dt.map((d) => ({ ...d, image_id: named(d.image_id) })),
    },
  };
}

/** What scores a batch: a checkpoint on libtorch or an exported `.onnx` on ONNX Runtime. */
interface Engine {
  classes: string[];
  transforms: TransformSpec[];
  trained?: { spec: string; seed: number; valFraction?: number } | undefined;
  epoch: number;
  /** The decoded output [n, 4 + nc, A] of a batch of preprocessed images. */
  decode(images: Tensor): Promise<{ decoded: Float32Array; anchors: number }>;
  dispose(): Promise<void>;
}

function torchEngine(weights: string): Engine {
  const ckpt = loadCheckpoint<DetectorModel, 'detect'>(weights, { task: 'detect' });
  const channelsLast = isModelName(ckpt.meta.model.name) && MODELS[ckpt.meta.model.name].channelsLast;
  if (channelsLast) ckpt.model.memoryFormat('channelsLast');
  return {
    classes: ckpt.meta.classes, transforms: ckpt.meta.preprocess.transforms, trained: ckpt.meta.data, epoch: ckpt.meta.epoch,
    decode: async (images) => noGrad(() => tidy(() => {
      const out = ckpt.model.forward(channelsLast ? images.contiguous(true) : images);
      return { decoded: out.decoded!.dataSync() as Float32Array, anchors: out.decoded!.size(2) };
    })),
    dispose: async () => ckpt.model.dispose(),
  };
}

/** An exported detector: so `val` judges fp32, fp16 and int8 files on the same split as their checkpoint. */
async function onnxEngine(weights: string): Promise<Engine> {
  const { OnnxDetector } = await import('../../runtime/detector.js');
  const det = await OnnxDetector.load(weights);
  const { names, transforms } = det.contract;
  return {
    classes: names, transforms, epoch: 0,
    async decode(images) {
      const [n, ...chw] = images.shape as [number, number, number, number];
      const { data, anchors } = await det.run(images.dataSync() as Float32Array, n, chw);
      return { decoded: data, anchors };
    },
    dispose: () => det.dispose(),
  };
}

const detectVal: ValTask<DetectValOptions, Scored, DetectValMetrics> = {
  project: 'runs/detect',
  async open(o) {
    const engine = extname(o.weights).toLowerCase() === '.onnx' ? await onnxEngine(o.weights) : torchEngine(o.weights);
    const { classes, transforms } = engine;
    const nms = { ...NMS_VAL, ...(o.conf === undefined ? {} : { conf: o.conf }), ...(o.iou === undefined ? {} : { iou: o.iou }), ...(o.maxDet === undefined ? {} : { maxDet: o.maxDet }), multiLabel: true };
    return {
      classes, trained: engine.trained, epoch: engine.epoch,
      async score(source, _label, _quiet) {
        const files = source as FileSource;
        const detections: ImageDetections[] = new Array(files.paths.length);
        const loader = new DataLoader(files, { batchSize: o.batch ?? 32, transforms, seed: 0, geometry: true, ...(o.workers === undefined ? {} : { workers: o.workers }) });
        try {
          for await (const batch of loader.epoch(0)) {
            using _batch = batch;
            const { decoded, anchors } = await engine.decode(batch.images);
            batch.indices.forEach((index, b) => (detections[index] = toOriginal(detectionsOf(decoded, b, classes.length, anchors, nms), batch.geometry![b]!)));
          }
        } finally {
          await loader.close();
        }
        // Images that could not be read are left out of both sides.
        const kept = [...detections.keys()].filter((i) => detections[i] !== undefined);
        return { source: { ...files, paths: kept.map((i) => files.paths[i]!), boxes: kept.map((i) => files.boxes![i]!), labels: new Int32Array(kept.length) }, detections: kept.map((i) => detections[i]!) };
      },
      dispose: () => engine.dispose(),
    };
  },
  async resolveData(spec) {
    const d = await resolveDetectData(spec);
    return { classes: d.classes, splits: d.splits, skipped: d.skipped };
  },
  report(scored, classes, split) {
    const m = new DetectionMetrics(classes);
    scored.detections.forEach((d, i) => m.update(d, scored.source.boxes![i]!));
    const summary = m.summary();
    scored.coco = asCoco(scored, classes);
    const coco = cocoEvaluate(scored.coco.gt, scored.coco.dt).stats;
    const metrics: DetectValMetrics = { ...summary, coco };
    const { curves: _curves, confusionMatrix, perClass, ...overall } = summary;
    return {
      metrics, count: scored.source.paths.length,
      json: { ...overall, coco: Object.fromEntries(COCO_NAMES.map((k, i) => [k, coco[i]])), perClass, confusionMatrix },
      lines: (dir) => [formatDetectionSummary(summary), 'COCO evaluation of predictions.json against ground_truth.json (101-point interpolation; the table above integrates as Ultralytics does, so the two differ slightly):', formatCocoStats(coco), `${split}: ${scored.source.paths.length} images · mAP50 ${summary.map50.toFixed(3)} · mAP50-95 ${summary.map50_95.toFixed(3)} → ${dir}`],
    };
  },
  async write(run, scored, metrics, { classes }) {
    const { files } = scored.coco ?? asCoco(scored, classes);
    run.writeJson('predictions.json', files.dt);
    run.writeJson('ground_truth.json', files.gt);
    await prCurvePng(metrics.curves, classes, run.file('PR_curve.png'));
    await f1CurvePng(metrics.curves, classes, run.file('F1_curve.png'));
    await detectionConfusionPng(metrics.confusionMatrix, classes, run.file('confusion_matrix.png'), { title: 'Confusion matrix' });
  },
};

export const valDetect = (o: DetectValOptions): Promise<ValRun<DetectValMetrics>> => runValidation(detectVal, o);
