/**
 * Nearest neighbours over an embeddings file, through USearch's HNSW index (the `usearch` npm
 * package: prebuilt N-API binaries for Linux, macOS and Windows, so `npm ci` needs no compiler
 * and no download beyond the registry; see docs/embed.md for why it over hnswlib-node, faiss-node
 * and LanceDB). The index is built once per embeddings file and cached beside it
 * (`<file>.usearch`, with `<file>.usearch.json` naming the file's sha256), so a later search
 * loads it instead of rebuilding. The index proposes candidates; their cosine similarities are
 * then computed exactly from the file's vectors, so the scores printed are exact and their order
 * is the exact order among the candidates.
 *
 * @example
 * const idx = openIndex('photos.safetensors');
 * idx.search(queryVector, 5);   // [{ index, path, similarity }, …], best first
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Index, MetricKind, ScalarKind, type BatchMatches, type Matches } from 'usearch';
import { writeFileAtomic } from '../../checkpoint/atomic.js';
import { readEmbeddings, type Embeddings } from './file.js';

/** HNSW settings: USearch's defaults for connectivity and insertion, a wider search beam for recall. */
export const HNSW = { connectivity: 16, expansionAdd: 128, expansionSearch: 128 } as const;
/** Sets up to this many rows are indexed by one thread, reproducibly. */
const SERIAL_BUILD = 50_000;

export interface Neighbour {
  /** Row in the embeddings file. */
  index: number;
  path: string;
  /** Cosine similarity (the vectors are unit length): 1 for the same image. */
  similarity: number;
}

export interface VectorIndex {
  embeddings: Embeddings;
  /** Whether the index was built now (true) or loaded from the cache beside the file (false). */
  built: boolean;
  /** The k nearest rows to a unit vector, best first. */
  search(query: Float32Array, k: number): Neighbour[];
  /** For every row, its k nearest other rows, best first (the row itself left out). */
  neighboursOfAll(k: number): Neighbour[][];
}

const dot = (v: Float32Array, a: Float32Array, row: number, d: number): number => {
  let s = 0;
  for (let j = 0; j < d; j++) s += v[j]! * a[row * d + j]!;
  return s;
};

function newIndex(dim: number): Index {
  return new Index({
    dimensions: dim, metric: MetricKind.Cos, quantization: ScalarKind.F32,
    connectivity: HNSW.connectivity, expansion_add: HNSW.expansionAdd, expansion_search: HNSW.expansionSearch, multi: false,
  });
}

interface CacheKey {
  sha256: string;
  rows: number;
  dim: number;
  hnsw: typeof HNSW;
  usearch: string;
}

function cacheKey(path: string, e: Embeddings): CacheKey {
  const sha256 = createHash('sha256').update(readFileSync(path)).digest('hex');
  return { sha256, rows: e.paths.length, dim: e.dim, hnsw: HNSW, usearch: USEARCH_VERSION };
}

/** The installed usearch's version: an index saved by another version is rebuilt rather than trusted. */
const USEARCH_VERSION: string = (() => {
  try {
    // The package exports no package.json; its entry point lies three folders below it.
    const main = createRequire(import.meta.url).resolve('usearch');
    return (JSON.parse(readFileSync(join(dirname(main), '..', '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
})();

function loadCached(indexPath: string, key: CacheKey): Index | null {
  try {
    const saved = JSON.parse(readFileSync(`${indexPath}.json`, 'utf8')) as unknown;
    if (JSON.stringify(saved) !== JSON.stringify(key) || !existsSync(indexPath)) return null;
    const idx = newIndex(key.dim);
    idx.load(indexPath);
    return idx.size() === key.rows ? idx : null;
  } catch {
    return null; // no cache, or one this usearch cannot read: rebuilt below
  }
}

/**
 * Opens an embeddings file with its nearest-neighbour index: the cached one beside it when it
 * was built from these very bytes, otherwise a new one (saved beside the file when the folder is
 * writable; a read-only folder only costs the rebuild next time).
 */
export function openIndex(path: string, o: { cache?: boolean } = {}): VectorIndex {
  const e = readEmbeddings(path);
  const indexPath = `${path}.usearch`;
  const key = cacheKey(path, e);
  const n = e.paths.length;
  const threads = n <= SERIAL_BUILD ? 1 : 0;
  let idx = o.cache === false ? null : loadCached(indexPath, key);
  const built = idx === null;
  if (idx === null) {
    idx = newIndex(e.dim);
    // One insertion thread up to SERIAL_BUILD rows: the graph then depends on the data alone (with
    // several threads it depends on their timing, and a heavily loaded machine was seen to build one
    // that lost a true neighbour from 69 candidates), at a build cost of about a second there.
    // (USearch then holds per-thread state for one thread, so batch searches use one too.)
    idx.add(BigUint64Array.from(e.paths, (_, i) => BigInt(i)), e.vectors, threads);
    if (o.cache !== false) saveCache(idx, indexPath, key);
  }
  const index = idx;
  const rerank = (query: Float32Array, rows: number[], want: number): Neighbour[] => rows
    .map((i) => ({ index: i, path: e.paths[i]!, similarity: dot(query, e.vectors, i, e.dim) }))
    .sort((a, b) => b.similarity - a.similarity || a.index - b.index)
    .slice(0, want);
  // Many more candidates than asked for (re-ranked exactly below): HNSW's graph depends on the
  // insertion threads' timing, and with a narrow pool a true neighbour was seen to drop out
  // (1 of 200 queries at k = 5 with 13 candidates); 4k, at least k + 64, costs little.
  const widen = (want: number): number => Math.min(n, Math.max(4 * want, want + 64));
  return {
    embeddings: e,
    built,
    search(query, k) {
      if (query.length !== e.dim) throw new Error(`the query vector has ${query.length} values, the index ${e.dim} (was it made by another model?)`);
      const want = Math.min(k, n);
      const m = index.search(query, widen(want), 0);
      return rerank(query, Array.from(m.keys, (key) => Number(key)), want);
    },
    neighboursOfAll(k) {
      const want = Math.min(k, n - 1);
      if (want < 1) return e.paths.map(() => []);
      const wide = widen(want + 1);
      // usearch's typings pick the one-vector overload for a flat matrix; it returns BatchMatches
      // for more than one row, Matches for exactly one.
      const m = index.search(e.vectors, wide, threads) as Matches | BatchMatches;
      const batch = 'counts' in m ? m : { keys: m.keys, counts: BigUint64Array.of(BigInt(m.keys.length)) };
      return e.paths.map((_, i) => {
        const found = Number(batch.counts[i]!);
        const rows = Array.from(batch.keys.subarray(i * wide, i * wide + found), (key) => Number(key)).filter((r) => r !== i);
        return rerank(e.vectors.subarray(i * e.dim, (i + 1) * e.dim), rows, want);
      });
    },
  };
}

function saveCache(idx: Index, indexPath: string, key: CacheKey): void {
  const tmp = `${indexPath}.tmp-${process.pid}`;
  try {
    idx.save(tmp);
    // The old key goes first: a crash between the two writes then leaves no key, never a stale one.
    rmSync(`${indexPath}.json`, { force: true });
    renameSync(tmp, indexPath);
    writeFileAtomic(`${indexPath}.json`, [Buffer.from(`${JSON.stringify(key)}\n`)]);
  } catch {
    rmSync(tmp, { force: true });
  }
}
