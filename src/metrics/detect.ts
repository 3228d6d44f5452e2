/**
 * Detection metrics in Ultralytics' style for the training log and `val`: matching of one image's
 * detections to its labels, per-class AP50 and AP50-95, precision and recall at the confidence of
 * best mean F1 with the curves behind them, and a confusion matrix with a background class.
 * Plain arrays in, plain numbers out: no tensors, so the server and the browser can use it too.
 *
 * Matching is COCO's (each detection, highest score first, takes the unmatched label of its class
 * with the highest IoU ≥ the threshold), so mAP50-95 with `apMethod: 'coco'` equals COCO's AP when
 * there are no crowd boxes and at most 100 detections per image and class. Ultralytics' own
 * validator matches by IoU first (match_predictions); the two differ only when a detection's
 * best label is also a better-scoring detection's best label. COCO's crowd regions and area
 * ranges live in cocoEvaluate (coco-eval.ts) only.
 */
import { IOU_THRESHOLDS, cocoAp, interp, linspace, roundHalfEven, smooth, ultralyticsAp } from './ap.js';
import { boxCount, boxIou, type Boxes } from './boxes.js';

/** One image's detections: xyxy boxes (4 numbers each), scores and class indices. */
export interface Detections { boxes: Boxes; scores: ArrayLike<number>; classes: ArrayLike<number> }
/** One image's labels: xyxy boxes and class indices. */
export interface GroundTruth { boxes: Boxes; classes: ArrayLike<number> }

function checkDetections(pred: Detections, gt: GroundTruth, who: string): { n: number; m: number } {
  const n = boxCount(pred.boxes, `${who}: detection boxes`);
  const m = boxCount(gt.boxes, `${who}: label boxes`);
  if (pred.scores.length !== n || pred.classes.length !== n) {
    throw new RangeError(`${who}: ${n} detection boxes but ${pred.scores.length} scores and ${pred.classes.length} classes`);
  }
  if (gt.classes.length !== m) throw new RangeError(`${who}: ${m} label boxes but ${gt.classes.length} classes`);
  return { n, m };
}

/** Indices by descending score, equal scores in index order. */
function scoreOrder(scores: ArrayLike<number>): number[] {
  return Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]! || a - b);
}

/**
 * Which detections are true positives at each IoU threshold: `tp[d * T + t]` is 1 when detection d
 * matched a label of its class at threshold t (COCO's greedy matching, see the file comment).
 *
 * @example
 * // one label; two detections on it: only the higher-scoring one matches
 * matchDetections({ boxes: [0, 0, 10, 10, 0, 0, 10, 10], scores: [0.6, 0.9], classes: [0, 0] },
 *                 { boxes: [0, 0, 10, 10], classes: [0] }, [0.5]); // Uint8Array [0, 1]
 */
export function matchDetections(pred: Detections, gt: GroundTruth, iouThresholds: readonly number[] = IOU_THRESHOLDS): Uint8Array {
  const { n, m } = checkDetections(pred, gt, 'matchDetections');
  const T = iouThresholds.length;
  const tp = new Uint8Array(n * T);
  if (n === 0 || m === 0) return tp;
  const iou = boxIou(pred.boxes, gt.boxes);
  const order = scoreOrder(pred.scores);
  for (let t = 0; t < T; t++) {
    const taken = new Uint8Array(m);
    for (const d of order) {
      let best = Math.min(iouThresholds[t]!, 1 - 1e-10);
      let match = -1;
      for (let g = 0; g < m; g++) {
        if (taken[g] || gt.classes[g] !== pred.classes[d] || iou[d * m + g]! < best) continue;
        best = iou[d * m + g]!;
        match = g;
      }
      if (match >= 0) {
        taken[match] = 1;
        tp[d * T + t] = 1;
      }
    }
  }
  return tp;
}

export interface ApPerClass {
  /** The classes that have labels, ascending (Ultralytics reports only these). */
  classes: number[];
  /** Labels per class. */
  instances: number[];
  /** ap[c][t]: AP of classes[c] at IoU threshold t. */
  ap: number[][];
  /** Per class, at the confidence where the smoothed mean F1 peaks. */
  precision: number[];
  recall: number[];
  f1: number[];
  /** round(recall · instances) and the false positives that go with it, at that confidence. */
  tp: number[];
  fp: number[];
  /** That confidence: px[bestIndex]. */
  bestConf: number;
  bestIndex: number;
  /** 1000 confidences 0..1: the x of pCurve, rCurve and f1Curve, and the recall axis of prCurve. */
  px: number[];
  /** Per class over px, at the first IoU threshold. */
  pCurve: Float64Array[];
  rCurve: Float64Array[];
  f1Curve: Float64Array[];
  /** Per class: the precision envelope at recall px (first IoU threshold); zeros for a class never predicted. */
  prCurve: Float64Array[];
}

