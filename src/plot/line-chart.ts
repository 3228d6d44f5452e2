/** Line charts as SVG: one panel (linePanel) that training-curves.ts lays side by side. */
import { FRAME, GRID, MUTED, PALETTE, escapeXml, px, svgDocument, text, textWidth } from './svg.js';
import { formatTicks, niceTicks, type Ticks } from './ticks.js';

export interface Series {
  name: string;
  x: readonly number[];
  y: readonly number[];
  /** Defaults to the palette colour of the series' position. */
  color?: string;
  /** Stroke width in px (default 2). */
  width?: number;
  /** Listed in the legend (default true): false for, say, 80 thin per-class lines behind a mean. */
  legend?: boolean;
}

export interface LineChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly Series[];
  /** Fixed y domain (e.g. [0, 1] for accuracy); lines outside it are clipped. */
  yRange?: [number, number];
  /** Fixed x domain (default: the data's range), e.g. to line up panels. */
  xRange?: [number, number];
  width?: number;
  height?: number;
}

/** Where a panel sits inside a larger SVG; `id` keeps its clip path unique there. */
export interface PanelBox {
  x: number;
  y: number;
  width: number;
  height: number;
  id: string;
}

const TITLE = 15;
const LABEL = 12;
const TICK = 11;
const LEGEND_ROW = 18;
/** Series with at most this many points get a dot on every point. */
const MARKER_MAX_POINTS = 40;

/**
 * A line chart as a standalone SVG document. Points with a non-finite x or y break the line (a gap);
 * a point with no neighbour is drawn as a dot, so a single point or a lone value between gaps
 * still shows. Ticks are round numbers; all text is escaped.
 *
 * @example
 * const svg = lineChart({
 *   title: 'Loss', xLabel: 'epoch', yLabel: 'loss',
 *   series: [{ name: 'train', x: [1, 2, 3], y: [0.9, 0.5, 0.4] }],
 * });
 * writePngAtomic('loss.png', await svgToPng(svg));
 */
export function lineChart(opts: LineChartOptions): string {
  const width = opts.width ?? 640;
  const height = opts.height ?? 400;
  return svgDocument(width, height, linePanel(opts, { x: 0, y: 0, width, height, id: 'chart' }));
}

function finitePoints(series: readonly Series[]): { xs: number[]; ys: number[] } {
  const xs: number[] = [];
  const ys: number[] = [];
  for (const s of series) {
    const n = Math.min(s.x.length, s.y.length);
    for (let i = 0; i < n; i++) {
      if (Number.isFinite(s.x[i]) && Number.isFinite(s.y[i])) {
        xs.push(s.x[i]!);
        ys.push(s.y[i]!);
      }
    }
  }
  return { xs, ys };
}

const minOf = (v: number[]): number => v.reduce((a, b) => Math.min(a, b), Infinity);
const maxOf = (v: number[]): number => v.reduce((a, b) => Math.max(a, b), -Infinity);

/** Legend entries laid out in centred rows that fit `width`; returns the SVG and the row count. */
function legend(series: readonly Series[], cx: number, y: number, width: number): { svg: string; rows: number } {
  const items = series
    .map((s, i) => ({ s, color: s.color ?? PALETTE[i % PALETTE.length]!, w: 26 + textWidth(s.name, LABEL) + 14 }))
    .filter((it) => it.s.legend !== false);
  const rows: (typeof items)[] = [];
  for (const it of items) {
    const row = rows[rows.length - 1];
    if (row !== undefined && row.reduce((a, r) => a + r.w, 0) + it.w <= width) row.push(it);
    else rows.push([it]);
  }
  let svg = '';
  rows.forEach((row, r) => {
    let x = cx - row.reduce((a, it) => a + it.w, 0) / 2;
    const ry = y + r * LEGEND_ROW;
    for (const it of row) {
      svg += `<line x1="${px(x)}" y1="${px(ry - 4)}" x2="${px(x + 20)}" y2="${px(ry - 4)}" stroke="${it.color}" stroke-width="2.5"/>`;
      svg += `<circle cx="${px(x + 10)}" cy="${px(ry - 4)}" r="3" fill="${it.color}"/>`;
      svg += text(x + 26, ry, it.s.name, { size: LABEL, attrs: 'class="legend"' });
      x += it.w;
    }
  });
  return { svg, rows: rows.length };
}

/** The polyline pieces and lone dots of one series, in pixel space. */
function seriesPath(s: Series, color: string, sx: (v: number) => number, sy: (v: number) => number): string {
  const n = Math.min(s.x.length, s.y.length);
  const runs: string[][] = [[]];
  for (let i = 0; i < n; i++) {
    if (Number.isFinite(s.x[i]) && Number.isFinite(s.y[i])) runs[runs.length - 1]!.push(`${px(sx(s.x[i]!))},${px(sy(s.y[i]!))}`);
    else if (runs[runs.length - 1]!.length > 0) runs.push([]);
  }
  const count = runs.reduce((a, r) => a + r.length, 0);
  let svg = '';
  for (const run of runs) {
    if (run.length > 1) {
      svg += `<polyline points="${run.join(' ')}" fill="none" stroke="${color}" stroke-width="${px(s.width ?? 2)}" stroke-linejoin="round" stroke-linecap="round"/>`;
    }
    if (run.length === 1 || count <= MARKER_MAX_POINTS) {
      for (const p of run) {
        const [x, y] = p.split(',');
        svg += `<circle cx="${x}" cy="${y}" r="${run.length === 1 ? 3.5 : 2.5}" fill="${color}"/>`;
      }
    }
  }
  return svg;
}

