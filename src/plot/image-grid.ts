/** Grids of images with captions: training-batch samples, galleries of wrong predictions. */
import sharp, { type OverlayOptions } from 'sharp';
import { writePngAtomic } from './png.js';
import { FONT, fitText, px, text } from './svg.js';

export interface GridItem {
  /** Pixels, row-major HWC, 8 bits per channel. */
  rgb: Uint8Array;
  width: number;
  height: number;
  /** 3 (RGB, the default) or 1 (grey). */
  channels?: 1 | 3;
  /** Caption under the tile; "\n" starts a new line (e.g. "true: cat\npred: dog 0.91"). */
  label?: string;
}

export interface GridOptions {
  /** Columns; default ⌈√n⌉. */
  cols?: number;
  /** Tile edge in px; images are fitted inside, small ones upscaled with nearest-neighbour so
   * their pixels stay sharp. Default: the largest image edge, at least 96 and at most 256. */
  tile?: number;
  title?: string;
}

const PAD = 10;
const CAPTION = 12;
const LINE = 15;
const TITLE_H = 36;
const BACKDROP = { r: 242, g: 242, b: 242 };

function check(item: GridItem, i: number): 1 | 3 {
  const channels = item.channels ?? 3;
  if (!Number.isInteger(item.width) || !Number.isInteger(item.height) || item.width < 1 || item.height < 1) {
    throw new RangeError(`imageGrid: item ${i} has size ${item.width}×${item.height}`);
  }
  if (item.rgb.length !== item.width * item.height * channels) {
    throw new RangeError(`imageGrid: item ${i} has ${item.rgb.length} bytes, expected ${item.width}×${item.height}×${channels}`);
  }
  return channels;
}

/** One image fitted into a tile×tile square on a light backdrop. */
async function tileImage(item: GridItem, channels: 1 | 3, tile: number): Promise<Buffer> {
  const upscale = Math.max(item.width, item.height) <= tile;
  return sharp(Buffer.from(item.rgb.buffer, item.rgb.byteOffset, item.rgb.byteLength), {
    raw: { width: item.width, height: item.height, channels },
  })
    .resize(tile, tile, { fit: 'contain', kernel: upscale ? 'nearest' : 'lanczos3', background: BACKDROP })
    .removeAlpha()
    .toColourspace('srgb')
    .png()
    .toBuffer();
}

/**
 * Writes a grid of images with captions as a PNG, atomically.
 *
 * @example
 * await imageGrid(
 *   [{ rgb: pixels, width: 28, height: 28, label: 'true: 7\npred: 1' }],
 *   'runs/exp/wrong.png', { tile: 96, title: 'Wrong predictions' },
 * );
 */
export async function imageGrid(items: readonly GridItem[], outPath: string, opts: GridOptions = {}): Promise<void> {
  writePngAtomic(outPath, await imageGridPng(items, opts));
}

/** The PNG bytes of imageGrid. */
export async function imageGridPng(items: readonly GridItem[], opts: GridOptions = {}): Promise<Buffer> {
  if (items.length === 0) throw new RangeError('imageGrid: no images');
  const channels = items.map(check);
  const maxEdge = Math.max(...items.map((it) => Math.max(it.width, it.height)));
  const tile = Math.round(opts.tile ?? Math.min(256, Math.max(96, maxEdge)));
  if (!(tile >= 8)) throw new RangeError(`imageGrid: tile must be at least 8 px, got ${tile}`);
  const cols = Math.max(1, Math.min(items.length, Math.round(opts.cols ?? Math.ceil(Math.sqrt(items.length)))));
  const rows = Math.ceil(items.length / cols);
  const lines = Math.max(0, ...items.map((it) => (it.label === undefined || it.label === '' ? 0 : it.label.split('\n').length)));
  const captionH = lines === 0 ? 0 : lines * LINE + 4;
  const titleH = opts.title === undefined ? 0 : TITLE_H;
  const cellH = tile + captionH + PAD;
  const width = PAD + cols * (tile + PAD);
  const height = titleH + PAD + rows * cellH;

  const pos = (i: number): { x: number; y: number } => ({ x: PAD + (i % cols) * (tile + PAD), y: titleH + PAD + Math.floor(i / cols) * cellH });
  const tiles = await Promise.all(items.map((it, i) => tileImage(it, channels[i]!, tile)));
  const layers: OverlayOptions[] = tiles.map((input, i) => ({ input, left: pos(i).x, top: pos(i).y }));

  let svg = '';
  if (opts.title !== undefined) svg += text(width / 2, 24, fitText(opts.title, width - 2 * PAD, 16), { size: 16, anchor: 'middle', weight: 'bold' });
  items.forEach((it, i) => {
    const { x, y } = pos(i);
    svg += `<rect x="${px(x - 0.5)}" y="${px(y - 0.5)}" width="${tile + 1}" height="${tile + 1}" fill="none" stroke="#d0d0d0"/>`;
    (it.label ?? '').split('\n').slice(0, lines).forEach((line, k) => {
      svg += text(x + tile / 2, y + tile + LINE * (k + 1), fitText(line, tile, CAPTION), { size: CAPTION, anchor: 'middle', attrs: 'class="caption"' });
    });
  });
  const overlay = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="${FONT}">${svg}</svg>`;
  layers.push({ input: Buffer.from(overlay), left: 0, top: 0 });

  return sharp({ create: { width, height, channels: 3, background: '#ffffff' } })
    .composite(layers)
    .png({ compressionLevel: 9 })
    .toBuffer();
}
