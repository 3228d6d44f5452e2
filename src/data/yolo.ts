/**
 * The Ultralytics YOLO detection layout: a `data.yaml` naming the splits and classes (a split may
 * also be a COCO instances JSON, see coco.ts), images under
 * `images/…` and one `labels/…/<name>.txt` beside each, one `class cx cy w h` line per object
 * (normalised to the image's size). An image without a label file, or with an empty one, is a
 * background image. Malformed lines, unknown classes and boxes outside the image are left out and
 * listed (a label file that is not text leaves its image out); `strict` stops at the first instead.
 *
 * @example
 * const data = await resolveDetectData('coins/data.yaml');
 * data.classes;                          // ['1c', '2c', '5c']
 * data.splits.train.boxes![0]!.boxes;    // x1, y1, x2, y2 in the first image's pixels
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname, isAbsolute, join, resolve, sep } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { cocoClassNames, readCocoFile, readCocoSplit } from './coco.js';
import { DataError } from './errors.js';
import { checkImage, isImagePath } from './image.js';
import type { BoxTargets, FileSource, Skipped } from './source.js';

export type DetectSplit = 'train' | 'val' | 'test';

/** A detection data set, resolved and checked, ready for DataLoader (boxes in pixels). */
export interface DetectData {
  name: string;
  classes: string[];
  inChannels: 3;
  splits: { train: FileSource; val: FileSource; test?: FileSource };
  /** Images left out (unreadable, label file not text) and label lines left out, with the reason. */
  skipped: Skipped[];
  /** Where the spec came from (the data.yaml). */
  yaml: string;
}

export interface DetectResolveOptions {
  /** Stop with a DataError at the first problem instead of leaving it out. */
  strict?: boolean;
  /** Decode every image once to find truncated files (default: only when there are ≤ 10,000). */
  verify?: 'auto' | 'header' | 'full';
}

/** How far a normalised coordinate may stray outside [0, 1] before the box counts as outside (rounding in exporters). */
const EDGE_TOLERANCE = 0.01;

export function readYaml(path: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new DataError(`${path}: not valid YAML (${(e as Error).message.split('\n')[0]})`);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new DataError(`${path}: expected a mapping with train, val and names`);
  return doc as Record<string, unknown>;
}

/** `names` as a list or a {index: name} mapping (Ultralytics accepts both). */
export function classNames(yamlPath: string, doc: Record<string, unknown>): string[] {
  const raw = doc.names;
  let names: string[];
  if (Array.isArray(raw)) names = raw.map(String);
  else if (raw !== null && typeof raw === 'object') {
    const entries = Object.entries(raw as Record<string, unknown>).map(([k, v]) => [Number(k), String(v)] as const);
    if (entries.some(([k]) => !Number.isInteger(k) || k < 0)) throw new DataError(`${yamlPath}: names keys must be class indices 0, 1, 2, …`);
    entries.sort((a, b) => a[0] - b[0]);
    if (entries.some(([k], i) => k !== i)) throw new DataError(`${yamlPath}: names must number the classes 0 to ${entries.length - 1} without gaps`);
    names = entries.map(([, v]) => v);
  } else throw new DataError(`${yamlPath}: no names (the class names, as a list or {0: name, 1: …})`);
  if (names.length === 0) throw new DataError(`${yamlPath}: names is empty`);
  if (doc.nc !== undefined && doc.nc !== names.length) throw new DataError(`${yamlPath}: nc is ${String(doc.nc)} but names lists ${names.length} classes`);
  if (new Set(names).size !== names.length) throw new DataError(`${yamlPath}: a class name appears twice in names`);
  return names;
}

function listImages(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...listImages(p));
    else if (e.isFile() && isImagePath(p)) out.push(p);
  }
  return out;
}

/** A split entry: a folder of images, a .txt list of image paths, or a list of those. */
export function splitImages(yamlPath: string, root: string, entry: unknown, split: DetectSplit): string[] {
  const entries = Array.isArray(entry) ? entry : [entry];
  const images: string[] = [];
  for (const e of entries) {
    if (typeof e !== 'string') throw new DataError(`${yamlPath}: ${split} must be a folder, a .txt list or a list of those`);
    const p = isAbsolute(e) ? e : resolve(root, e);
    if (!existsSync(p)) throw new DataError(`${yamlPath}: ${split} path does not exist: ${p}`);
    if (statSync(p).isDirectory()) images.push(...listImages(p));
    else if (extname(p).toLowerCase() === '.txt') {
      const base = dirname(p);
      for (const line of readFileSync(p, 'utf8').split(/\r?\n/)) {
        const t = line.trim();
        if (t) images.push(isAbsolute(t) ? t : resolve(base, t));
      }
    } else throw new DataError(`${yamlPath}: ${split} is neither a folder nor a .txt list: ${p}`);
  }
  return [...new Set(images)].sort();
}

