/**
 * SVG building blocks shared by the charts: escaping, text, the palettes (ticks are in ticks.ts).
 *
 * Charts are SVG strings built by hand and rasterised by sharp (librsvg), see png.ts for why.
 * librsvg lays text out with Pango, so text widths here are estimates from DejaVu Sans' advances;
 * layouts leave slack for that.
 */

/** Paul Tol's "bright" qualitative scheme: distinct under the common colour-vision deficiencies. */
export const PALETTE = ['#4477AA', '#EE6677', '#228833', '#CCBB44', '#66CCEE', '#AA3377', '#BBBBBB'] as const;

/** Sequential ramp (matplotlib's Blues): single hue, so it reads the same to colour-blind eyes. */
const BLUES = ['#f7fbff', '#deebf7', '#c6dbef', '#9ecae1', '#6baed6', '#4292c6', '#2171b5', '#08519c', '#08306b'];

export const FONT = 'DejaVu Sans, Verdana, sans-serif';
export const INK = '#222222';
export const MUTED = '#555555';
export const GRID = '#e8e8e8';
export const FRAME = '#b0b0b0';

const INVALID_XML = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g;
const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

/** Text safe inside an SVG element or attribute; characters XML forbids are dropped. */
export function escapeXml(s: string): string {
  return s.replace(INVALID_XML, '').replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

/** A coordinate rounded to 0.1 px: keeps the SVG small without visible effect. */
export const px = (v: number): string => String(Math.round(v * 10) / 10);

/** Advance of one character in em, by rough class (DejaVu Sans metrics, ±10%). */
function charEm(c: string): number {
  if (/[iljtfrI.,:;'|!()[\] ]/.test(c)) return 0.34;
  if (/[mwMW@%]/.test(c)) return 0.9;
  if (/[A-Z0-9#&<>=+~_]/.test(c)) return 0.68;
  return 0.6;
}

/** Estimated rendered width of `s` at `size` px. */
export function textWidth(s: string, size: number): number {
  let em = 0;
  for (const c of s) em += charEm(c);
  return em * size;
}

/** `s` cut with an ellipsis so that it fits in `width` px at `size` px. */
export function fitText(s: string, width: number, size: number): string {
  if (textWidth(s, size) <= width) return s;
  const chars = [...s];
  while (chars.length > 0 && textWidth(`${chars.join('')}…`, size) > width) chars.pop();
  return `${chars.join('')}…`;
}

export interface TextStyle {
  size?: number;
  anchor?: 'start' | 'middle' | 'end';
  weight?: 'normal' | 'bold';
  fill?: string;
  /** Degrees, about the text's anchor point. */
  rotate?: number;
  /** Extra attributes, written as they are (for tests and styling hooks). */
  attrs?: string;
  baseline?: 'auto' | 'middle' | 'hanging';
}

/** A `<text>` element; `s` is escaped here. */
export function text(x: number, y: number, s: string, style: TextStyle = {}): string {
  const { size = 12, anchor = 'start', weight = 'normal', fill = INK, rotate, attrs, baseline = 'auto' } = style;
  const parts = [`x="${px(x)}"`, `y="${px(y)}"`, `font-size="${px(size)}"`, `fill="${fill}"`];
  if (anchor !== 'start') parts.push(`text-anchor="${anchor}"`);
  if (weight !== 'normal') parts.push(`font-weight="${weight}"`);
  if (baseline !== 'auto') parts.push(`dominant-baseline="${baseline}"`);
  if (rotate !== undefined) parts.push(`transform="rotate(${rotate} ${px(x)} ${px(y)})"`);
  if (attrs !== undefined) parts.push(attrs);
  return `<text ${parts.join(' ')}>${escapeXml(s)}</text>`;
}

/** A complete SVG document on a white background. */
export function svgDocument(width: number, height: number, body: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${FONT}">`
    + `<rect width="${width}" height="${height}" fill="#ffffff"/>${body}</svg>`;
}

/** `t` in [0, 1] as a colour of the sequential ramp, `#rrggbb`. */
export function sequentialColor(t: number): string {
  return `#${sequentialRgb(t).map((c) => c.toString(16).padStart(2, '0')).join('')}`;
}

/** `t` in [0, 1] as [r, g, b] of the sequential ramp (linear interpolation between stops). */
export function sequentialRgb(t: number): [number, number, number] {
  const u = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (BLUES.length - 1);
  const i = Math.min(BLUES.length - 2, Math.floor(u));
  const a = hexRgb(BLUES[i]!);
  const b = hexRgb(BLUES[i + 1]!);
  const f = u - i;
  return [0, 1, 2].map((k) => Math.round(a[k]! + (b[k]! - a[k]!) * f)) as [number, number, number];
}

export const SEQUENTIAL_STOPS: readonly string[] = BLUES;

function hexRgb(hex: string): number[] {
  return [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
}
