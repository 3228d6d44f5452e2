/**
 * The validation images a model got wrong, kept in the run folder for the web UI's gallery:
 * `val_errors/index.json` and one small PNG per image, the most confident mistakes first.
 */
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { writeFileAtomic } from '../../checkpoint/atomic.js';
import { sampleId, type DataSource } from '../../data/source.js';

export const VAL_ERRORS_DIR = 'val_errors';
export const MAX_VAL_ERRORS = 64;
/** Longest side of a thumbnail made from a file (images from memory sets keep their size). */
const THUMB = 160;

export interface ValError {
  /** The PNG in val_errors/. */
  file: string;
  /** Sample index in the split, and its id (memory id or file path). */
  index: number;
  id: string;
  true: string;
  pred: string;
  /** The predicted class's probability. */
  score: number;
  /** The image file, when the sample came from one. */
  source?: string;
}

export interface ValErrorsIndex {
  epoch: number;
  /** Wrong predictions in the whole split, and the split's size. */
  wrong: number;
  total: number;
  classes: string[];
  items: ValError[];
}

/** What the gallery needs of a validation pass (evaluate.ts's Predictions). */
export interface ScoredPredictions {
  yTrue: number[];
  yPred: number[];
  scores: number[][];
  /** Sample index in the source of each prediction. */
  indices: number[];
}

/** Positions of the wrong predictions, most confident first (ties in split order), at most `limit`. */
export function pickErrors(p: ScoredPredictions, limit = MAX_VAL_ERRORS): number[] {
  const wrong: number[] = [];
  for (let i = 0; i < p.yTrue.length; i++) if (p.yTrue[i] !== p.yPred[i]) wrong.push(i);
  const conf = (i: number): number => p.scores[i]![p.yPred[i]!]!;
  return wrong.sort((a, b) => conf(b) - conf(a) || p.indices[a]! - p.indices[b]!).slice(0, limit);
}

async function thumbnail(source: DataSource, index: number): Promise<Buffer> {
  if (source.kind === 'memory') {
    const { height, width, channels } = source;
    const size = height * width * channels;
    const px = Buffer.from(source.images.buffer, source.images.byteOffset + index * size, size);
    const img = sharp(px, { raw: { width, height, channels } });
    return (channels === 1 ? img.toColourspace('b-w') : img).png().toBuffer();
  }
  return sharp(source.paths[index]!).rotate().resize({ width: THUMB, height: THUMB, fit: 'inside', withoutEnlargement: true }).png().toBuffer();
}

/**
 * Writes up to `limit` wrong predictions of one validation pass into `runDir/val_errors/`: the
 * PNGs first, then index.json (atomically), then removes PNGs an earlier index named, so a reader
 * never finds an index entry without its image. An image that cannot be read is left out.
 *
 * @example
 * const idx = await writeValErrors(run.path, data.splits.val, preds, data.classes, epoch);
 * idx.items[0]; // { file: 'e3-0.png', true: 'cat', pred: 'dog', score: 0.97, … }
 */
export async function writeValErrors(runDir: string, source: DataSource, p: ScoredPredictions, classes: string[], epoch: number, limit = MAX_VAL_ERRORS): Promise<ValErrorsIndex> {
  const dir = join(runDir, VAL_ERRORS_DIR);
  mkdirSync(dir, { recursive: true });
  const items: ValError[] = [];
  for (const i of pickErrors(p, limit)) {
    const index = p.indices[i]!;
    let png: Buffer;
    try {
      png = await thumbnail(source, index);
    } catch {
      continue;
    }
    const file = `e${epoch}-${items.length}.png`;
    writeFileAtomic(join(dir, file), [png]);
    const id = sampleId(source, index);
    items.push({
      file, index, id, true: classes[p.yTrue[i]!] ?? String(p.yTrue[i]), pred: classes[p.yPred[i]!] ?? String(p.yPred[i]),
      score: Number(p.scores[i]![p.yPred[i]!]!.toFixed(6)), ...(source.kind === 'files' ? { source: id } : {}),
    });
  }
  const wrong = p.yTrue.reduce((n, t, i) => n + (t === p.yPred[i] ? 0 : 1), 0);
  const index: ValErrorsIndex = { epoch, wrong, total: p.yTrue.length, classes, items };
  writeFileAtomic(join(dir, 'index.json'), [Buffer.from(`${JSON.stringify(index, null, 2)}\n`)]);
  const keep = new Set(items.map((it) => it.file));
  for (const f of readdirSync(dir)) if (f.endsWith('.png') && !keep.has(f)) rmSync(join(dir, f), { force: true });
  return index;
}
