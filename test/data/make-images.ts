/** Small image trees for the data tests, made with sharp in a temp folder. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import sharp from 'sharp';

/** A w×h RGB image whose colour depends on `seed` (each class gets its own hue). */
export function pattern(w: number, h: number, seed: number, channels: 1 | 3 = 3): Buffer {
  const buf = Buffer.alloc(w * h * channels);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < channels; c++) buf[(y * w + x) * channels + c] = (seed * 40 + x * 3 + y * 2 + c * 60 + ((x * y) % 7)) & 255;
    }
  }
  return buf;
}

export async function writeImage(path: string, w: number, h: number, seed: number, format: 'png' | 'jpeg' | 'webp', channels: 1 | 3 = 3): Promise<void> {
  mkdirSync(dirname(path), { recursive: true });
  let s = sharp(pattern(w, h, seed, channels), { raw: { width: w, height: h, channels } });
  if (channels === 1) s = s.toColourspace('b-w');
  await (format === 'png' ? s.png() : format === 'jpeg' ? s.jpeg({ quality: 90 }) : s.webp()).toFile(path);
}

/** A fresh temp folder and its remover. */
export function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `kestrel-${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export const CLASSES = ['cat', 'dog', 'fish'];

/**
 * `root/<split>/<class>/<k>.png|jpg` for the given counts per class, alternating PNG and JPEG,
 * sizes varying around 24–40 px.
 */
export async function makeImageFolder(root: string, perClass: Partial<Record<'train' | 'val' | 'test' | '', number>>): Promise<void> {
  const jobs: Promise<void>[] = [];
  for (const [split, n] of Object.entries(perClass)) {
    CLASSES.forEach((cls, ci) => {
      for (let k = 0; k < n!; k++) {
        const ext = k % 2 === 0 ? 'png' : 'jpg';
        jobs.push(writeImage(join(root, split, cls, `${k}.${ext}`), 24 + 4 * k, 32 + 2 * ci, ci * 5 + k, ext === 'png' ? 'png' : 'jpeg'));
      }
    });
  }
  await Promise.all(jobs);
}

/** Adds the three kinds of bad file: random bytes named .jpg, a truncated PNG, a .txt file. */
export async function addBadFiles(splitDir: string): Promise<{ corrupt: string; truncated: string; text: string }> {
  const corrupt = join(splitDir, 'cat', 'corrupt.jpg');
  const truncated = join(splitDir, 'dog', 'truncated.png');
  const text = join(splitDir, 'fish', 'notes.txt');
  writeFileSync(corrupt, Buffer.from(Array.from({ length: 500 }, (_, i) => (i * 73 + 11) & 255)));
  const png = await sharp(pattern(40, 40, 9), { raw: { width: 40, height: 40, channels: 3 } }).png().toBuffer();
  writeFileSync(truncated, png.subarray(0, Math.floor(png.length * 0.6)));
  writeFileSync(text, 'not an image\n');
  return { corrupt, truncated, text };
}
