/**
 * Boxes and their labels drawn over an image: predicted copies (`predict --save`), training
 * batches and validation galleries of detection runs. An SVG overlay composited by sharp, as the
 * other plots are (see png.ts for why SVG).
 */
import sharp from 'sharp';
import { boxColour, labelInk } from './box-overlay.js';
import { FONT, escapeXml, px } from './svg.js';

export { BOX_COLOURS } from './box-overlay.js';

export interface DrawnBox {
  /** x1, y1, x2, y2 in the image's pixels. */
  box: readonly [number, number, number, number];
  /** Picks the colour. */
  cls: number;
  /** Drawn on a filled tab above the box (e.g. "cat 0.91"); none when absent. */
  label?: string;
}

/** The overlay for a `width`×`height` image: outlines a little thicker on larger images. */
export function boxesSvg(width: number, height: number, boxes: readonly DrawnBox[]): string {
  const line = Math.max(1, Math.round(Math.min(width, height) / 200));
  const font = Math.max(9, Math.round(Math.min(width, height) / 40));
  const parts = boxes.map(({ box: [x1, y1, x2, y2], cls, label }) => {
    const c = boxColour(cls);
    // The stroke lies inside the box, on whole pixels (a stroke centred on the edge would
    // half-cover two pixel rows).
    const h = line / 2;
    let s = `<rect x="${px(x1 + h)}" y="${px(y1 + h)}" width="${px(Math.max(0, x2 - x1 - line))}" height="${px(Math.max(0, y2 - y1 - line))}" fill="none" stroke="${c}" stroke-width="${line}"/>`;
    if (label) {
      const w = label.length * font * 0.62 + 4;
      const top = y1 - font - 3 >= 0 ? y1 - font - 3 : y1;
      s += `<rect x="${px(x1)}" y="${px(top)}" width="${px(w)}" height="${font + 3}" fill="${c}"/><text x="${px(x1 + 2)}" y="${px(top + font)}" font-family="${FONT}" font-size="${font}" fill="${labelInk(c)}">${escapeXml(label)}</text>`;
    }
    return s;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${parts.join('')}</svg>`;
}

/** `input` (a path or encoded bytes, EXIF orientation applied) with `boxes` drawn; PNG bytes. */
export async function drawBoxes(input: string | Buffer, boxes: readonly DrawnBox[]): Promise<Buffer> {
  const img = sharp(input).rotate();
  const { data, info } = await img.toBuffer({ resolveWithObject: true });
  const svg = Buffer.from(boxesSvg(info.width, info.height, boxes));
  const drawn = sharp(data).composite([{ input: svg, top: 0, left: 0 }]);
  // Compositing adds an alpha channel; an opaque image stays opaque.
  return (info.channels === 3 || info.channels === 1 ? drawn.removeAlpha() : drawn).png().toBuffer();
}
