/**
 * Classification metrics over plain arrays of class indices: confusion matrix, per-class precision,
 * recall and F1, macro and weighted averages, accuracy and top-k accuracy. No tensors and no native
 * code, so validators, the CLI and the browser build can all use them.
 *
 * Conventions follow scikit-learn (tested against it within 1e-12 on test/fixtures/metrics.json):
 * - confusion matrix rows are true classes, columns predicted classes (`confusion_matrix`);
 * - every class in `classes` counts, even one absent from both yTrue and yPred
 *   (`labels=range(n)`), so macro averages divide by the number of classes;
 * - a ratio with a zero denominator is 0 (`zero_division=0`): precision of a class never predicted,
 *   recall of a class with no true samples, F1 when both are 0, weighted averages of an empty set;
 * - top-k accuracy breaks ties between equal scores as `top_k_accuracy_score` does: the higher
 *   class index ranks first.
 */

export interface ClassMetrics {
  class: string;
  precision: number;
  recall: number;
  f1: number;
  /** Number of samples whose true class is this one. */
  support: number;
}

export interface AverageMetrics {
  precision: number;
  recall: number;
  f1: number;
  /** Total number of samples. */
  support: number;
}

export interface ClassificationMetrics {
  /** Fraction of samples predicted correctly (0 when there are none). */
  accuracy: number;
  /** Top-5 accuracy; null unless scores were given and there are at least 5 classes. */
  top5: number | null;
  perClass: ClassMetrics[];
  /** Unweighted mean over classes. */
  macro: AverageMetrics;
  /** Mean over classes weighted by support. */
  weighted: AverageMetrics;
  /** counts[true][predicted]. */
  confusionMatrix: number[][];
}

function checkLabels(name: string, y: readonly number[], numClasses: number): void {
  for (let i = 0; i < y.length; i++) {
    const v = y[i]!;
    if (!Number.isInteger(v) || v < 0 || v >= numClasses) {
      throw new RangeError(`${name}[${i}] = ${v} is not a class index in [0, ${numClasses})`);
    }
  }
}

function checkSameLength(yTrue: readonly unknown[], other: readonly unknown[], name: string): void {
  if (yTrue.length !== other.length) {
    throw new RangeError(`yTrue has ${yTrue.length} samples but ${name} has ${other.length}`);
  }
}

const ratio = (num: number, den: number): number => (den === 0 ? 0 : num / den);

/**
 * Counts of (true class, predicted class) pairs: `cm[t][p]`.
 *
 * @example
 * confusionMatrix([0, 1, 1], [0, 1, 0], 2); // [[1, 0], [1, 1]]
 */
export function confusionMatrix(yTrue: readonly number[], yPred: readonly number[], numClasses: number): number[][] {
  if (!Number.isInteger(numClasses) || numClasses < 1) throw new RangeError(`numClasses must be a positive integer, got ${numClasses}`);
  checkSameLength(yTrue, yPred, 'yPred');
  checkLabels('yTrue', yTrue, numClasses);
  checkLabels('yPred', yPred, numClasses);
  const cm = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  for (let i = 0; i < yTrue.length; i++) cm[yTrue[i]!]![yPred[i]!]!++;
  return cm;
}

/**
 * Fraction of samples whose true class is among the `k` highest scores. Equal scores rank the
 * higher class index first (scikit-learn's order), so ties are deterministic; a NaN score for the
 * true class is a miss.
 *
 * @example
 * topK([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2]], [2, 1], 2); // 1
 */
export function topK(scores: readonly (readonly number[])[], yTrue: readonly number[], k: number): number {
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`k must be a positive integer, got ${k}`);
  checkSameLength(yTrue, scores, 'scores');
  let hits = 0;
  for (let i = 0; i < yTrue.length; i++) {
    const row = scores[i]!;
    const t = yTrue[i]!;
    checkLabels('yTrue', [t], row.length);
    const s = row[t]!;
    if (Number.isNaN(s)) continue;
    let above = 0;
    for (let j = 0; j < row.length; j++) {
      const v = row[j]!;
      if (v > s || (v === s && j > t)) above++;
    }
    if (above < k) hits++;
  }
  return ratio(hits, yTrue.length);
}

/**
 * The full report from a confusion matrix (`cm[true][predicted]`), e.g. one summed over batches.
 * `top5` is null: counts do not carry scores.
 *
 * @example
 * const m = fromConfusionMatrix([[5, 1], [2, 2]], ['cat', 'dog']);
 * m.accuracy;              // 0.7
 * m.perClass[1]!.recall;   // 0.5
 */
