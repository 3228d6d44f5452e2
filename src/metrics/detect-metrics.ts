/**
 * A validator's running tally for detection: feed it one image at a time (after NMS, with the
 * validation settings), then read Ultralytics' summary: P, R, mAP50, mAP50-95 and fitness overall
 * and per class, the PR/F1 curves, and the confusion matrix with background.
 */
import { apPerClass, addToDetectionConfusion, detectionConfusion, matchDetections, type ApPerClass, type Detections, type GroundTruth } from './detect.js';
import { IOU_THRESHOLDS } from './ap.js';

export interface DetectionClassRow {
  /** Class index and name. */
  index: number;
  name: string;
  /** Images with at least one label of the class, and its labels. */
  images: number;
  instances: number;
  precision: number;
  recall: number;
  ap50: number;
  ap50_95: number;
}

/** Ultralytics' model-selection score, what picks a detection run's best epoch. */
export const detectionFitness = (map50: number, map50_95: number): number => 0.1 * map50 + 0.9 * map50_95;

export interface DetectionSummary {
  images: number;
  instances: number;
  /** Means over the classes that have labels. */
  precision: number;
  recall: number;
  map50: number;
  map75: number;
  map50_95: number;
  /** Ultralytics' model-selection score: 0.1 · mAP50 + 0.9 · mAP50-95. */
  fitness: number;
  perClass: DetectionClassRow[];
  /** The curves behind precision and recall (for prCurvePng and f1CurvePng). */
  curves: ApPerClass;
  /** (nc + 1)², rows true, columns predicted, the last of each background. */
  confusionMatrix: number[][];
}

export interface DetectionMetricsOptions {
  /** Confusion-matrix confidence and IoU thresholds (Ultralytics: 0.25 and 0.45). */
  confusionConf?: number;
  confusionIou?: number;
  /** How AP is integrated: Ultralytics' (default) or COCO's 101-point rule. */
  apMethod?: 'ultralytics' | 'coco';
}

const mean = (v: readonly number[]): number => (v.length === 0 ? 0 : v.reduce((a, b) => a + b, 0) / v.length);

/**
 * Detection metrics over a dataset, one image at a time.
 *
 * @example
 * const metrics = new DetectionMetrics(['person', 'car']);
 * for (const { pred, gt } of images) metrics.update(pred, gt); // pred after nms(…, NMS_VAL)
 * const s = metrics.summary();
 * console.log(formatDetectionSummary(s));
 */
export class DetectionMetrics {
  readonly names: readonly string[];
  private readonly apMethod: 'ultralytics' | 'coco';
  private readonly confusionOpts: { conf: number; iou: number };
  private readonly tp: Uint8Array[] = [];
  private readonly conf: number[] = [];
  private readonly predCls: number[] = [];
  private readonly targetCls: number[] = [];
  private readonly imagesPerClass: number[];
  private readonly cm: number[][];
  private images = 0;

  constructor(names: readonly string[], opts: DetectionMetricsOptions = {}) {
    this.names = [...names];
    this.apMethod = opts.apMethod ?? 'ultralytics';
    this.confusionOpts = { conf: opts.confusionConf ?? 0.25, iou: opts.confusionIou ?? 0.45 };
    this.cm = detectionConfusion(names.length);
    this.imagesPerClass = new Array<number>(names.length).fill(0);
  }

  /** Adds one image: its detections (xyxy, scores, classes) and labels (xyxy, classes). */
  update(pred: Detections, gt: GroundTruth): void {
    addToDetectionConfusion(this.cm, pred, gt, this.confusionOpts); // validates class indices first
    this.tp.push(matchDetections(pred, gt));
    for (let i = 0; i < pred.scores.length; i++) {
      this.conf.push(pred.scores[i]!);
      this.predCls.push(pred.classes[i]!);
    }
    for (const c of new Set(Array.from(gt.classes))) this.imagesPerClass[c]!++;
    for (let i = 0; i < gt.classes.length; i++) this.targetCls.push(gt.classes[i]!);
    this.images++;
  }

  /** The summary so far. */
  summary(): DetectionSummary {
    const tp = new Uint8Array(this.tp.reduce((s, a) => s + a.length, 0));
    let o = 0;
    for (const a of this.tp) {
      tp.set(a, o);
      o += a.length;
    }
    const curves = apPerClass(tp, this.conf, this.predCls, this.targetCls, { apMethod: this.apMethod });
    const t75 = IOU_THRESHOLDS.indexOf(0.75);
    const perClass = curves.classes.map((c, i): DetectionClassRow => ({
      index: c,
      name: this.names[c]!,
      images: this.imagesPerClass[c]!,
      instances: curves.instances[i]!,
      precision: curves.precision[i]!,
      recall: curves.recall[i]!,
      ap50: curves.ap[i]![0]!,
      ap50_95: mean(curves.ap[i]!),
    }));
    const map50 = mean(perClass.map((r) => r.ap50));
    const map50_95 = mean(perClass.map((r) => r.ap50_95));
    return {
      images: this.images,
      instances: this.targetCls.length,
      precision: mean(curves.precision),
      recall: mean(curves.recall),
      map50,
      map75: mean(curves.ap.map((a) => a[t75]!)),
      map50_95,
      fitness: detectionFitness(map50, map50_95),
      perClass,
      curves,
      confusionMatrix: this.cm.map((row) => [...row]),
    };
  }
}

/**
 * The validation table Ultralytics prints: an "all" row, then one row per class with labels.
 *
 * @example
 * const metrics = new DetectionMetrics(['person', 'car']);
 * metrics.update({ boxes: [0, 0, 10, 10], scores: [0.9], classes: [0] }, { boxes: [0, 0, 10, 10, 5, 5, 9, 9], classes: [0, 1] });
 * console.log(formatDetectionSummary(metrics.summary()));
 * //  Class     Images  Instances          P          R      mAP50   mAP50-95
 * //    all          1          2      0.500      0.500      0.497      0.497
 * // person          1          1      1.000      1.000      0.995      0.995
 * //    car          1          1      0.000      0.000      0.000      0.000
 */
export function formatDetectionSummary(s: DetectionSummary): string {
  const w = Math.max(5, ...s.perClass.map((r) => r.name.length));
  const num = (v: number): string => v.toFixed(3).padStart(11);
  const int = (v: number): string => String(v).padStart(11);
  const head = 'Class'.padStart(w) + ['Images', 'Instances', 'P', 'R', 'mAP50', 'mAP50-95'].map((h) => h.padStart(11)).join('');
  const row = (name: string, images: number, instances: number, p: number, r: number, a50: number, a: number): string =>
    name.padStart(w) + int(images) + int(instances) + num(p) + num(r) + num(a50) + num(a);
  return [
    head,
    row('all', s.images, s.instances, s.precision, s.recall, s.map50, s.map50_95),
    ...s.perClass.map((r) => row(r.name, r.images, r.instances, r.precision, r.recall, r.ap50, r.ap50_95)),
  ].join('\n');
}
