/**
 * The detection plots Ultralytics writes after validation: the precision-recall curve, the
 * F1-confidence curve and the confusion matrix with a background class.
 */
import { smooth } from '../metrics/ap.js';
import type { ApPerClass } from '../metrics/detect.js';
import { confusionMatrixPng, confusionMatrixSvg, type ConfusionPlotOptions } from './confusion.js';
import { lineChart, type Series } from './line-chart.js';
import { writeSvgAsPng } from './png.js';

/** Up to this many classes each gets a coloured, named line (Ultralytics: fewer than 21). */
const MAX_NAMED = 20;
const MEAN_COLOR = '#1f5fa8';
const CLASS_GREY = '#b8b8b8';
const SIZE = { width: 720, height: 560 };

const className = (curves: ApPerClass, names: readonly string[], c: number): string => names[curves.classes[c]!] ?? String(curves.classes[c]);

function classLines(curves: ApPerClass, y: readonly Float64Array[], label: (c: number) => string): Series[] {
  const named = curves.classes.length <= MAX_NAMED;
  return curves.classes.map((_, c): Series => ({
    name: label(c),
    x: curves.px,
    y: Array.from(y[c]!),
    width: 1,
    ...(named ? {} : { color: CLASS_GREY, legend: false }),
  }));
}

const meanOf = (rows: readonly Float64Array[], n: number): number[] =>
  Array.from({ length: n }, (_, k) => (rows.length === 0 ? NaN : rows.reduce((s, r) => s + r[k]!, 0) / rows.length));

/**
 * The precision-recall curve at the first IoU threshold (0.5): one line per class (named with its
 * AP50 up to 20 classes, plain grey beyond) and their mean, labelled with mAP50.
 *
 * @example
 * writeFileSync('pr.svg', prCurveSvg(metrics.summary().curves, names));
 */
export function prCurveSvg(curves: ApPerClass, names: readonly string[]): string {
  const ap50 = curves.ap.map((a) => a[0]!);
  const mean = ap50.length === 0 ? 0 : ap50.reduce((a, b) => a + b, 0) / ap50.length;
  const series = classLines(curves, curves.prCurve, (c) => `${className(curves, names, c)} ${ap50[c]!.toFixed(3)}`);
  series.push({ name: `all classes ${mean.toFixed(3)} mAP@0.5`, x: curves.px, y: meanOf(curves.prCurve, curves.px.length), color: MEAN_COLOR, width: 3 });
  return lineChart({ title: 'Precision-Recall Curve', xLabel: 'Recall', yLabel: 'Precision', xRange: [0, 1], yRange: [0, 1], series, ...SIZE });
}

/**
 * The F1-confidence curve: one line per class and the mean smoothed as Ultralytics plots it (box
 * filter of 5%), labelled with its peak and where it is.
 *
 * @example
 * writeFileSync('f1.svg', f1CurveSvg(metrics.summary().curves, names));
 */
export function f1CurveSvg(curves: ApPerClass, names: readonly string[]): string {
  const series = classLines(curves, curves.f1Curve, (c) => className(curves, names, c));
  const mean = curves.classes.length === 0 ? new Float64Array(curves.px.length) : smooth(meanOf(curves.f1Curve, curves.px.length), 0.05);
  let best = 0;
  for (let k = 1; k < mean.length; k++) if (mean[k]! > mean[best]!) best = k;
  series.push({ name: `all classes ${mean[best]!.toFixed(2)} at ${curves.px[best]!.toFixed(3)}`, x: curves.px, y: Array.from(mean), color: MEAN_COLOR, width: 3 });
  return lineChart({ title: 'F1-Confidence Curve', xLabel: 'Confidence', yLabel: 'F1', xRange: [0, 1], yRange: [0, 1], series, ...SIZE });
}

/** Writes prCurveSvg as a PNG, atomically. */
export async function prCurvePng(curves: ApPerClass, names: readonly string[], outPath: string): Promise<void> {
  await writeSvgAsPng(prCurveSvg(curves, names), outPath);
}

/** Writes f1CurveSvg as a PNG, atomically. */
export async function f1CurvePng(curves: ApPerClass, names: readonly string[], outPath: string): Promise<void> {
  await writeSvgAsPng(f1CurveSvg(curves, names), outPath);
}

/** The detection confusion matrix (rows true, columns predicted, the last 'background') as SVG. */
export async function detectionConfusionSvg(cm: readonly (readonly number[])[], names: readonly string[], opts: ConfusionPlotOptions = {}): Promise<string> {
  if (cm.length !== names.length + 1) throw new RangeError(`detectionConfusionPng: the matrix must be ${names.length + 1}×${names.length + 1} for ${names.length} classes and background`);
  return confusionMatrixSvg(cm, [...names, 'background'], opts);
}

/**
 * Writes a detection confusion matrix (from DetectionMetrics) as a PNG: the classes and a
 * background row (detections on nothing) and column (labels nothing found).
 *
 * @example
 * await detectionConfusionPng(summary.confusionMatrix, names, 'runs/detect/val/confusion_matrix.png');
 */
export async function detectionConfusionPng(cm: readonly (readonly number[])[], names: readonly string[], outPath: string, opts: ConfusionPlotOptions = {}): Promise<void> {
  if (cm.length !== names.length + 1) throw new RangeError(`detectionConfusionPng: the matrix must be ${names.length + 1}×${names.length + 1} for ${names.length} classes and background`);
  await confusionMatrixPng(cm, [...names, 'background'], outPath, opts);
}
