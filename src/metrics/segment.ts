/**
 * Semantic segmentation metrics from one confusion matrix accumulated over every pixel of a split:
 * per-class IoU and Dice, their means, and pixel accuracy. Pixels whose ground truth is the
 * ignore value (255) are left out, whatever was predicted there. Counting a whole split before
 * dividing (not averaging per-image scores) is what mmsegmentation and torchmetrics do, and what
 * scikit-learn gives on the concatenated pixels (tested against it to 1e-9 on
 * test/fixtures/segment_metrics.json).
 *
 * Conventions:
 * - rows are ground-truth classes, columns predicted classes (sklearn's `confusion_matrix`);
 * - IoU_c = TP / (TP + FP + FN) (sklearn's `jaccard_score`), Dice_c = 2·TP / (2·TP + FP + FN)
 *   (the F1 score, sklearn's `f1_score`);
 * - a class absent from both the ground truth and the predictions has no IoU or Dice (null) and is
 *   left out of mIoU and mean Dice, as mmsegmentation's nanmean and torchmetrics' macro average
 *   do; a class that appears in either counts, so a class predicted but never present scores 0;
 * - pixel accuracy is the diagonal over all counted pixels; with no pixel counted every mean is 0.
 */

/** Scores of one class. */
export interface SegmentClassMetrics {
  class: string;
  /** null: the class is in neither the ground truth nor the predictions. */
  iou: number | null;
  dice: number | null;
  /** Ground-truth pixels of the class. */
  support: number;
  /** Pixels predicted as the class (where the ground truth is not ignore). */
  predicted: number;
}

export interface SegmentMetrics {
  /** Mean IoU over the classes present in the ground truth or the predictions. */
  miou: number;
  /** Mean Dice over the same classes. */
  meanDice: number;
  pixelAccuracy: number;
  perClass: SegmentClassMetrics[];
  /** Pixels counted (ignore pixels left out). */
  pixels: number;
  /** Classes in the means. */
  present: number;
  /** counts[true][predicted]. */
  confusionMatrix: number[][];
}

/**
 * A pixel confusion matrix accumulated image by image (or batch by batch).
 *
 * @example
 * const acc = new SegmentConfusion(3);
 * acc.update(Uint8Array.of(0, 1, 2, 255), Uint8Array.of(0, 1, 1, 2)); // the 255 pixel is left out
 * acc.compute(['bg', 'a', 'b']).miou;  // (1 + 0.5 + 0) / 3 = 0.5
 */
export class SegmentConfusion {
  readonly #cm: Float64Array;

  constructor(readonly numClasses: number, readonly ignoreIndex = 255) {
    if (!Number.isInteger(numClasses) || numClasses < 1) throw new RangeError(`numClasses must be a positive integer, got ${numClasses}`);
    if (ignoreIndex >= 0 && ignoreIndex < numClasses) throw new RangeError(`ignoreIndex ${ignoreIndex} is one of the ${numClasses} classes`);
    this.#cm = new Float64Array(numClasses * numClasses);
  }

  /** Adds one image's (or batch's) pixels: `target` and `pred` hold a class per pixel, in the same order. */
  update(target: ArrayLike<number>, pred: ArrayLike<number>): void {
    if (target.length !== pred.length) throw new RangeError(`target has ${target.length} pixels but pred has ${pred.length}`);
    const n = this.numClasses;
    const ignore = this.ignoreIndex;
    const cm = this.#cm;
    for (let i = 0; i < target.length; i++) {
      const t = target[i]!;
      if (t === ignore) continue;
      const p = pred[i]!;
      if (!(t >= 0 && t < n && Number.isInteger(t))) throw new RangeError(`target[${i}] = ${t} is neither a class in [0, ${n}) nor the ignore value ${ignore}`);
      if (!(p >= 0 && p < n && Number.isInteger(p))) throw new RangeError(`pred[${i}] = ${p} is not a class in [0, ${n})`);
      cm[t * n + p]!++;
    }
  }

