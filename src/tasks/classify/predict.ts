/**
 * Runs a classifier checkpoint on images (a file, a folder or a glob) and streams one result per
 * image, so results never pile up in memory.
 *
 * @example
 * for await (const r of predict({ weights: 'best.safetensors', source: 'photos/*.jpg', topk: 3 })) console.log(r);
 */
import { mkdirSync, statSync } from 'node:fs';
import { dirname, extname, join, relative, resolve, sep } from 'node:path';
import sharp from 'sharp';
import { glob } from 'tinyglobby';
import { writeFileAtomic } from '../../checkpoint/atomic.js';
import { DataLoader } from '../../data/loader.js';
import { IMAGE_EXTENSIONS } from '../../data/sources.js';
import { loadCheckpoint } from '../../engine/checkpoint.js';
import { RunDir } from '../../engine/run-dir.js';
import { noGrad } from '../../tensor/runtime.js';
import { tidy } from '../../tensor/scope.js';

export interface PredictOptions {
  weights: string;
  source: string;
  topk?: number;
  batch?: number;
  workers?: number;
  /** Writes a labelled copy of each image into a run folder. */
  save?: boolean;
  project?: string;
  name?: string;
}

export type Prediction =
  | { source: string; top: { label: string; score: number }[] }
  | { source: string; error: string };

/** The image files a source names: one file, every image under a folder, or a glob's matches. */
export async function expandSource(source: string): Promise<string[]> {
  const isImage = (p: string): boolean => IMAGE_EXTENSIONS.includes(extname(p).toLowerCase());
  let st;
  try {
    st = statSync(source);
  } catch {
    st = null;
  }
  if (st?.isFile()) return [source];
  const files = st?.isDirectory()
    ? await glob('**/*', { cwd: source, absolute: true, onlyFiles: true })
    : /[*?[{]/.test(source) ? await glob(source, { absolute: true, onlyFiles: true }) : null;
  if (files === null) throw new Error(`source not found: ${source}`);
  const images = files.filter(isImage).sort();
  if (images.length === 0) throw new Error(`no images in ${source} (looked for ${IMAGE_EXTENSIONS.join(' ')})`);
  return images;
}

export async function* predict(o: PredictOptions): AsyncGenerator<Prediction> {
  const paths = await expandSource(o.source);
  const ckpt = loadCheckpoint(o.weights);
  const { classes, preprocess } = ckpt.meta;
  const k = Math.min(o.topk ?? 5, classes.length);
  const skipped: Prediction[] = [];
  const loader = new DataLoader({ kind: 'files', paths, labels: new Int32Array(paths.length) }, {
    batchSize: o.batch ?? 32, shuffle: false, dropLast: false, transforms: preprocess.transforms, seed: 0,
    ...(o.workers === undefined ? {} : { workers: o.workers }),
    onSkip: (path: string, reason: string) => skipped.push({ source: path, error: reason }),
  });
  const out = o.save ? RunDir.create(o.project ?? 'runs/classify', o.name ?? 'predict') : null;
  // Labelled copies keep their paths below the sources' common folder, so a/1.jpg and b/1.jpg both survive.
  const base = commonDir(paths);
  try {
    for await (const batch of loader.epoch(0)) {
      const { values, indices } = noGrad(() => tidy(() => {
        const top = ckpt.model.forward(batch.images).softmax(1).topk(k, 1);
        return { values: top.values.toArray(), indices: top.indices.toArray() };
      }));
      batch.images.dispose();
      batch.labels.dispose();
      yield* skipped.splice(0);
      for (let i = 0; i < batch.indices.length; i++) {
        const source = paths[batch.indices[i]!]!;
        const top = Array.from({ length: k }, (_, j) => ({ label: classes[indices[i * k + j]!]!, score: round(values[i * k + j]!) }));
        if (out) await saveLabelled(source, `${top[0]!.label} ${(top[0]!.score * 100).toFixed(1)}%`, join(out.path, relative(base, source)));
        yield { source, top };
      }
    }
    yield* skipped.splice(0);
  } finally {
    await loader.close();
    ckpt.model.dispose();
    for (const t of ckpt.extra.values()) t.dispose();
  }
}

const round = (v: number): number => Number(v.toFixed(6));

function commonDir(paths: string[]): string {
  let dir = dirname(resolve(paths[0]!));
  while (!paths.every((p) => resolve(p).startsWith(dir + sep))) dir = dirname(dir);
  return dir;
}

const escapeXml = (s: string): string => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A copy of the image with its label on a banner across the top. */
async function saveLabelled(src: string, text: string, dest: string): Promise<void> {
  const { data, info } = await sharp(src).rotate().toBuffer({ resolveWithObject: true });
  const bar = Math.max(16, Math.round(Math.min(info.width, info.height) * 0.09));
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${info.width}" height="${bar}"><rect width="100%" height="100%" fill="black" fill-opacity="0.6"/><text x="4" y="${Math.round(bar * 0.75)}" font-family="DejaVu Sans, sans-serif" font-size="${Math.round(bar * 0.7)}" fill="white">${escapeXml(text)}</text></svg>`;
  const ext = extname(dest).toLowerCase();
  const format = ext === '.png' ? 'png' : ext === '.webp' ? 'webp' : 'jpeg';
  const buf = await sharp(data).composite([{ input: Buffer.from(svg), top: 0, left: 0 }]).toFormat(format).toBuffer();
  // GIF and TIFF copies are written as JPEG next to where the original name would be.
  const target = format === 'jpeg' && ext !== '.jpg' && ext !== '.jpeg' ? `${dest}.jpg` : dest;
  mkdirSync(dirname(target), { recursive: true });
  writeFileAtomic(resolve(target), [buf]);
}
