// Folders of generated JPEGs for the loader benchmarks: root/c<k mod classes>/<k>.jpg, gradients
// plus a little texture, so they compress and decode like photos rather than like noise.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import sharp from 'sharp';
import type { FileSource } from '../src/data/source.js';

export interface JpegOptions {
  width: number;
  height: number;
  classes?: number;
  quality?: number;
}

/** Writes `n` JPEGs into `dir` (which must exist), spread over `classes` class folders. */
export async function writeJpegs(dir: string, n: number, o: JpegOptions): Promise<void> {
  const { width: W, height: H, classes = 4, quality = 90 } = o;
  for (let c = 0; c < classes; c++) mkdirSync(join(dir, `c${c}`), { recursive: true });
  const jobs: Promise<unknown>[] = [];
  for (let k = 0; k < n; k++) {
    const buf = Buffer.alloc(W * H * 3);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const i = (y * W + x) * 3;
        buf[i] = (x + k * 17) & 255;
        buf[i + 1] = (y * 2 + k * 5) & 255;
        buf[i + 2] = (128 + 100 * Math.sin((x * y) / 900 + k) + ((x * 31 + y * 17 + k) % 23)) & 255;
      }
    }
    jobs.push(sharp(buf, { raw: { width: W, height: H, channels: 3 } }).jpeg({ quality }).toFile(join(dir, `c${k % classes}`, `${k}.jpg`)));
  }
  await Promise.all(jobs);
}

/**
 * `dir` filled with `n` JPEGs, generated once: written into a temporary sibling and renamed into
 * place, so an interrupted run never leaves a half-filled cache behind.
 */
export async function cachedJpegs(dir: string, n: number, o: JpegOptions): Promise<string> {
  if (existsSync(dir)) return dir;
  mkdirSync(dirname(dir), { recursive: true });
  const tmp = mkdtempSync(join(dirname(dir), `.${basename(dir)}-`));
  try {
    await writeJpegs(tmp, n, o);
    renameSync(tmp, dir);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    if (!existsSync(dir)) throw e; // else another process finished first
  }
  return dir;
}

/** An ImageFolder `root/<class>/*.jpg` as a loader source: classes and files in sorted order, as torchvision's ImageFolder. */
export function folderSource(root: string): FileSource {
  const classes = readdirSync(root).filter((d) => !d.startsWith('.')).sort();
  const paths: string[] = [];
  const labels: number[] = [];
  classes.forEach((c, label) => {
    for (const f of readdirSync(join(root, c)).sort()) {
      paths.push(join(root, c, f));
      labels.push(label);
    }
  });
  return { kind: 'files', paths, labels: Int32Array.from(labels) };
}
