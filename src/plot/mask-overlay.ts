/**
 * Class masks coloured over images: `kestrel predict --save` and the training pictures blend them
 * into the pixels (overlayMask), the web UI's predict page lays a transparent layer over the shown
 * image (maskRgba) whose opacity the user sets. Plain JS with no Node imports, so the page bundles
 * it; both take their colours from classColour, so a class looks the same everywhere. Class 0 is
 * the background by the data sets' convention (synth, VOC, COCO conversion) and stays uncoloured,
 * as do ignore pixels (255).
 */
import { BOX_COLOURS } from './box-overlay.js';

/**
 * The colour of class k as [r, g, b], from detection's palette (Ultralytics') taken 7 apart, since
 * its neighbours are alike (red, salmon, orange) and adjacent regions need distinct colours.
 */
export function classColour(k: number): [number, number, number] {
  const n = BOX_COLOURS.length;
  const hex = BOX_COLOURS[((((k - 1) * 7) % n) + n) % n]!;
  return [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)) as [number, number, number];
}

/** classColour as `#RRGGBB`, for a legend's swatch. */
export const classHex = (k: number): string => `#${classColour(k).map((v) => v.toString(16).padStart(2, '0')).join('').toUpperCase()}`;

/** Whether class k is drawn (the background and ignore pixels are not). */
export const isColoured = (k: number): boolean => k !== 0 && k !== 255;

/** `rgb` (HWC, 1 or 3 channels) as RGB with the mask's classes blended in at `alpha` (class 0 and 255 left as they are). */
export function overlayMask(rgb: Uint8Array, channels: 1 | 3, mask: Uint8Array, alpha = 0.5): Uint8Array {
  const out = new Uint8Array(mask.length * 3);
  const colours = new Map<number, [number, number, number]>();
  for (let i = 0; i < mask.length; i++) {
    const k = mask[i]!;
    for (let c = 0; c < 3; c++) out[i * 3 + c] = rgb[i * channels + (channels === 3 ? c : 0)]!;
    if (!isColoured(k)) continue;
    let col = colours.get(k);
    if (!col) colours.set(k, (col = classColour(k)));
    for (let c = 0; c < 3; c++) out[i * 3 + c] = Math.round(out[i * 3 + c]! * (1 - alpha) + col[c]! * alpha);
  }
  return out;
}

/**
 * The mask as an RGBA layer (canvas ImageData's layout): each coloured class in its colour at
 * opacity `alpha`, the rest transparent. Drawn over the image it gives what overlayMask blends in.
 *
 * @example
 * ctx.putImageData(new ImageData(maskRgba(mask, 0.5), width, height), 0, 0);
 */
export function maskRgba(mask: Uint8Array, alpha = 0.5): Uint8ClampedArray<ArrayBuffer> {
  const out = new Uint8ClampedArray(mask.length * 4);
  const a = Math.round(Math.min(Math.max(alpha, 0), 1) * 255);
  const colours = new Map<number, [number, number, number]>();
  for (let i = 0; i < mask.length; i++) {
    const k = mask[i]!;
    if (!isColoured(k)) continue;
    let col = colours.get(k);
    if (!col) colours.set(k, (col = classColour(k)));
    out.set(col, i * 4);
    out[i * 4 + 3] = a;
  }
  return out;
}
