/**
 * Semantic segmentation data: a `data.yaml` naming image folders (train, val, test), a `masks`
 * folder beside `images` holding one PNG per image at the same relative path (`images/train/a/1.jpg`
 * → `masks/train/a/1.png`), and `names`; or the Pascal VOC layout (JPEGImages/,
 * SegmentationClass/, ImageSets/Segmentation/{train,val,test}.txt). A mask's pixel value is the
 * class index, 255 means "ignore" (VOC's palette PNGs: the palette index). Every mask is read once
 * here, so a pair whose mask is missing, unreadable, of another size than its image, or holds a
 * value that is neither a class nor 255 is left out and listed (`strict`: one error naming them all)
 * before training rather than failing mid-epoch.
 *
 * @example
 * const data = await resolveSegmentData('cells/data.yaml');
 * data.classes;                      // ['background', 'round', 'elongated', 'dividing']
 * const loader = new DataLoader(data.splits.train, { batchSize: 8, transforms });
 * for await (const b of loader.epoch(0)) b.masks; // uint8 [B, H, W], moved with the pixels
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve, sep } from 'node:path';
import { DataError } from './errors.js';
import { checkImage, decodeMask, is16BitPng } from './image.js';
import type { FileSource, Skipped } from './source.js';
import { IGNORE } from './targets.js';
import { classNames, readYaml, splitImages } from './yolo.js';

export type SegmentSplit = 'train' | 'val' | 'test';

/** A segmentation data set, resolved and checked: every split's images with their masks. */
export interface SegmentData {
  name: string;
  layout: 'yaml' | 'voc';
  /** Class k is mask value k. */
  classes: string[];
  /** 3 when any image has colour, else 1 (grey scans are kept grey). */
  inChannels: 1 | 3;
  /** 16 when any image is a 16-bit PNG: the loader reads those without loss (decodeImageDeep). */
  bitDepth: 8 | 16;
  /** The mask value that marks pixels left out of the loss and the metrics. */
  ignoreIndex: typeof IGNORE;
  /** FileSources with `masks` (one PNG per image) and `channels` = inChannels. */
  splits: { train: FileSource; val: FileSource; test?: FileSource };
  /** Pixels of each class in the training masks (ignore pixels left out), e.g. for class weights. */
  trainPixels: number[];
  /** Pairs left out, with the reason (the mask's path when the mask is at fault). */
  skipped: Skipped[];
  /** The data.yaml, or the VOC folder. */
  source: string;
}

export interface SegmentResolveOptions {
  /** Stop with one DataError naming every unusable pair instead of leaving them out. */
  strict?: boolean;
  /** Decode every image once to find truncated files (default: only when there are ≤ 10,000). Masks are always read in full. */
  verify?: 'auto' | 'header' | 'full';
}

/** Pascal VOC's 21 classes, in the order of their mask values. */
export const VOC_CLASSES = [
  'background', 'aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair', 'cow',
  'diningtable', 'dog', 'horse', 'motorbike', 'person', 'pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor',
];

/** Pairs checked at once (mask decoding is quick; this hides file latency). */
const CONCURRENCY = 8;
/** How many unusable pairs a --strict error names before counting the rest. */
const STRICT_NAMED = 5;

/**
 * The mask of `image` in the data.yaml layout: the last `images` folder of its path replaced by
 * `masksDir` (by default the `masks` folder beside it), the extension by `.png`.
 */
export function maskPathOf(image: string, masksDir?: string): string | null {
  const a = `${sep}images${sep}`;
  const i = image.lastIndexOf(a);
  if (i < 0) return null;
  const rel = image.slice(i + a.length);
  const dir = masksDir ?? `${image.slice(0, i)}${sep}masks`;
  return join(dir, rel.slice(0, rel.length - extname(rel).length) + '.png');
}

interface Pair {
  image: string;
  mask: string | null;
}

interface Checked {
  ok: boolean;
  grey: boolean;
  deep: boolean;
  counts?: Float64Array;
}