/** Ultralytics' img2label_paths: the last `/images/` becomes `/labels/`, the extension `.txt`. */
export function labelPathOf(image: string): string {
  const a = `${sep}images${sep}`;
  const i = image.lastIndexOf(a);
  const withDir = i < 0 ? image : `${image.slice(0, i)}${sep}labels${sep}${image.slice(i + a.length)}`;
  return withDir.slice(0, withDir.length - extname(withDir).length) + '.txt';
}

export interface ParsedLabels {
  /** Boxes in pixels: x1, y1, x2, y2 per box. */
  targets: BoxTargets;
  /** Lines left out, with why (1-based line numbers). */
  problems: string[];
}

/**
 * Parses one label file's text for an image of `width`×`height`: `class cx cy w h` per line
 * (normalised), or a polygon `class x1 y1 x2 y2 …` whose bounding box is taken.
 */
export function parseYoloLabels(text: string, width: number, height: number, numClasses: number): ParsedLabels {
  const boxes: number[] = [];
  const classes: number[] = [];
  const problems: string[] = [];
  const seen = new Set<string>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line) return;
    const at = `line ${i + 1}`;
    const parts = line.split(/\s+/);
    const nums = parts.map(Number);
    if (nums.some((v) => !Number.isFinite(v)) || !(parts.length === 5 || (parts.length >= 7 && parts.length % 2 === 1))) {
      problems.push(`${at}: expected 'class cx cy w h', got '${line.slice(0, 60)}'`);
      return;
    }
    const cls = nums[0]!;
    if (!Number.isInteger(cls) || cls < 0 || cls >= numClasses) {
      problems.push(`${at}: class ${parts[0]} is not one of the ${numClasses} classes (0–${numClasses - 1})`);
      return;
    }
    let [x1, y1, x2, y2]: number[] = [];
    if (parts.length === 5) {
      const [cx, cy, w, h] = nums.slice(1) as [number, number, number, number];
      [x1, y1, x2, y2] = [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2];
    } else {
      const xs = nums.slice(1).filter((_, k) => k % 2 === 0);
      const ys = nums.slice(1).filter((_, k) => k % 2 === 1);
      [x1, y1, x2, y2] = [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
    }
    if (!(x2! > x1! && y2! > y1!)) {
      problems.push(`${at}: the box has no area`);
      return;
    }
    const lo = -EDGE_TOLERANCE;
    const hi = 1 + EDGE_TOLERANCE;
    if (x1! < lo || y1! < lo || x2! > hi || y2! > hi) {
      problems.push(`${at}: the box lies outside the image (coordinates must be normalised to 0–1)`);
      return;
    }
    const key = nums.join(' ');
    if (seen.has(key)) {
      problems.push(`${at}: duplicate of an earlier line`);
      return;
    }
    seen.add(key);
    const clip = (v: number): number => Math.min(1, Math.max(0, v));
    boxes.push(clip(x1!) * width, clip(y1!) * height, clip(x2!) * width, clip(y2!) * height);
    classes.push(cls);
  });
  return { targets: { boxes: Float32Array.from(boxes), classes: Int32Array.from(classes) }, problems };
}

/** Reads a label file; null (a background image) when there is none. Throws when it is not text. */
function readLabelFile(path: string): string | null {
  if (!existsSync(path)) return null;
  const buf = readFileSync(path);
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(buf);
    if (text.includes('\u0000')) throw new Error('binary');
    return text;
  } catch {
    throw new Error('the label file is not text');
  }
}

async function readSplit(images: string[], classes: string[], full: boolean, strict: boolean, skipped: Skipped[]): Promise<FileSource> {
  const paths: string[] = [];
  const boxes: BoxTargets[] = [];
  const problem = (path: string, reason: string): void => {
    if (strict) throw new DataError(`${path}: ${reason} (--strict stops at the first problem; without it the item is left out and listed)`);
    skipped.push({ path, reason });
  };
  for (const image of images) {
    const check = await checkImage(image, full);
    if (!check.ok) {
      problem(image, check.reason);
      continue;
    }
    const labelPath = labelPathOf(image);
    let text: string | null;
    try {
      text = readLabelFile(labelPath);
    } catch (e) {
      problem(labelPath, `${(e as Error).message}; its image is left out`);
      continue;
    }
    const [h, w] = [check.height, check.width];
    const parsed = text === null ? { targets: { boxes: new Float32Array(0), classes: new Int32Array(0) }, problems: [] } : parseYoloLabels(text, w, h, classes.length);
    for (const p of parsed.problems) problem(labelPath, p);
    paths.push(image);
    boxes.push(parsed.targets);
  }
  return { kind: 'files', paths, labels: new Int32Array(paths.length), channels: 3, boxes };
}