/** Grid lines and tick labels; returns the mapping from data to pixels too. */
function axes(xt: Ticks, yt: Ticks, left: number, top: number, pw: number, ph: number) {
  const sx = (v: number): number => left + ((v - xt.min) / (xt.max - xt.min)) * pw;
  const sy = (v: number): number => top + ph - ((v - yt.min) / (yt.max - yt.min)) * ph;
  let svg = '';
  const yLabels = formatTicks(yt);
  yt.ticks.forEach((t, i) => {
    const y = sy(t);
    svg += `<line x1="${px(left)}" y1="${px(y)}" x2="${px(left + pw)}" y2="${px(y)}" stroke="${GRID}"/>`;
    svg += text(left - 6, y + 4, yLabels[i]!, { size: TICK, anchor: 'end', fill: MUTED, attrs: 'class="ytick"' });
  });
  const xLabels = formatTicks(xt);
  xt.ticks.forEach((t, i) => {
    const x = sx(t);
    svg += `<line x1="${px(x)}" y1="${px(top)}" x2="${px(x)}" y2="${px(top + ph)}" stroke="${GRID}"/>`;
    svg += text(x, top + ph + 15, xLabels[i]!, { size: TICK, anchor: 'middle', fill: MUTED, attrs: 'class="xtick"' });
  });
  return { sx, sy, svg };
}

/**
 * Axis domains: x spans the data (lines reach both sides, ticks inside), y grows to round ticks
 * enclosing the data; a fixed range is kept as given, with ticks inside.
 */
function domains(opts: LineChartOptions, box: PanelBox): { xt: Ticks; yt: Ticks; empty: boolean } {
  const { xs, ys } = finitePoints(opts.series);
  const integer = xs.length > 0 && xs.every(Number.isInteger);
  const [x0, x1] = opts.xRange ?? [minOf(xs), maxOf(xs)];
  const [y0, y1] = opts.yRange ?? [minOf(ys), maxOf(ys)];
  const xt = niceTicks(x0, x1, { integer, inside: true, maxTicks: Math.max(3, Math.floor(box.width / 70)) });
  const yt = niceTicks(y0, y1, { inside: opts.yRange !== undefined, maxTicks: Math.max(3, Math.floor(box.height / 50)) });
  return { xt, yt, empty: xs.length === 0 };
}

/** One chart panel drawn into `box` of an enclosing SVG. */
export function linePanel(opts: LineChartOptions, box: PanelBox): string {
  const { xt, yt, empty } = domains(opts, box);
  const cx = box.x + box.width / 2;
  let svg = text(cx, box.y + 24, opts.title, { size: TITLE, anchor: 'middle', weight: 'bold', attrs: 'class="title"' });
  const leg = opts.series.some((s) => s.legend !== false) ? legend(opts.series, cx, box.y + 46, box.width - 40) : { svg: '', rows: 0 };
  svg += leg.svg;

  const tickW = Math.max(...formatTicks(yt).map((s) => textWidth(s, TICK)), 12);
  const left = box.x + 20 + tickW + 10;
  const top = box.y + 40 + leg.rows * LEGEND_ROW + 10;
  const pw = Math.max(10, box.x + box.width - 18 - left);
  const ph = Math.max(10, box.y + box.height - 48 - top);
  const ax = axes(xt, yt, left, top, pw, ph);
  svg += ax.svg;
  svg += `<rect x="${px(left)}" y="${px(top)}" width="${px(pw)}" height="${px(ph)}" fill="none" stroke="${FRAME}"/>`;
  svg += text(left + pw / 2, box.y + box.height - 12, opts.xLabel, { size: LABEL, anchor: 'middle', attrs: 'class="xlabel"' });
  svg += text(box.x + 16, top + ph / 2, opts.yLabel, { size: LABEL, anchor: 'middle', rotate: -90, attrs: 'class="ylabel"' });

  // a little slack so that dots on the frame show whole
  const clip = `${escapeXml(box.id)}-clip`;
  svg += `<clipPath id="${clip}"><rect x="${px(left - 4)}" y="${px(top - 4)}" width="${px(pw + 8)}" height="${px(ph + 8)}"/></clipPath>`;
  svg += `<g clip-path="url(#${clip})">`;
  opts.series.forEach((s, i) => {
    svg += seriesPath(s, s.color ?? PALETTE[i % PALETTE.length]!, ax.sx, ax.sy);
  });
  svg += '</g>';
  if (empty) svg += text(left + pw / 2, top + ph / 2, 'no data', { size: LABEL, anchor: 'middle', fill: MUTED });
  return svg;
}
