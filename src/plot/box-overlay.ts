/**
 * Predicted boxes laid out over an image shown at another size: the web UI's predict page draws
 * what `/v1/predict` (or the browser's own run) answers. Plain JS with no imports, so the page
 * bundles it; the colours are the ones the server's pictures use (boxes.ts).
 */

/** Ultralytics' 20-colour palette, so class colours match what users know from there. */
export const BOX_COLOURS = [
  '#FF3838', '#FF9D97', '#FF701F', '#FFB21D', '#CFD231', '#48F90A', '#92CC17', '#3DDB86', '#1A9334', '#00D4BB',
  '#2C99A8', '#00C2FF', '#344593', '#6473FF', '#0018EC', '#8438FF', '#520085', '#CB38FF', '#FF95C8', '#FF37C7',
] as const;

/** The colour of class `cls` (the palette repeats after 20 classes). */
export const boxColour = (cls: number): string => BOX_COLOURS[((Math.trunc(cls) % BOX_COLOURS.length) + BOX_COLOURS.length) % BOX_COLOURS.length]!;

/**
 * Black or white, whichever contrasts more with `hex` (WCAG's relative luminance): label text on
 * a pale class colour is black.
 */
export function labelInk(hex: string): '#000000' | '#FFFFFF' {
  const lin = (i: number): number => {
    const c = parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  const l = 0.2126 * lin(1) + 0.7152 * lin(3) + 0.0722 * lin(5);
  return (l + 0.05) / 0.05 > 1.05 / (l + 0.05) ? '#000000' : '#FFFFFF';
}

/** One box as `kestrel predict` prints it and `/v1/predict` answers it. */
export interface PredictedBox {
  label: string;
  class: number;
  score: number;
  /** x1, y1, x2, y2 in the original image's pixels. */
  box: [number, number, number, number];
}

export interface Size {
  width: number;
  height: number;
}

/** A box ready to draw, in the displayed image's pixels. */
export interface OverlayBox {
  x: number;
  y: number;
  width: number;
  height: number;
  colour: string;
  /** The label's text colour on `colour`. */
  ink: string;
  /** "label 0.91" */
  text: string;
  class: number;
  score: number;
}

/**
 * The boxes scoring at least `minScore`, best first, mapped from the image's own pixels
 * (`image`, its natural size) to the size it is shown at (`shown`; each axis scales on its own)
 * and clipped to the image.
 *
 * @example
 * overlayBoxes([{ label: 'cat', class: 0, score: 0.9, box: [100, 50, 300, 250] }], { width: 400, height: 300 }, { width: 200, height: 150 });
 * // [{ x: 50, y: 25, width: 100, height: 100, colour: '#FF3838', ink: '#000000', text: 'cat 0.90', class: 0, score: 0.9 }]
 */
export function overlayBoxes(boxes: readonly PredictedBox[], image: Size, shown: Size, minScore = 0): OverlayBox[] {
  if (!(image.width > 0 && image.height > 0)) return [];
  const [sx, sy] = [shown.width / image.width, shown.height / image.height];
  const clip = (v: number, hi: number): number => Math.min(Math.max(v, 0), hi);
  return boxes
    .filter((b) => b.score >= minScore)
    .sort((a, b) => b.score - a.score)
    .map((b) => {
      const [x1, y1, x2, y2] = [clip(b.box[0], image.width) * sx, clip(b.box[1], image.height) * sy, clip(b.box[2], image.width) * sx, clip(b.box[3], image.height) * sy];
      const colour = boxColour(b.class);
      return { x: x1, y: y1, width: Math.max(0, x2 - x1), height: Math.max(0, y2 - y1), colour, ink: labelInk(colour), text: `${b.label} ${b.score.toFixed(2)}`, class: b.class, score: b.score };
    });
}
