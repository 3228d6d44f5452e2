/** Confusion-matrix heatmaps, from a handful of classes to a thousand. */
import sharp from 'sharp';
import { writeSvgAsPng } from './png.js';
import { formatTicks, niceTicks } from './ticks.js';
import {
  FRAME, INK, MUTED, SEQUENTIAL_STOPS, fitText, px, sequentialRgb, svgDocument, text, textWidth,
} from './svg.js';

export interface ConfusionPlotOptions {
  /** Print row-normalised fractions (recall per cell) instead of counts. */
  normalize?: boolean;
  title?: string;
}

/** Cell values are printed up to this many classes; beyond, the colours alone carry the matrix. */
const MAX_CELL_TEXT = 30;
/** Beyond this many classes, zero cells stay blank: the colour says 0 and the eye finds the rest. */
const MAX_ZERO_TEXT = 12;
const MAX_LABEL_PX = 150;

interface Layout {
  n: number;
  cell: number;
  size: number;
  nameFont: number;
  showNames: boolean;
  labels: { index: number; text: string }[];
  labelW: number;
  rotate: number;
}

function layout(classes: readonly string[]): Layout {
  const n = classes.length;
  const cell = Math.min(52, Math.max(2, Math.floor(560 / n)));
  const nameFont = Math.min(12, cell * 0.8);
  const showNames = cell >= 8;
  const indices = showNames ? classes.map((_, i) => i) : niceTicks(0, n - 1, { integer: true, maxTicks: Math.max(3, Math.floor((n * cell) / 60)) }).ticks;
  const font = showNames ? nameFont : 11;
  const labels = indices.filter((i) => i < n).map((index) => ({ index, text: showNames ? fitText(classes[index]!, MAX_LABEL_PX, font) : String(index) }));
  const labelW = Math.max(...labels.map((l) => textWidth(l.text, font)), 10);
  return { n, cell, size: n * cell, nameFont: font, showNames, labels, labelW, rotate: cell >= 30 ? -45 : -90 };
}

/** Row fractions, so that a rare class reads as clearly as a common one. Empty rows are 0. */
function rowFractions(cm: readonly (readonly number[])[]): number[][] {
  return cm.map((row) => {
    const sum = row.reduce((a, b) => a + b, 0);
    return row.map((v) => (sum > 0 ? v / sum : 0));
  });
}

/** The cells as a PNG data URI, one flat block per cell (nearest-neighbour upscale). */
async function cellImage(frac: number[][], cell: number): Promise<string> {
  const n = frac.length;
  const raw = Buffer.alloc(n * n * 3);
  frac.forEach((row, t) => row.forEach((f, p) => raw.set(sequentialRgb(f), (t * n + p) * 3)));
  const png = await sharp(raw, { raw: { width: n, height: n, channels: 3 } })
    .resize(n * cell, n * cell, { kernel: 'nearest' })
    .png()
    .toBuffer();
  return `data:image/png;base64,${png.toString('base64')}`;
}

function cellTexts(cm: readonly (readonly number[])[], frac: number[][], normalize: boolean, left: number, top: number, cell: number): string {
  const values = cm.map((row, t) => row.map((v, p) => (normalize ? frac[t]![p]!.toFixed(2) : String(v))));
  const maxLen = Math.max(...values.flat().map((s) => s.length));
  const size = Math.min(14, cell * 0.4, (cell - 4) / (maxLen * 0.6));
  if (size < 5) return '';
  let svg = '';
  const showZeros = cm.length <= MAX_ZERO_TEXT;
  values.forEach((row, t) => row.forEach((s, p) => {
    if (!showZeros && cm[t]![p] === 0) return;
    const f = frac[t]![p]!;
    const fill = f > 0.5 ? '#ffffff' : /^[0.]+$/.test(s) ? '#a0a0a0' : INK;
    svg += text(left + (p + 0.5) * cell, top + (t + 0.5) * cell + size * 0.36, s, {
      size, anchor: 'middle', fill, attrs: `class="cell" data-true="${t}" data-pred="${p}"`,
    });
  }));
  return svg;
}

function axisLabels(L: Layout, left: number, top: number): string {
  let svg = '';
  for (const { index, text: s } of L.labels) {
    const c = (index + 0.5) * L.cell;
    svg += text(left - 6, top + c + L.nameFont * 0.35, s, { size: L.nameFont, anchor: 'end', fill: INK, attrs: 'class="ylabel"' });
    if (!L.showNames) {
      svg += text(left + c, top + L.size + 16, s, { size: L.nameFont, anchor: 'middle', fill: INK, attrs: 'class="xlabel"' });
      continue;
    }
    const x = L.rotate === -90 ? left + c + L.nameFont * 0.35 : left + c;
    svg += text(x, top + L.size + 8, s, { size: L.nameFont, anchor: 'end', fill: INK, rotate: L.rotate, attrs: 'class="xlabel"' });
  }
  return svg;
}