/**
 * Ultralytics' ap_per_class over all detections of a dataset: `tp` is n×T (from matchDetections,
 * concatenated over images), `conf` and `predCls` per detection, `targetCls` per label. AP is
 * Ultralytics' (interpolated and integrated, see ap.ts) unless `apMethod: 'coco'`. Detections are
 * ranked with a stable sort (Ultralytics' quicksort leaves equal confidences in any order).
 *
 * @example
 * const r = apPerClass(Uint8Array.from([1, 0]), [0.9, 0.8], [0, 0], [0], { iouThresholds: [0.5] });
 * r.ap[0][0];     // 0.995 (Ultralytics' AP of a perfect first detection)
 * r.bestConf;     // ≈ 0.85: the box-smoothed F1 peaks 0.05 below the drop to 0 above 0.9
 * r.precision[0]; // ≈ 0.75: np.interp's precision there, halfway from 1 (at 0.9) to 0.5 (at 0.8)
 */
export function apPerClass(
  tp: Uint8Array, conf: ArrayLike<number>, predCls: ArrayLike<number>, targetCls: ArrayLike<number>,
  opts: { iouThresholds?: readonly number[]; apMethod?: 'ultralytics' | 'coco' } = {},
): ApPerClass {
  const T = (opts.iouThresholds ?? IOU_THRESHOLDS).length;
  const n = conf.length;
  if (tp.length !== n * T) throw new RangeError(`apPerClass: tp has ${tp.length} flags for ${n} detections × ${T} thresholds`);
  if (predCls.length !== n) throw new RangeError(`apPerClass: ${n} confidences but ${predCls.length} classes`);
  const eps = 1e-16;
  const order = scoreOrder(conf);
  const counts = new Map<number, number>();
  for (let i = 0; i < targetCls.length; i++) counts.set(targetCls[i]!, (counts.get(targetCls[i]!) ?? 0) + 1);
  const classes = [...counts.keys()].sort((a, b) => a - b);
  const instances = classes.map((c) => counts.get(c)!);
  const px = linspace(0, 1, 1000);
  const negPx = px.map((v) => -v);
  const zeros = (): Float64Array => new Float64Array(px.length);
  const out: ApPerClass = {
    classes, instances, ap: [], precision: [], recall: [], f1: [], tp: [], fp: [], bestConf: 0, bestIndex: 0, px,
    pCurve: [], rCurve: [], f1Curve: [], prCurve: [],
  };
  classes.forEach((c, ci) => {
    const dets = order.filter((i) => predCls[i] === c);
    const nl = instances[ci]!;
    const ap = new Array<number>(T).fill(0);
    let [p, r, pr] = [zeros(), zeros(), zeros()];
    if (dets.length > 0) {
      const negConf = dets.map((i) => -conf[i]!);
      for (let t = 0; t < T; t++) {
        const recall = new Float64Array(dets.length);
        const precision = new Float64Array(dets.length);
        let tpc = 0;
        dets.forEach((i, k) => {
          tpc += tp[i * T + t]!;
          recall[k] = tpc / (nl + eps);
          precision[k] = tpc / (k + 1);
        });
        const u = ultralyticsAp(recall, precision);
        ap[t] = opts.apMethod === 'coco' ? cocoAp(recall, precision) : u.ap;
        if (t === 0) {
          r = interp(negPx, negConf, recall, 0);
          p = interp(negPx, negConf, precision, 1);
          pr = interp(px, u.mrec, u.mpre);
        }
      }
    }
    out.ap.push(ap);
    out.pCurve.push(p);
    out.rCurve.push(r);
    out.prCurve.push(pr);
    out.f1Curve.push(p.map((pv, k) => (2 * pv * r[k]!) / (pv + r[k]! + eps)));
  });
  if (classes.length === 0) return out;
  const meanF1 = px.map((_, k) => out.f1Curve.reduce((s, f) => s + f[k]!, 0) / classes.length);
  const smoothed = smooth(meanF1, 0.1);
  let best = 0;
  for (let k = 1; k < smoothed.length; k++) if (smoothed[k]! > smoothed[best]!) best = k;
  out.bestIndex = best;
  out.bestConf = px[best]!;
  classes.forEach((_, ci) => {
    const p = out.pCurve[ci]![best]!;
    const r = out.rCurve[ci]![best]!;
    const tpAt = roundHalfEven(r * instances[ci]!);
    out.precision.push(p);
    out.recall.push(r);
    out.f1.push(out.f1Curve[ci]![best]!);
    out.tp.push(tpAt);
    out.fp.push(roundHalfEven(tpAt / (p + eps) - tpAt));
  });
  return out;
}

