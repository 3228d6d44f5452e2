/** Segmentation plots: IoU (and Dice) per class as bars, and the pixel confusion matrix. */
import { confusionMatrixPng } from './confusion.js';
import { writeSvgAsPng } from './png.js';
import { FRAME, GRID, MUTED, PALETTE, fitText, px, svgDocument, text, textWidth } from './svg.js';

/** One class's scores; null: the class is in neither the ground truth nor the predictions. */
export interface ClassScores {
  class: string;
  iou: number | null;
  dice?: number | null;
}

export interface IouBarOptions {
  title?: string;
  /** The mean drawn as a dashed line (default: the mean of the non-null IoUs). */
  miou?: number;
}

const ROW = 22;
const BAR_W = 420;
const MAX_NAME_PX = 160;

/**
 * The SVG of iouBarPng: one row per class, its IoU as a bar (Dice, when given, as a thin bar
 * beneath), the value printed at the bar's end, absent classes marked, mIoU as a dashed line.
 */
export function iouBarSvg(rows: readonly ClassScores[], opts: IouBarOptions = {}): string {
  if (rows.length === 0) throw new RangeError('iouBarPng: no classes');
  const scored = rows.filter((r) => r.iou !== null);
  const miou = opts.miou ?? (scored.length ? scored.reduce((a, r) => a + r.iou!, 0) / scored.length : 0);
  const title = opts.title ?? `IoU per class (mIoU ${miou.toFixed(3)})`;
  const names = rows.map((r) => fitText(r.class, MAX_NAME_PX, 12));
  const left = 16 + Math.max(...names.map((s) => textWidth(s, 12)), 30) + 10;
  const top = 48;
  const width = Math.ceil(Math.max(left + BAR_W + 70, textWidth(title, 16) + 40));
  const height = top + rows.length * ROW + 60;
  const withDice = rows.some((r) => r.dice !== undefined && r.dice !== null);
  let svg = text(width / 2, 28, title, { size: 16, anchor: 'middle', weight: 'bold', attrs: 'class="title"' });
  for (const v of [0, 0.25, 0.5, 0.75, 1]) {
    const x = left + v * BAR_W;
    svg += `<line x1="${px(x)}" y1="${top}" x2="${px(x)}" y2="${top + rows.length * ROW}" stroke="${v === 0 ? FRAME : GRID}"/>`;
    svg += text(x, top + rows.length * ROW + 16, v.toFixed(2), { size: 11, anchor: 'middle', fill: MUTED });
  }
  rows.forEach((r, i) => {
    const y = top + i * ROW;
    svg += text(left - 8, y + ROW / 2 + 4, names[i]!, { size: 12, anchor: 'end', attrs: 'class="ylabel"' });
    if (r.iou === null) {
      svg += text(left + 6, y + ROW / 2 + 4, 'absent', { size: 11, fill: MUTED, attrs: `class="value" data-class="${i}"` });
      return;
    }
    const h = withDice ? ROW * 0.5 : ROW * 0.7;
    svg += `<rect class="bar" data-class="${i}" x="${left}" y="${px(y + (ROW - h) / 2 - (withDice ? 3 : 0))}" width="${px(r.iou * BAR_W)}" height="${px(h)}" fill="${PALETTE[0]}"/>`;
    if (withDice && r.dice !== undefined && r.dice !== null) {
      svg += `<rect class="dice" data-class="${i}" x="${left}" y="${px(y + (ROW + h) / 2 - 2)}" width="${px(r.dice * BAR_W)}" height="4" fill="${PALETTE[4]}"/>`;
    }
    svg += text(left + r.iou * BAR_W + 5, y + ROW / 2 + 4, r.iou.toFixed(3), { size: 11, fill: MUTED, attrs: `class="value" data-class="${i}"` });
  });
  const mx = left + miou * BAR_W;
  svg += `<line class="mean" x1="${px(mx)}" y1="${top - 6}" x2="${px(mx)}" y2="${top + rows.length * ROW}" stroke="${PALETTE[1]}" stroke-width="2" stroke-dasharray="6 4"/>`;
  const legend = withDice ? 'bars: IoU · thin bars: Dice · dashed: mIoU' : 'dashed: mIoU';
  svg += text(left + BAR_W / 2, height - 14, legend, { size: 11, anchor: 'middle', fill: MUTED });
  return svgDocument(width, height, svg);
}

/**
 * Writes the IoU-per-class bar chart as a PNG, atomically.
 *
 * @example
 * await iouBarPng(metrics.perClass, 'runs/seg/iou_per_class.png', { miou: metrics.miou });
 */
export async function iouBarPng(rows: readonly ClassScores[], outPath: string, opts: IouBarOptions = {}): Promise<void> {
  await writeSvgAsPng(iouBarSvg(rows, opts), outPath);
}

/**
 * The pixel confusion matrix as a heatmap, rows normalised (pixel counts run to millions, and the
 * background row would drown every other): each cell is the share of a true class's pixels.
 *
 * @example
 * await segmentConfusionPng(metrics.confusionMatrix, classes, 'runs/seg/confusion_matrix.png');
 */
export async function segmentConfusionPng(cm: readonly (readonly number[])[], classes: readonly string[], outPath: string): Promise<void> {
  await confusionMatrixPng(cm, classes, outPath, { normalize: true, title: 'Confusion matrix (pixels, row-normalised)' });
}
