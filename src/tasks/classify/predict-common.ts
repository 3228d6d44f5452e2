/** What both prediction back ends share: the result record, its rounding, and labelled copies. */
import { mkdirSync } from 'node:fs';
import { dirname, extname, join, relative, resolve, sep } from 'node:path';
import sharp from 'sharp';
import { writeFileAtomic } from '../../checkpoint/atomic.js';
import { RunDir } from '../../engine/run-dir.js';

/** A classifier's answer for one image: the top-k classes, best first. */
export interface TopResult {
  top: { label: string; score: number }[];
}

export type Prediction = ({ source: string } & TopResult) | { source: string; error: string };

/** Scores as printed: six decimals. */
export const round = (v: number): number => Number(v.toFixed(6));

function commonDir(paths: string[]): string {
  let dir = dirname(resolve(paths[0]!));
  while (!paths.every((p) => resolve(p).startsWith(dir + sep))) dir = dirname(dir);
  return dir;
}

const escapeXml = (s: string): string => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A copy of the image with its label on a banner across the top. */
async function saveLabelled(src: string, text: string, dest: string): Promise<void> {
  const { data, info } = await sharp(src).rotate().toBuffer({ resolveWithObject: true });
  // At least 16 px tall so the text reads, but never taller than the image (sharp refuses an overlay larger than its base).
  const bar = Math.min(info.height, Math.max(16, Math.round(Math.min(info.width, info.height) * 0.09)));
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${info.width}" height="${bar}"><rect width="100%" height="100%" fill="black" fill-opacity="0.6"/><text x="4" y="${Math.round(bar * 0.75)}" font-family="DejaVu Sans, sans-serif" font-size="${Math.round(bar * 0.7)}" fill="white">${escapeXml(text)}</text></svg>`;
  const ext = extname(dest).toLowerCase();
  const format = ext === '.png' ? 'png' : ext === '.webp' ? 'webp' : 'jpeg';
  const buf = await sharp(data).composite([{ input: Buffer.from(svg), top: 0, left: 0 }]).toFormat(format).toBuffer();
  // GIF and TIFF copies are written as JPEG next to where the original name would be.
  const target = format === 'jpeg' && ext !== '.jpg' && ext !== '.jpeg' ? `${dest}.jpg` : dest;
  mkdirSync(dirname(target), { recursive: true });
  writeFileAtomic(resolve(target), [buf]);
}

/**
 * Where `--save` writes labelled copies: a run folder, with each copy at its path below the
 * sources' common folder (so a/1.jpg and b/1.jpg both survive).
 */
export class LabelledCopies {
  readonly #dir: string;
  readonly #base: string;

  constructor(paths: string[], project: string, name: string) {
    this.#dir = RunDir.create(project, name).path;
    this.#base = commonDir(paths);
  }

  async save(source: string, top: { label: string; score: number }): Promise<void> {
    await saveLabelled(source, `${top.label} ${(top.score * 100).toFixed(1)}%`, join(this.#dir, relative(this.#base, source)));
  }
}