export function fromConfusionMatrix(cm: readonly (readonly number[])[], classes: readonly string[]): ClassificationMetrics {
  const n = classes.length;
  if (cm.length !== n || cm.some((row) => row.length !== n)) {
    throw new RangeError(`confusion matrix must be ${n}×${n} to match ${n} class names`);
  }
  const predicted = new Array<number>(n).fill(0);
  let total = 0;
  let correct = 0;
  for (let t = 0; t < n; t++) {
    for (let p = 0; p < n; p++) {
      const c = cm[t]![p]!;
      if (!Number.isInteger(c) || c < 0) throw new RangeError(`confusion matrix [${t}][${p}] = ${c} is not a count`);
      predicted[p]! += c;
      total += c;
    }
    correct += cm[t]![t]!;
  }
  const perClass = classes.map((name, i): ClassMetrics => {
    const tp = cm[i]![i]!;
    const support = cm[i]!.reduce((a, b) => a + b, 0);
    const precision = ratio(tp, predicted[i]!);
    const recall = ratio(tp, support);
    return { class: name, precision, recall, f1: ratio(2 * precision * recall, precision + recall), support };
  });
  const mean = (weight: (c: ClassMetrics) => number): AverageMetrics => {
    const wsum = perClass.reduce((a, c) => a + weight(c), 0);
    const avg = (key: 'precision' | 'recall' | 'f1'): number =>
      ratio(perClass.reduce((a, c) => a + weight(c) * c[key], 0), wsum);
    return { precision: avg('precision'), recall: avg('recall'), f1: avg('f1'), support: total };
  };
  return {
    accuracy: ratio(correct, total),
    top5: null,
    perClass,
    macro: mean(() => 1),
    weighted: mean((c) => c.support),
    confusionMatrix: cm.map((row) => [...row]),
  };
}

/**
 * Accuracy, top-5 (when `opts.scores` holds per-sample class scores and there are ≥ 5 classes),
 * per-class precision/recall/F1, macro and weighted averages, and the confusion matrix.
 *
 * @example
 * const m = classificationReport([0, 1, 2, 2], [0, 2, 2, 2], ['a', 'b', 'c']);
 * m.accuracy;                 // 0.75
 * m.perClass[1]!.precision;   // 0 (never predicted: zero_division = 0)
 * console.log(formatReport(m));
 */
export function classificationReport(
  yTrue: readonly number[],
  yPred: readonly number[],
  classes: readonly string[],
  opts: { scores?: readonly (readonly number[])[] } = {},
): ClassificationMetrics {
  const n = classes.length;
  const metrics = fromConfusionMatrix(confusionMatrix(yTrue, yPred, n), classes);
  const { scores } = opts;
  if (scores !== undefined) {
    checkSameLength(yTrue, scores, 'scores');
    scores.forEach((row, i) => {
      if (row.length !== n) throw new RangeError(`scores[${i}] has ${row.length} values for ${n} classes`);
    });
    if (n >= 5) metrics.top5 = topK(scores, yTrue, 5);
  }
  return metrics;
}

/**
 * A fixed-width table in the layout of scikit-learn's `classification_report` (character for
 * character with `digits: 2`): one row per class, then accuracy, top-5 accuracy when known (an
 * extra row sklearn does not print), macro and weighted averages. `digits` defaults to 4.
 *
 * @example
 * console.log(formatReport(classificationReport(yTrue, yPred, ['cat', 'dog'])));
 * //               precision    recall  f1-score   support
 * //
 * //          cat     0.8333    0.7143    0.7692         7
 * // ...
 */
export function formatReport(metrics: ClassificationMetrics, opts: { digits?: number } = {}): string {
  const digits = opts.digits ?? 4;
  const names = [...metrics.perClass.map((c) => c.class), 'weighted avg', ...(metrics.top5 === null ? [] : ['top5 accuracy'])];
  const nameWidth = Math.max(...names.map((s) => s.length));
  const col = Math.max(9, digits + 2);
  const num = (v: number): string => v.toFixed(digits).padStart(col + 1);
  const int = (v: number): string => String(v).padStart(col + 1);
  const blank = ''.padStart(col + 1);
  const header = ''.padStart(nameWidth + 1) + ['precision', 'recall', 'f1-score', 'support'].map((h) => h.padStart(col + 1)).join('');
  const row = (name: string, cells: string[]): string => `${name.padStart(nameWidth)} ${cells.join('')}`;
  const avg = (name: string, a: AverageMetrics): string => row(name, [num(a.precision), num(a.recall), num(a.f1), int(a.support)]);
  const lines = [header, ''];
  for (const c of metrics.perClass) lines.push(row(c.class, [num(c.precision), num(c.recall), num(c.f1), int(c.support)]));
  lines.push('');
  const total = metrics.macro.support;
  lines.push(row('accuracy', [blank, blank, num(metrics.accuracy), int(total)]));
  if (metrics.top5 !== null) lines.push(row('top5 accuracy', [blank, blank, num(metrics.top5), int(total)]));
  lines.push(avg('macro avg', metrics.macro), avg('weighted avg', metrics.weighted));
  return lines.join('\n');
}
