/** What the runs page draws from a run, by task: its charts of results.csv and its best epoch in words. */
import type { RunDetail, RunSummary } from '../api';
import type { Series } from '../components/LineChart';
import { pct } from '../components/ScoreBars';

/** One chart of results.csv columns over epochs. */
export interface Chart {
  title: string;
  yLabel: string;
  series: Series[];
  format?: (v: number) => string;
  /** A y range always shown. */
  domain?: [number, number];
}

/** The columns `ks` of results.csv that hold numbers, as series over epochs. */
export function pick(rows: RunDetail['results'], ks: string[]): Series[] {
  const col = (k: string): Series | null => {
    const points = rows.filter((r) => typeof r.epoch === 'number' && typeof r[k] === 'number').map((r) => [r.epoch as number, r[k] as number] as [number, number]);
    return points.length > 0 ? { name: k, points } : null;
  };
  return ks.map(col).filter((s): s is Series => s !== null);
}

export const classifyCurves = (rows: RunDetail['results']): Chart[] => [
  { title: 'Loss', yLabel: 'loss', series: pick(rows, ['train_loss', 'val_loss']) },
  { title: 'Validation accuracy', yLabel: 'accuracy', series: pick(rows, ['val_accuracy', 'val_top5']), format: (v) => pct(v) },
];

/** Ultralytics' results.png panels, two series a chart: mAP, the three loss terms, P and R. */
export const detectCurves = (rows: RunDetail['results']): Chart[] => [
  { title: 'Validation mAP', yLabel: 'mAP', series: pick(rows, ['mAP50', 'mAP50-95']), domain: [0, 1] },
  { title: 'Box loss (CIoU)', yLabel: 'loss', series: pick(rows, ['train_box_loss', 'val_box_loss']) },
  { title: 'Class loss (BCE)', yLabel: 'loss', series: pick(rows, ['train_cls_loss', 'val_cls_loss']) },
  { title: 'Distribution focal loss', yLabel: 'loss', series: pick(rows, ['train_dfl_loss', 'val_dfl_loss']) },
  { title: 'Validation precision and recall', yLabel: 'value', series: pick(rows, ['precision', 'recall']), domain: [0, 1] },
];

/** A segmentation run's results.csv, two series a chart: mIoU and Dice, pixel accuracy, the total loss and each of its terms. */
export const segmentCurves = (rows: RunDetail['results']): Chart[] => [
  { title: 'Validation mIoU and mean Dice', yLabel: 'score', series: pick(rows, ['mIoU', 'mean_dice']), domain: [0, 1] },
  { title: 'Validation pixel accuracy', yLabel: 'accuracy', series: pick(rows, ['pixel_accuracy']), domain: [0, 1], format: (v) => pct(v) },
  { title: 'Loss (sum of the terms)', yLabel: 'loss', series: pick(rows, ['train_loss', 'val_loss']) },
  { title: 'Cross-entropy loss', yLabel: 'loss', series: pick(rows, ['train_ce_loss', 'val_ce_loss']) },
  { title: 'Dice loss', yLabel: 'loss', series: pick(rows, ['train_dice_loss', 'val_dice_loss']) },
  { title: 'Focal loss', yLabel: 'loss', series: pick(rows, ['train_focal_loss', 'val_focal_loss']) },
];

/** The plots a detection or segmentation run's page shows in their own sections (the rest go under "Plots written by the trainer"). */
export const SHOWN_PLOTS: Record<string, string[]> = {
  detect: ['PR_curve.png', 'F1_curve.png', 'confusion_matrix.png'],
  segment: ['iou_per_class.png', 'confusion_matrix.png'],
};

/** "best val accuracy 75.0% (epoch 2)", "best mAP50-95 0.410 · mAP50 0.810 (epoch 2)" or "best mIoU 0.612 · mean Dice 0.701 (epoch 2)". */
export function bestText(best: NonNullable<RunSummary['best']>): string {
  if ('val_accuracy' in best) return `best val accuracy ${pct(best.val_accuracy)} (epoch ${best.epoch})`;
  if ('mIoU' in best) return `best mIoU ${best.mIoU.toFixed(3)} · mean Dice ${best.mean_dice.toFixed(3)} (epoch ${best.epoch})`;
  return `best mAP50-95 ${best['mAP50-95'].toFixed(3)} · mAP50 ${best.mAP50.toFixed(3)} (epoch ${best.epoch})`;
}