  /** Adds another accumulator's counts (e.g. from another worker). */
  merge(other: SegmentConfusion): void {
    if (other.numClasses !== this.numClasses) throw new RangeError(`cannot merge ${other.numClasses} classes into ${this.numClasses}`);
    const o = other.#cm;
    for (let i = 0; i < o.length; i++) this.#cm[i]! += o[i]!;
  }

  reset(): void {
    this.#cm.fill(0);
  }

  /** counts[true][predicted] so far. */
  get matrix(): number[][] {
    const n = this.numClasses;
    return Array.from({ length: n }, (_, t) => Array.from(this.#cm.subarray(t * n, (t + 1) * n)));
  }

  /** The metrics of the pixels so far; `classes` names them (default '0', '1', …). */
  compute(classes?: readonly string[]): SegmentMetrics {
    return segmentMetrics(this.matrix, classes ?? Array.from({ length: this.numClasses }, (_, k) => String(k)));
  }
}

/**
 * The metrics of a pixel confusion matrix (rows true, columns predicted).
 *
 * @example
 * segmentMetrics([[3, 1], [0, 4]], ['bg', 'fg']).perClass[1]!.iou; // 4 / (4 + 1) = 0.8
 */
export function segmentMetrics(cm: readonly (readonly number[])[], classes: readonly string[]): SegmentMetrics {
  const n = classes.length;
  if (n === 0) throw new RangeError('segmentMetrics: no classes');
  if (cm.length !== n || cm.some((r) => r.length !== n)) throw new RangeError(`segmentMetrics: the matrix must be ${n}×${n} for ${n} classes`);
  const support = cm.map((row) => row.reduce((a, b) => a + b, 0));
  const predicted = classes.map((_, p) => cm.reduce((a, row) => a + row[p]!, 0));
  const pixels = support.reduce((a, b) => a + b, 0);
  let correct = 0;
  const perClass = classes.map((name, k) => {
    const tp = cm[k]![k]!;
    correct += tp;
    const [fn, fp] = [support[k]! - tp, predicted[k]! - tp];
    const present = support[k]! + predicted[k]! > 0;
    return {
      class: name,
      iou: present ? tp / (tp + fp + fn) : null,
      dice: present ? (2 * tp) / (2 * tp + fp + fn) : null,
      support: support[k]!,
      predicted: predicted[k]!,
    };
  });
  const counted = perClass.filter((c) => c.iou !== null);
  const mean = (f: (c: SegmentClassMetrics) => number): number => (counted.length === 0 ? 0 : counted.reduce((a, c) => a + f(c), 0) / counted.length);
  return {
    miou: mean((c) => c.iou!),
    meanDice: mean((c) => c.dice!),
    pixelAccuracy: pixels === 0 ? 0 : correct / pixels,
    perClass,
    pixels,
    present: counted.length,
    confusionMatrix: cm.map((r) => [...r]),
  };
}

/**
 * A printable table: one row per class (IoU, Dice, ground-truth and predicted pixels), then the
 * means and pixel accuracy. Classes in neither show '-'.
 */
export function formatSegmentReport(m: SegmentMetrics, digits = 4): string {
  const w = Math.max(5, ...m.perClass.map((c) => c.class.length));
  const f = (v: number | null): string => (v === null ? '-' : v.toFixed(digits)).padStart(digits + 4);
  const lines = [`${'class'.padEnd(w)} ${'IoU'.padStart(digits + 4)} ${'Dice'.padStart(digits + 4)} ${'pixels'.padStart(12)} ${'predicted'.padStart(12)}`];
  for (const c of m.perClass) lines.push(`${c.class.padEnd(w)} ${f(c.iou)} ${f(c.dice)} ${String(c.support).padStart(12)} ${String(c.predicted).padStart(12)}`);
  lines.push(`${'mean'.padEnd(w)} ${f(m.miou)} ${f(m.meanDice)} ${String(m.pixels).padStart(12)}   (${m.present} of ${m.perClass.length} classes present)`);
  lines.push(`pixel accuracy ${m.pixelAccuracy.toFixed(digits)}`);
  return lines.join('\n');
}
