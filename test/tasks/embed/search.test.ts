// The nearest-neighbour index over an embeddings file: its answers are the exact (brute-force)
// cosine neighbours on 200 vectors (recall 1.0 at k = 5, same order, same scores), it is cached
// beside the file and rebuilt when the file changes, and dedup's pairs are exactly the planted ones.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { similarPairs } from '../../../src/tasks/embed/dedup.js';
import { writeEmbeddings } from '../../../src/tasks/embed/file.js';
import { openIndex } from '../../../src/tasks/embed/index-cache.js';

const dir = mkdtempSync(join(tmpdir(), 'kestrel-search-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Seeded uniform numbers (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(r: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

function unit(v: Float32Array): Float32Array {
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

/** n unit vectors of d in `clusters` loose clusters (so neighbours are not all near-ties). */
function vectors(n: number, d: number, seed: number, clusters = 10): Float32Array {
  const r = rng(seed);
  const centres = Array.from({ length: clusters }, () => Float32Array.from({ length: d }, () => gaussian(r)));
  const out = new Float32Array(n * d);
  for (let i = 0; i < n; i++) out.set(unit(centres[i % clusters]!.map((c) => c + 0.8 * gaussian(r))), i * d);
  return out;
}

function bruteForce(all: Float32Array, d: number, q: Float32Array, k: number, skip = -1): { index: number; similarity: number }[] {
  const n = all.length / d;
  const scored = [];
  for (let i = 0; i < n; i++) {
    if (i === skip) continue;
    let s = 0;
    for (let j = 0; j < d; j++) s += q[j]! * all[i * d + j]!;
    scored.push({ index: i, similarity: s });
  }
  return scored.sort((a, b) => b.similarity - a.similarity || a.index - b.index).slice(0, k);
}

const N = 200;
const D = 48;
const paths = Array.from({ length: N }, (_, i) => `/set/img${String(i).padStart(3, '0')}.jpg`);

describe('openIndex: approximate search, exact answers', () => {
  const file = join(dir, 'vec.safetensors');
  const all = vectors(N, D, 1);
  writeEmbeddings(file, all, { model: { weights: '/m.safetensors', name: 'resnet18', imgsz: 224 }, dim: D, paths });

  test('recall 1.0 at k = 5 against brute force, for 200 queries from the set and 200 new ones', () => {
    const idx = openIndex(file);
    const fresh = vectors(N, D, 2);
    let hits = 0;
    for (const [name, qs] of [['set', all], ['new', fresh]] as const) {
      for (let i = 0; i < N; i++) {
        const q = qs.subarray(i * D, (i + 1) * D);
        const got = idx.search(q, 5);
        const want = bruteForce(all, D, q, 5);
        assert.deepEqual(got.map((g) => g.index), want.map((w) => w.index), `${name} query ${i}`);
        got.forEach((g, j) => assert.ok(Math.abs(g.similarity - want[j]!.similarity) < 1e-6));
        assert.equal(got[0]!.path, paths[want[0]!.index]);
        hits += got.length;
      }
    }
    assert.equal(hits, 2 * N * 5);
    // A query from the set finds itself first.
    assert.equal(idx.search(all.subarray(7 * D, 8 * D), 1)[0]!.index, 7);
    assert.equal(idx.search(all.subarray(0, D), 500).length, N, 'k beyond the set gives the whole set');
  });

  test('neighboursOfAll: each row\'s exact neighbours, itself left out', () => {
    const near = openIndex(file).neighboursOfAll(5);
    assert.equal(near.length, N);
    for (let i = 0; i < N; i++) assert.deepEqual(near[i]!.map((n) => n.index), bruteForce(all, D, all.subarray(i * D, (i + 1) * D), 5, i).map((w) => w.index), `row ${i}`);
  });

  test('the index is cached beside the file, and rebuilt when the file changes', () => {
    rmSync(`${file}.usearch`, { force: true });
    const first = openIndex(file);
    assert.equal(first.built, true);
    assert.ok(existsSync(`${file}.usearch`) && existsSync(`${file}.usearch.json`));
    const second = openIndex(file);
    assert.equal(second.built, false);
    const q = vectors(1, D, 9);
    assert.deepEqual(second.search(q, 5), first.search(q, 5));
    const other = vectors(N, D, 3);
    writeEmbeddings(file, other, { model: { weights: '/m.safetensors', name: 'resnet18', imgsz: 224 }, dim: D, paths });
    const third = openIndex(file);
    assert.equal(third.built, true, 'new bytes, new index');
    assert.deepEqual(third.search(q, 5).map((g) => g.index), bruteForce(other, D, q, 5).map((w) => w.index));
  });
});

describe('similarPairs: planted near-duplicates, across splits', () => {
  test('lists exactly the planted pairs, flags those across splits, and no distinct pair', () => {
    const n = 60;
    const base = vectors(n, D, 5, n); // one cluster each: distinct
    const r = rng(11);
    // Rows 60–62 are slightly perturbed copies of rows 0, 1 and 2.
    const planted: [number, number][] = [[0, 60], [1, 61], [2, 62]];
    const all = new Float32Array((n + 3) * D);
    all.set(base);
    for (const [src, at] of planted) all.set(unit(base.subarray(src * D, (src + 1) * D).map((x) => x + 0.02 * gaussian(r))), at * D);
    const names = Array.from({ length: n + 3 }, (_, i) => `/d/${i}.png`);
    const split = (p: string): 'train' | 'val' | 'test' => {
      const i = Number(p.slice(3, -4));
      return i === 60 ? 'val' : i === 61 ? 'test' : 'train';
    };
    const file = join(dir, 'dups.safetensors');
    writeEmbeddings(file, all, { model: { weights: '/m.safetensors', name: 'resnet18', imgsz: 224 }, dim: D, paths: names });
    const pairs = similarPairs(openIndex(file), split, 0.9);
    assert.deepEqual(pairs.map((p) => [p.a, p.b]).sort(), planted.map(([a, b]) => [`/d/${a}.png`, `/d/${b}.png`]).sort());
    const byA = new Map(pairs.map((p) => [p.a, p]));
    assert.deepEqual(byA.get('/d/0.png')!.splits, ['train', 'val']);
    assert.equal(byA.get('/d/0.png')!.leak, true);
    assert.deepEqual(byA.get('/d/1.png')!.splits, ['train', 'test']);
    assert.equal(byA.get('/d/2.png')!.leak, false);
    for (const p of pairs) assert.ok(p.similarity >= 0.9 && p.similarity <= 1 + 1e-6);
    // The most similar distinct pair lies well below the threshold, so the test means something.
    const distinct = bruteForce(base, D, base.subarray(0, D), 2, 0)[0]!.similarity;
    assert.ok(distinct < 0.7, `distinct rows reach ${distinct}`);
  });
});