/** Class counts of a mask, or why it cannot be used with its `width`×`height` image and `n` classes. */
export async function checkMask(path: string, width: number, height: number, n: number): Promise<Float64Array | string> {
  let m: { data: Uint8Array; width: number; height: number };
  try {
    m = await decodeMask(await readFile(path));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return `mask unreadable: ${err.code === 'ENOENT' ? 'file not found' : String(err.message).split('\n')[0]}`;
  }
  if (m.width !== width || m.height !== height) return `mask is ${m.width}×${m.height} but its image is ${width}×${height}`;
  const hist = new Float64Array(256);
  for (const v of m.data) hist[v]!++;
  const bad: number[] = [];
  for (let v = n; v < 256; v++) if (hist[v]! > 0 && v !== IGNORE) bad.push(v);
  if (bad.length > 0) {
    const values = bad.slice(0, 3).join(', ') + (bad.length > 3 ? ` and ${bad.length - 3} more` : '');
    return `mask holds value${bad.length > 1 ? 's' : ''} ${values}, neither a class (0–${n - 1}) nor ${IGNORE} (ignore)`;
  }
  return hist.subarray(0, n);
}

/** Whether a file starts as a 16-bit PNG. */
function deepPng(path: string): boolean {
  try {
    return is16BitPng(readFileSync(path).subarray(0, 33));
  } catch {
    return false;
  }
}

async function checkPair(p: Pair, n: number, full: boolean, problem: (path: string, reason: string) => void): Promise<Checked> {
  const fail = { ok: false, grey: true, deep: false };
  const img = await checkImage(p.image, full);
  if (!img.ok) {
    problem(p.image, img.reason);
    return fail;
  }
  if (p.mask === null) {
    problem(p.image, `no mask: the image is not under an 'images' folder, so its mask path is unknown`);
    return fail;
  }
  if (!existsSync(p.mask)) {
    problem(p.mask, `mask not found (for ${basename(p.image)})`);
    return fail;
  }
  const counts = await checkMask(p.mask, img.width, img.height, n);
  if (typeof counts === 'string') {
    problem(p.mask, counts);
    return fail;
  }
  return { ok: true, grey: img.channels <= 2, deep: deepPng(p.image), counts };
}

/** Runs `f` over `items`, CONCURRENCY at a time, results in order. */
async function inOrder<T, R>(items: T[], f: (t: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const run = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await f(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, items.length) }, run));
  return out;
}

/** The VOC year folder under `dir` (itself, VOCdevkit/VOC20xx, or a single VOC20xx inside), or null. */
export function vocRoot(dir: string): string | null {
  const isVoc = (d: string): boolean => ['JPEGImages', 'SegmentationClass', join('ImageSets', 'Segmentation')].every((s) => existsSync(join(d, s)));
  if (isVoc(dir)) return dir;
  for (const base of [dir, join(dir, 'VOCdevkit')]) {
    if (!existsSync(base) || !statSync(base).isDirectory()) continue;
    const found = readdirSync(base).map((e) => join(base, e)).filter((d) => /^VOC/i.test(basename(d)) && statSync(d).isDirectory() && isVoc(d));
    if (found.length === 1) return found[0]!;
  }
  return null;
}

interface Layout {
  layout: 'yaml' | 'voc';
  source: string;
  name: string;
  classes: string[];
  splits: Partial<Record<SegmentSplit, Pair[]>>;
}

function vocLayout(root: string): Layout {
  const sets = join(root, 'ImageSets', 'Segmentation');
  const splits: Layout['splits'] = {};
  for (const split of ['train', 'val', 'test'] as const) {
    const list = join(sets, `${split}.txt`);
    if (!existsSync(list)) continue;
    const ids = readFileSync(list, 'utf8').split(/\r?\n/).map((l) => l.trim().split(/\s+/)[0]!).filter(Boolean);
    splits[split] = ids.map((id) => ({ image: join(root, 'JPEGImages', `${id}.jpg`), mask: join(root, 'SegmentationClass', `${id}.png`) }));
  }
  return { layout: 'voc', source: root, name: basename(root), classes: VOC_CLASSES, splits };
}

function yamlLayout(yamlPath: string): Layout {
  const doc = readYaml(yamlPath);
  const root = typeof doc.path === 'string' ? resolve(dirname(yamlPath), doc.path) : dirname(yamlPath);
  const classes = classNames(yamlPath, doc);
  if (doc.masks !== undefined && typeof doc.masks !== 'string') throw new DataError(`${yamlPath}: masks must be a folder (the one beside images)`);
  const masksDir = typeof doc.masks === 'string' ? resolve(root, doc.masks) : undefined;
  const splits: Layout['splits'] = {};
  for (const split of ['train', 'val', 'test'] as const) {
    if (doc[split] === undefined || doc[split] === null) continue;
    splits[split] = splitImages(yamlPath, root, doc[split], split).map((image) => ({ image, mask: maskPathOf(image, masksDir) }));
  }
  return { layout: 'yaml', source: yamlPath, name: basename(dirname(yamlPath)), classes, splits };
}

