// `kestrel search`'s index at a realistic size: N clustered unit vectors of D (ResNet-18's 512 by
// default), the USearch index built and cached beside the file, then Q queries answered and
// compared with brute-force cosine neighbours.
//   node dist/bench/embed-search.js [--n 20000] [--dim 512] [--queries 500] [--k 10]
// Prints one JSON line: build and cached-load seconds, milliseconds per query (index, brute force),
// recall@k; each time both as wall clock and as CPU time (user + system, all threads), since on a
// shared machine the wall clock mostly measures the other processes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeEmbeddings } from '../src/tasks/embed/file.js';
import { openIndex } from '../src/tasks/embed/index-cache.js';
import { Rng } from '../src/data/rng.js';

const { values } = parseArgs({ options: { n: { type: 'string', default: '20000' }, dim: { type: 'string', default: '512' }, queries: { type: 'string', default: '500' }, k: { type: 'string', default: '10' } } });
const [n, d, q, k] = [Number(values.n), Number(values.dim), Number(values.queries), Number(values.k)];
const rng = new Rng(0);
const gauss = (): number => rng.normal();

function unitRows(rows: number, centres: Float32Array[]): Float32Array {
  const out = new Float32Array(rows * d);
  for (let i = 0; i < rows; i++) {
    const c = centres[Math.floor(rng.next() * centres.length)]!;
    let s = 0;
    for (let j = 0; j < d; j++) s += (out[i * d + j] = c[j]! + 0.7 * gauss()) ** 2;
    for (let j = 0; j < d; j++) out[i * d + j]! /= Math.sqrt(s);
  }
  return out;
}

const centres = Array.from({ length: 100 }, () => Float32Array.from({ length: d }, gauss));
const all = unitRows(n, centres);
const queries = unitRows(q, centres);
const dir = mkdtempSync(join(tmpdir(), 'kestrel-bench-search-'));
try {
  const file = join(dir, 'e.safetensors');
  writeEmbeddings(file, all, { model: { weights: 'bench', name: 'bench', imgsz: 0 }, dim: d, paths: Array.from({ length: n }, (_, i) => `${i}`) });
  const clock = (): [number, number] => {
    const c = process.cpuUsage();
    return [performance.now(), (c.user + c.system) / 1000];
  };
  const since = (t: [number, number]): [number, number] => {
    const [w, c] = clock();
    return [w - t[0], c - t[1]];
  };
  let t = clock();
  const idx = openIndex(file);
  const build = since(t);
  t = clock();
  openIndex(file);
  const load = since(t);
  let hits = 0;
  const indexMs: [number, number] = [0, 0];
  const bruteMs: [number, number] = [0, 0];
  const add = (acc: [number, number], x: [number, number]): void => {
    acc[0] += x[0];
    acc[1] += x[1];
  };
  for (let i = 0; i < q; i++) {
    const v = queries.subarray(i * d, (i + 1) * d);
    t = clock();
    const got = new Set(idx.search(v, k).map((x) => x.index));
    add(indexMs, since(t));
    t = clock();
    const scores = new Float32Array(n);
    for (let r = 0; r < n; r++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += v[j]! * all[r * d + j]!;
      scores[r] = s;
    }
    const want = [...scores.keys()].sort((a, b) => scores[b]! - scores[a]!).slice(0, k);
    add(bruteMs, since(t));
    hits += want.filter((w) => got.has(w)).length;
  }
  const r3 = (x: number): number => Number(x.toFixed(3));
  const wallCpu = ([w, c]: [number, number], scale: number): { wall: number; cpu: number } => ({ wall: r3(w * scale), cpu: r3(c * scale) });
  console.log(JSON.stringify({
    n, dim: d, queries: q, k, buildS: wallCpu(build, 1e-3), cachedLoadS: wallCpu(load, 1e-3),
    msPerQueryIndex: wallCpu(indexMs, 1 / q), msPerQueryBruteForce: wallCpu(bruteMs, 1 / q), recall: r3(hits / (q * k)),
  }));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
