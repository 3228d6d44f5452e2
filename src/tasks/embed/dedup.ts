/**
 * Near-duplicate images in a data set, from the same vectors `kestrel embed` writes: every pair
 * whose cosine similarity reaches a threshold, and whether the pair spans two splits. A training
 * image that reappears in val or test (re-encoded, resized, slightly cropped) inflates every
 * accuracy measured there, so such pairs are flagged as leaks.
 *
 * @example
 * const r = await dedup({ weights: 'resnet50.safetensors', data: 'photos/', threshold: 0.95 });
 * r.pairs.filter((p) => p.leak);   // [{ a, b, splits: ['train', 'val'], similarity }, …]
 */
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, extname, isAbsolute, join, resolve } from 'node:path';
import { DataError } from '../../data/errors.js';
import { collectFolder } from '../../data/folder.js';
import { collectManifest } from '../../data/manifest.js';
import type { SplitName } from '../../data/scan.js';
import { readYaml, splitImages } from '../../data/yolo.js';
import { embedToFile, type EmbedOptions } from './embed.js';
import { openIndex, type VectorIndex } from './index-cache.js';

/** Cosine similarity from which two images count as near-duplicates (imagededup's CNN default is 0.9; re-encodes and small resizes of a photo score above 0.95 with ImageNet features). */
export const DEFAULT_THRESHOLD = 0.95;

export interface Pair {
  a: string;
  b: string;
  similarity: number;
  splits: [SplitName, SplitName];
  /** The two images lie in different splits. */
  leak: boolean;
}

export interface DedupOptions extends Omit<EmbedOptions, 'source'> {
  /** A classification folder (`train/`, `val/`, `test/` of class folders), a CSV manifest, or a detection or segmentation data.yaml. */
  data: string;
  threshold?: number;
  /** Neighbours looked at per image (default 10): a group larger than this is listed only in part. */
  neighbours?: number;
  /** Where to keep the vectors (an embeddings file `kestrel search` reads); a temporary file otherwise. */
  out?: string;
  onError?: (source: string, error: string) => void;
}

export interface DedupResult {
  pairs: Pair[];
  images: number;
  failed: number;
}

/** The images of a data set and the split each belongs to, as its layout names them. */
export async function datasetImages(spec: string): Promise<Map<string, SplitName>> {
  const path = resolve(spec);
  if (!existsSync(path)) throw new DataError(`data path does not exist: ${spec}`);
  const yaml = statSync(path).isDirectory() ? ['data.yaml', 'data.yml'].map((f) => join(path, f)).find((f) => existsSync(f)) : /\.ya?ml$/i.test(path) ? path : undefined;
  const out = new Map<string, SplitName>();
  if (yaml !== undefined) {
    const doc = readYaml(yaml);
    const root = typeof doc.path === 'string' ? (isAbsolute(doc.path) ? doc.path : resolve(dirname(yaml), doc.path)) : dirname(yaml);
    for (const split of ['train', 'val', 'test'] as const) {
      if (doc[split] === undefined || doc[split] === null) continue;
      for (const p of splitImages(yaml, root, doc[split], split)) if (!out.has(p)) out.set(p, split);
    }
    return out;
  }
  const collected = statSync(path).isDirectory() ? await collectFolder(path)
    : extname(path).toLowerCase() === '.csv' ? await collectManifest(path)
      : null;
  if (collected === null) throw new DataError(`data path is neither a folder, a .csv manifest nor a data.yaml: ${spec}`);
  for (const split of ['train', 'val', 'test'] as const) for (const c of collected.splits[split] ?? []) if (!out.has(c.path)) out.set(c.path, split);
  return out;
}

/** Every pair of rows at or above the threshold, each once, most similar first. */
export function similarPairs(index: VectorIndex, splitOf: (path: string) => SplitName, threshold: number, neighbours = 10): Pair[] {
  const seen = new Set<string>();
  const pairs: Pair[] = [];
  for (const [i, near] of index.neighboursOfAll(neighbours).entries()) {
    for (const nb of near) {
      if (nb.similarity < threshold) break;
      const [lo, hi] = i < nb.index ? [i, nb.index] : [nb.index, i];
      const key = `${lo},${hi}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const [a, b] = [index.embeddings.paths[lo]!, index.embeddings.paths[hi]!];
      const splits: [SplitName, SplitName] = [splitOf(a), splitOf(b)];
      pairs.push({ a, b, similarity: nb.similarity, splits, leak: splits[0] !== splits[1] });
    }
  }
  return pairs.sort((x, y) => y.similarity - x.similarity || x.a.localeCompare(y.a) || x.b.localeCompare(y.b));
}

/** Embeds a data set's images and lists its near-duplicate pairs. */
export async function dedup(o: DedupOptions): Promise<DedupResult> {
  const threshold = o.threshold ?? DEFAULT_THRESHOLD;
  if (!(threshold > 0 && threshold <= 1)) throw new RangeError(`threshold must be in (0, 1], got ${threshold}`);
  const images = await datasetImages(o.data);
  if (images.size === 0) throw new DataError(`no images in ${o.data}`);
  const tmp = o.out === undefined ? mkdtempSync(join(tmpdir(), 'kestrel-dedup-')) : null;
  try {
    const out = o.out ?? join(tmp!, 'embeddings.safetensors');
    const { data: _data, threshold: _t, neighbours, out: _out, ...embed } = o;
    const r = await embedToFile({ ...embed, source: [...images.keys()], out });
    const index = openIndex(out, { cache: tmp === null });
    return { pairs: similarPairs(index, (p) => images.get(p)!, threshold, neighbours), images: r.count, failed: r.failed.length };
  } finally {
    if (tmp !== null) rmSync(tmp, { recursive: true, force: true });
  }
}