function findLayout(spec: string): Layout {
  const p = resolve(spec);
  if (!existsSync(p)) throw new DataError(`data path does not exist: ${spec}`);
  if (!statSync(p).isDirectory()) return yamlLayout(p);
  const yaml = ['data.yaml', 'data.yml'].map((f) => join(p, f)).find((f) => existsSync(f));
  if (yaml) return yamlLayout(yaml);
  const voc = vocRoot(p);
  if (voc) return vocLayout(voc);
  throw new DataError(`${spec}: a segmentation data set is a data.yaml (train, val, names; masks/ beside images/) or a Pascal VOC folder (JPEGImages, SegmentationClass, ImageSets/Segmentation)`);
}

/**
 * Resolves a segmentation data set (a data.yaml, a folder holding one, or a Pascal VOC folder)
 * into checked SegmentData whose splits a DataLoader turns into batches with `masks`.
 */
export async function resolveSegmentData(spec: string, opts: SegmentResolveOptions = {}): Promise<SegmentData> {
  const L = findLayout(spec);
  const n = L.classes.length;
  if (n > IGNORE) throw new DataError(`${L.source}: ${n} classes, but mask values stop at 254 (255 is ignore)`);
  if (!L.splits.train) throw new DataError(`${L.source}: no train split`);
  if (!L.splits.val) throw new DataError(`${L.source}: no val split (Kestrel validates every epoch)`);
  const total = Object.values(L.splits).reduce((k, s) => k + s.length, 0);
  const full = opts.verify === 'full' || ((opts.verify ?? 'auto') === 'auto' && total <= 10_000);
  const skipped: Skipped[] = [];
  const problem = (path: string, reason: string): void => void skipped.push({ path, reason });
  let [grey, deep] = [true, false];
  const trainPixels = new Float64Array(n);
  const read = async (split: SegmentSplit): Promise<FileSource | undefined> => {
    const pairs = L.splits[split];
    if (!pairs) return undefined;
    const checked = await inOrder(pairs, (p) => checkPair(p, n, full, problem));
    const kept = pairs.filter((_, i) => checked[i]!.ok);
    for (const c of checked.filter((x) => x.ok)) {
      grey &&= c.grey;
      deep ||= c.deep;
      if (split === 'train') c.counts!.forEach((v, k) => (trainPixels[k]! += v));
    }
    return { kind: 'files', paths: kept.map((p) => p.image), labels: new Int32Array(kept.length), masks: kept.map((p) => p.mask!) };
  };
  const train = (await read('train'))!;
  const val = (await read('val'))!;
  const test = await read('test');
  if (opts.strict && skipped.length > 0) {
    const named = skipped.slice(0, STRICT_NAMED).map((s) => `${s.path} (${s.reason})`).join('; ');
    const more = skipped.length > STRICT_NAMED ? `; and ${skipped.length - STRICT_NAMED} more` : '';
    throw new DataError(`${skipped.length} unusable image/mask pair${skipped.length > 1 ? 's' : ''} (--strict stops; without it they are left out and listed): ${named}${more}`);
  }
  if (train.paths.length === 0) throw new DataError(`${L.source}: the train split has no usable image/mask pairs${skipped[0] ? ` (first: ${skipped[0].path}: ${skipped[0].reason})` : ''}`);
  if (val.paths.length === 0) throw new DataError(`${L.source}: the val split has no usable image/mask pairs`);
  const inChannels: 1 | 3 = grey ? 1 : 3;
  for (const s of [train, val, test]) if (s) s.channels = inChannels;
  return {
    name: L.name,
    layout: L.layout,
    classes: L.classes,
    inChannels,
    bitDepth: deep ? 16 : 8,
    ignoreIndex: IGNORE,
    splits: { train, val, ...(test && test.paths.length > 0 ? { test } : {}) },
    trainPixels: Array.from(trainPixels),
    skipped,
    source: L.source,
  };
}
