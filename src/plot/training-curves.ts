/** results.png: a run's per-epoch metrics as panels side by side (as Ultralytics' results.png). */
import { linePanel, type Series } from './line-chart.js';
import { writeSvgAsPng } from './png.js';
import { svgDocument } from './svg.js';

const PANEL_W = 440;
const PANEL_H = 330;

interface PanelSpec {
  title: string;
  yLabel: string;
  /** Which columns the panel draws. */
  match: (key: string) => boolean;
}

const PANELS: readonly PanelSpec[] = [
  { title: 'Loss', yLabel: 'loss', match: (k) => /loss/i.test(k) },
  { title: 'Accuracy', yLabel: 'accuracy', match: (k) => /acc|top\d/i.test(k) && !/loss/i.test(k) && !/^pixel_acc/i.test(k) },
  { title: 'Detection', yLabel: 'metric', match: (k) => /^(precision|recall|mAP)/i.test(k) },
  { title: 'Segmentation', yLabel: 'metric', match: (k) => /^(mIoU|mean_dice|pixel_acc)/i.test(k) },
  { title: 'Learning rate', yLabel: 'lr', match: (k) => /^lr($|[/_.-])/i.test(k) },
];

/** Column names in order of first appearance, without `epoch`. */
function columns(rows: readonly Record<string, number>[]): string[] {
  const seen = new Set<string>();
  for (const row of rows) for (const k of Object.keys(row)) if (k !== 'epoch') seen.add(k);
  return [...seen];
}

/**
 * A column as a series against epoch (or the row number when a row has no epoch). Rows without the
 * column are left out, so a metric logged every few epochs is still a connected line; a NaN value
 * is a gap.
 */
function seriesOf(rows: readonly Record<string, number>[], key: string): Series {
  const x: number[] = [];
  const y: number[] = [];
  rows.forEach((row, i) => {
    const v = row[key];
    if (typeof v !== 'number') return;
    const e = row['epoch'];
    x.push(typeof e === 'number' && Number.isFinite(e) ? e : i + 1);
    y.push(v);
  });
  return { name: key, x, y };
}

/**
 * The SVG of trainingCurves: a loss panel (every column with "loss" in its name), an accuracy panel
 * (columns with "acc" or "top5"/"topN"), a learning-rate panel (`lr`, `lr/pg0` …), against `epoch`.
 * Panels without a column are skipped; other columns (e.g. time) are not drawn.
 */
export function trainingCurvesSvg(rows: readonly Record<string, number>[]): string {
  const keys = columns(rows);
  const panels = PANELS.map((p) => ({ p, keys: keys.filter(p.match) })).filter((p) => p.keys.length > 0);
  if (panels.length === 0) panels.push({ p: PANELS[0]!, keys: [] });
  const series = panels.map(({ keys: ks }) => ks.map((k) => seriesOf(rows, k)));
  // one x range for all panels, so that epochs line up across them
  const xs = series.flat().flatMap((s) => s.x).filter(Number.isFinite);
  const xRange: [number, number] | undefined = xs.length > 0
    ? [xs.reduce((a, b) => Math.min(a, b)), xs.reduce((a, b) => Math.max(a, b))]
    : undefined;
  const body = panels.map(({ p }, i) =>
    linePanel(
      { title: p.title, xLabel: 'epoch', yLabel: p.yLabel, series: series[i]!, ...(xRange && { xRange }) },
      { x: i * PANEL_W, y: 0, width: PANEL_W, height: PANEL_H, id: `panel${i}` },
    ),
  );
  return svgDocument(panels.length * PANEL_W, PANEL_H, body.join(''));
}

/**
 * Writes the run's curves as one PNG: loss, accuracy and learning rate panels side by side, from
 * results.csv-like rows (`{ epoch, train_loss, val_loss, val_accuracy, val_top5, lr }`); missing
 * columns are skipped. The file is replaced atomically, so it can be rewritten every epoch.
 *
 * @example
 * await trainingCurves([{ epoch: 1, train_loss: 0.9, val_loss: 0.8, val_accuracy: 0.7, lr: 0.01 }], 'runs/exp/results.png');
 */
export async function trainingCurves(rows: readonly Record<string, number>[], outPath: string): Promise<void> {
  await writeSvgAsPng(trainingCurvesSvg(rows), outPath);
}