/** Keys of Ultralytics' data.yaml that Kestrel reads or knowingly ignores. */
const YAML_KEYS = ['path', 'train', 'val', 'test', 'names', 'nc', 'download', 'yaml_file', 'channels', 'kpt_shape', 'flip_idx'];

/** Levenshtein distance, for naming a misspelt key (a few characters: the quadratic table is fine). */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row.push(Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    prev = row;
  }
  return prev[b.length]!;
}

/** ` (unknown key 'tarin': did you mean 'train'?)` when an unknown key is one or two edits from `wanted`, else ''. */
function misspelt(doc: Record<string, unknown>, wanted: string): string {
  const near = Object.keys(doc).find((k) => !YAML_KEYS.includes(k) && editDistance(k.toLowerCase(), wanted) <= 2);
  return near === undefined ? '' : ` (unknown key '${near}': did you mean '${wanted}'?)`;
}

/** Resolves a YOLO-layout `data.yaml` (or a folder holding one) into checked DetectData. */
export async function resolveDetectData(spec: string, opts: DetectResolveOptions = {}): Promise<DetectData> {
  let yamlPath = resolve(spec);
  if (!existsSync(yamlPath)) throw new DataError(`data path does not exist: ${spec}`);
  if (statSync(yamlPath).isDirectory()) {
    const inside = ['data.yaml', 'data.yml'].map((f) => join(yamlPath, f)).find((f) => existsSync(f));
    if (!inside) throw new DataError(`${spec}: a detection data set is a data.yaml (train, val, names) or a folder holding one`);
    yamlPath = inside;
  }
  const doc = readYaml(yamlPath);
  const root = typeof doc.path === 'string' ? resolve(dirname(yamlPath), doc.path) : dirname(yamlPath);
  // A split may be a COCO instances file instead of an image folder or list.
  const cocoOf = (split: DetectSplit): string | null => {
    const e = doc[split];
    return typeof e === 'string' && extname(e).toLowerCase() === '.json' ? (isAbsolute(e) ? e : resolve(root, e)) : null;
  };
  const firstCoco = (['train', 'val', 'test'] as const).map(cocoOf).find((p) => p !== null);
  const classes = doc.names === undefined && firstCoco ? cocoClassNames(readCocoFile(firstCoco)) : classNames(yamlPath, doc);
  const skipped: Skipped[] = [];
  const strict = opts.strict ?? false;
  const lists: Partial<Record<DetectSplit, string[]>> = {};
  const present = (['train', 'val', 'test'] as const).filter((split) => doc[split] !== undefined && doc[split] !== null);
  for (const split of present) if (!cocoOf(split)) lists[split] = splitImages(yamlPath, root, doc[split], split);
  if (!present.includes('train')) throw new DataError(`${yamlPath}: no train split${misspelt(doc, 'train')}`);
  if (!present.includes('val')) throw new DataError(`${yamlPath}: no val split${misspelt(doc, 'val') || ' (Kestrel validates every epoch: add val: images/val)'}`);
  const total = Object.values(lists).reduce((n, l) => n + l.length, 0);
  const full = opts.verify === 'full' || ((opts.verify ?? 'auto') === 'auto' && total <= 10_000);
  const read = async (split: DetectSplit): Promise<FileSource> => {
    const coco = cocoOf(split);
    if (coco) {
      if (!existsSync(coco)) throw new DataError(`${yamlPath}: ${split} path does not exist: ${coco}`);
      return readCocoSplit(coco, classes, [root, join(root, 'images', split)], { full, strict, skipped });
    }
    return readSplit(lists[split]!, classes, full, strict, skipped);
  };
  const train = await read('train');
  const val = await read('val');
  if (train.paths.length === 0) throw new DataError(`${yamlPath}: the train split has no usable images`);
  if (val.paths.length === 0) throw new DataError(`${yamlPath}: the val split has no usable images`);
  const test = present.includes('test') ? await read('test') : undefined;
  const name = basename(dirname(yamlPath));
  return { name, classes, inChannels: 3, splits: { train, val, ...(test ? { test } : {}) }, skipped, yaml: yamlPath };
}