/**
 * Adds one image to a detection confusion matrix, as Ultralytics' ConfusionMatrix.process_batch:
 * detections above `conf` (0.25) are matched to labels of any class by IoU above `iou` (0.45),
 * each detection to its best label, then each label to its best detection. `cm` is
 * (numClasses + 1)² with rows the true class and columns the predicted one (Ultralytics' matrix
 * transposed, as classify's confusionMatrix), the last row and column being background: a label
 * nothing matched counts in its row's background column, an unmatched detection in the
 * background row. Equal IoUs are resolved in label-then-detection order.
 *
 * @example
 * const cm = detectionConfusion(2);
 * addToDetectionConfusion(cm, { boxes: [0, 0, 10, 10], scores: [0.9], classes: [1] }, { boxes: [0, 0, 10, 10], classes: [0] });
 * cm; // [[0, 1, 0], [0, 0, 0], [0, 0, 0]]: a class-0 object predicted as class 1
 */
export function addToDetectionConfusion(cm: number[][], pred: Detections, gt: GroundTruth, opts: { conf?: number; iou?: number } = {}): void {
  const conf = opts.conf ?? 0.25;
  const thr = opts.iou ?? 0.45;
  const nc = cm.length - 1;
  const { n, m } = checkDetections(pred, gt, 'addToDetectionConfusion');
  const keep = Array.from({ length: n }, (_, i) => i).filter((i) => pred.scores[i]! > conf);
  const cls = (v: number, what: string): number => {
    if (!Number.isInteger(v) || v < 0 || v >= nc) throw new RangeError(`addToDetectionConfusion: ${what} class ${v} is not in [0, ${nc})`);
    return v;
  };
  const dc = keep.map((i) => cls(pred.classes[i]!, 'detection'));
  const gc = Array.from({ length: m }, (_, g) => cls(gt.classes[g]!, 'label'));
  const boxes = keep.flatMap((i) => [0, 1, 2, 3].map((k) => pred.boxes[4 * i + k]!));
  const iou = boxIou(gt.boxes, boxes);
  const D = keep.length;
  let pairs: { g: number; d: number; iou: number }[] = [];
  for (let g = 0; g < m; g++) for (let d = 0; d < D; d++) if (iou[g * D + d]! > thr) pairs.push({ g, d, iou: iou[g * D + d]! });
  // highest IoU first; keep each detection's first pair, then each label's
  const best = (key: 'g' | 'd'): void => {
    const seen = new Set<number>();
    pairs = [...pairs].sort((a, b) => b.iou - a.iou).filter((p) => {
      if (seen.has(p[key])) return false;
      seen.add(p[key]);
      return true;
    });
  };
  best('d');
  best('g');
  const labelMatch = new Map(pairs.map((p) => [p.g, p.d]));
  const matchedDets = new Set(pairs.map((p) => p.d));
  gc.forEach((c, g) => {
    const d = labelMatch.get(g);
    cm[c]![d === undefined ? nc : dc[d]!]!++;
  });
  dc.forEach((c, d) => {
    if (!matchedDets.has(d)) cm[nc]![c]!++;
  });
}

/** An empty detection confusion matrix for `numClasses` classes plus background. */
export function detectionConfusion(numClasses: number): number[][] {
  if (!Number.isInteger(numClasses) || numClasses < 1) throw new RangeError(`detectionConfusion: numClasses must be a positive integer, got ${numClasses}`);
  return Array.from({ length: numClasses + 1 }, () => new Array<number>(numClasses + 1).fill(0));
}
