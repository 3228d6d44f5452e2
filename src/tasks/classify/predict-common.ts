/** What both prediction back ends share: the result record, its rounding, and labelled copies. */
import sharp from 'sharp';
import { CopiesDir } from '../../engine/predictor.js';

/** A classifier's answer for one image: the top-k classes, best first. */
export interface TopResult {
  top: { label: string; score: number }[];
}

export type Prediction = ({ source: string } & TopResult) | { source: string; error: string };

/** Scores as printed: six decimals. */
export const round = (v: number): number => Number(v.toFixed(6));

const escapeXml = (s: string): string => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A copy of the image with its label on a banner across the top. */
async function saveLabelled(src: string, text: string, dest: string): Promise<void> {
  const { data, info } = await sharp(src).rotate().toBuffer({ resolveWithObject: true });
  // At least 16 px tall so the text reads, but never taller than the image (sharp refuses an overlay larger than its base).
  const bar = Math.min(info.height, Math.max(16, Math.round(Math.min(info.width, info.height) * 0.09)));
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${info.width}" height="${bar}"><rect width="100%" height="100%" fill="black" fill-opacity="0.6"/><text x="4" y="${Math.round(bar * 0.75)}" font-family="DejaVu Sans, sans-serif" font-size="${Math.round(bar * 0.7)}" fill="white">${escapeXml(text)}</text></svg>`;
  await CopiesDir.write(dest, sharp(data).composite([{ input: Buffer.from(svg), top: 0, left: 0 }]));
}

/** Labelled copies of classified images in a run folder (see CopiesDir). */
export class LabelledCopies {
  readonly #dir: CopiesDir;
  /** The run folder the copies go to. */
  get dir(): string {
    return this.#dir.dir;
  }

  constructor(paths: string[], project: string, name: string) {
    this.#dir = new CopiesDir(paths, project, name);
  }

  async save(source: string, top: { label: string; score: number }): Promise<void> {
    await saveLabelled(source, `${top.label} ${(top.score * 100).toFixed(1)}%`, this.#dir.target(source));
  }
}
