/**
 * Turns candidate files (from a folder tree or a manifest) into checked ClassifyData: class lists
 * compared across splits, every image's header read, and (for sets up to FULL_VERIFY_LIMIT files,
 * or always with verify: 'full') every image decoded once so truncated files are found before
 * training rather than mid-epoch.
 */
import { availableParallelism } from 'node:os';
import { DataError } from './errors.js';
import { checkImage, type ImageCheck } from './image.js';
import type { ClassifyData, DataSource, FileSource, Skipped } from './source.js';
import { subset } from './source.js';
import { stratifiedSplit } from './split.js';

/**
 * Up to this many files, 'auto' verification decodes every image once (about 1 ms for a 256 px
 * JPEG, 3 ms for 800×600, per core): ~10–30 s at the limit. Larger sets get a header check, and
 * truncated files are then found (and skipped) by the loader.
 */
export const FULL_VERIFY_LIMIT = 10_000;

export type VerifyMode = 'auto' | 'header' | 'full';

export interface ScanOptions {
  seed?: number;
  /** Part of train held out as val when the data has no val split (default 0.1). */
  valFraction?: number;
  /** Throw a DataError listing unreadable or truncated images instead of skipping them. */
  strict?: boolean;
  /** 'header' reads headers only, 'full' also decodes every image, 'auto' (default) decodes when there are at most FULL_VERIFY_LIMIT files. */
  verify?: VerifyMode;
  /** Images with more pixels than this are skipped (listed with the reason); default DEFAULT_MAX_PIXELS. */
  maxPixels?: number;
}

export interface Candidate {
  path: string;
  label: string;
}

export type SplitName = 'train' | 'val' | 'test';

export interface Collected {
  /** Candidates per split; a split that is absent is made from train (val) or left out (test). */
  splits: { train: Candidate[]; val?: Candidate[]; test?: Candidate[] };
  skipped: Skipped[];
  /** Sort class names as numbers (every label is an integer); otherwise as strings, as torchvision's ImageFolder does. */
  numericLabels?: boolean;
}

/** Runs `fn` over `items` with at most `limit` promises in flight, keeping order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (x: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const run = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, run));
  return out;
}

function checkClasses(splits: Collected['splits'], numeric: boolean): string[] {
  const classes = [...new Set(splits.train.map((c) => c.label))].sort(numeric ? (a, b) => Number(a) - Number(b) : undefined);
  const known = new Set(classes);
  for (const name of ['val', 'test'] as const) {
    const list = splits[name];
    if (!list) continue;
    const have = new Set(list.map((c) => c.label));
    const extra = [...have].filter((c) => !known.has(c)).sort();
    if (extra.length) throw new DataError(`split '${name}' has class '${extra[0]}' that train does not have`);
    const missing = classes.filter((c) => !have.has(c));
    if (missing.length) throw new DataError(`split '${name}' is missing class '${missing[0]}' (present in train)${missing.length > 1 ? ` and ${missing.length - 1} more` : ''}`);
  }
  return classes;
}

function strictError(bad: Skipped[]): DataError {
  const shown = bad.slice(0, 5).map((b) => `${b.path} (${b.reason})`).join('; ');
  return new DataError(`${bad.length} bad image file(s) (strict): ${shown}${bad.length > 5 ? `; and ${bad.length - 5} more` : ''}`);
}

/**
 * The [h, w] every usable image shares, else null. The headers are read anyway, so this costs
 * nothing; it is what lets a folder of small images get small-image defaults.
 */
function commonSize(checks: readonly ImageCheck[]): [number, number] | null {
  let size: [number, number] | null = null;
  for (const r of checks) {
    if (!r.ok) continue;
    if (size === null) size = [r.height, r.width];
    else if (size[0] !== r.height || size[1] !== r.width) return null;
  }
  return size;
}

/** Verifies the candidates' images and builds the ClassifyData. */
export async function assemble(name: string, collected: Collected, opts: ScanOptions): Promise<ClassifyData> {
  const { splits } = collected;
  if (splits.train.length === 0) throw new DataError(`no training images found for '${name}'`);
  const classes = checkClasses(splits, collected.numericLabels ?? false);
  const all = [...splits.train, ...(splits.val ?? []), ...(splits.test ?? [])];
  const mode = opts.verify ?? 'auto';
  const full = mode === 'full' || (mode === 'auto' && all.length <= FULL_VERIFY_LIMIT);
  const checks = await mapLimit(all, 2 * availableParallelism(), (c) => checkImage(c.path, full, opts.maxPixels));
  const bad: Skipped[] = [];
  const good = new Set<string>();
  let rgb = false;
  checks.forEach((r, i) => {
    if (r.ok) {
      good.add(all[i]!.path);
      if (r.channels > 2) rgb = true;
    } else {
      bad.push({ path: all[i]!.path, reason: r.reason });
    }
  });
  if (opts.strict && bad.length) throw strictError(bad);
  const inChannels = rgb ? 3 : 1;
  const toSource = (split: SplitName, list: Candidate[]): FileSource => {
    const kept = list.filter((c) => good.has(c.path));
    const counts = new Map<string, number>();
    for (const c of kept) counts.set(c.label, (counts.get(c.label) ?? 0) + 1);
    const empty = classes.find((c) => !counts.has(c));
    if (empty !== undefined) throw new DataError(`class '${empty}' has no readable images in split '${split}' (see skipped files)`);
    const index = new Map(classes.map((c, i) => [c, i]));
    return { kind: 'files', paths: kept.map((c) => c.path), labels: Int32Array.from(kept, (c) => index.get(c.label)!), channels: inChannels };
  };
  const train = toSource('train', splits.train);
  let trainSrc: DataSource = train;
  let val: DataSource;
  if (splits.val) {
    val = toSource('val', splits.val);
  } else {
    const parts = stratifiedSplit(train.labels, opts.valFraction ?? 0.1, opts.seed ?? 0);
    trainSrc = subset(train, parts.train);
    val = subset(train, parts.val);
  }
  const out: ClassifyData = { name, classes, inChannels, nativeSize: commonSize(checks), splits: { train: trainSrc, val }, skipped: [...collected.skipped, ...bad] };
  if (splits.test) out.splits.test = toSource('test', splits.test);
  return out;
}