function colorBar(x: number, top: number, height: number): string {
  const stops = SEQUENTIAL_STOPS.map((c, i) => `<stop offset="${px((i / (SEQUENTIAL_STOPS.length - 1)) * 100)}%" stop-color="${c}"/>`).join('');
  let svg = `<defs><linearGradient id="cm-scale" x1="0" y1="1" x2="0" y2="0">${stops}</linearGradient></defs>`;
  svg += `<rect x="${px(x)}" y="${px(top)}" width="14" height="${px(height)}" fill="url(#cm-scale)" stroke="${FRAME}"/>`;
  const t = niceTicks(0, 1, { maxTicks: height >= 200 ? 6 : 3 });
  const labels = formatTicks(t);
  t.ticks.forEach((v, i) => {
    const y = top + height - v * height;
    svg += `<line x1="${px(x + 14)}" y1="${px(y)}" x2="${px(x + 18)}" y2="${px(y)}" stroke="${FRAME}"/>`;
    svg += text(x + 21, y + 4, labels[i]!, { size: 10, fill: MUTED });
  });
  svg += text(x + 58, top + height / 2, 'fraction of true class', { size: 11, anchor: 'middle', fill: MUTED, rotate: 90 });
  return svg;
}

/**
 * The SVG of confusionMatrixPng. Colours show each row's fractions (so a rare class reads as well
 * as a common one); cells print counts, or the fractions with `normalize`, up to 30 classes (zero
 * cells only up to 12).
 */
export async function confusionMatrixSvg(cm: readonly (readonly number[])[], classes: readonly string[], opts: ConfusionPlotOptions = {}): Promise<string> {
  const n = classes.length;
  if (n === 0) throw new RangeError('confusionMatrixPng: no classes');
  if (cm.length !== n || cm.some((row) => row.length !== n)) throw new RangeError(`confusionMatrixPng: the matrix must be ${n}×${n} for ${n} classes`);
  const normalize = opts.normalize ?? false;
  const title = opts.title ?? (normalize ? 'Confusion matrix (row-normalised)' : 'Confusion matrix');
  const L = layout(classes);
  const frac = rowFractions(cm);
  const below = (!L.showNames ? 22 : L.rotate === -45 ? L.labelW * 0.71 + 12 : L.labelW + 12) + 34;
  const content = 36 + L.labelW + 6 + L.size + 96;
  const width = Math.ceil(Math.max(content, textWidth(title, 16) + 40));
  const left = (width - content) / 2 + 36 + L.labelW + 6;
  const top = 48;
  const height = Math.ceil(top + L.size + below);

  let svg = text(width / 2, 28, title, { size: 16, anchor: 'middle', weight: 'bold', attrs: 'class="title"' });
  svg += `<image x="${px(left)}" y="${top}" width="${L.size}" height="${L.size}" preserveAspectRatio="none" href="${await cellImage(frac, L.cell)}"/>`;
  if (L.cell >= 16) {
    const d = Array.from({ length: n - 1 }, (_, i) => {
      const o = (i + 1) * L.cell;
      return `M${px(left + o)} ${top}v${L.size}M${px(left)} ${top + o}h${L.size}`;
    }).join('');
    if (d !== '') svg += `<path d="${d}" stroke="#ffffff" stroke-width="1"/>`;
  }
  svg += `<rect x="${px(left)}" y="${top}" width="${L.size}" height="${L.size}" fill="none" stroke="${FRAME}"/>`;
  if (n <= MAX_CELL_TEXT) svg += cellTexts(cm, frac, normalize, left, top, L.cell);
  svg += axisLabels(L, left, top);
  svg += text(left + L.size / 2, height - 14, 'Predicted', { size: 13, anchor: 'middle', weight: 'bold', attrs: 'class="axis-title"' });
  svg += text(left - L.labelW - 22, top + L.size / 2, 'True', { size: 13, anchor: 'middle', weight: 'bold', rotate: -90, attrs: 'class="axis-title"' });
  svg += colorBar(left + L.size + 18, top, L.size);
  return svgDocument(width, height, svg);
}

/**
 * Writes a confusion-matrix heatmap (rows true, columns predicted) as a PNG, atomically. Class names
 * label both axes (rotated on x) while they fit; with 100+ classes the axes show class indices and
 * cells are a few pixels each.
 *
 * @example
 * await confusionMatrixPng(report.confusionMatrix, classes, 'runs/exp/confusion_matrix.png', { normalize: true });
 */
export async function confusionMatrixPng(
  cm: readonly (readonly number[])[], classes: readonly string[], outPath: string, opts: ConfusionPlotOptions = {},
): Promise<void> {
  await writeSvgAsPng(await confusionMatrixSvg(cm, classes, opts), outPath);
}
