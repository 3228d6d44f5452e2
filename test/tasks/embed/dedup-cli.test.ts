// `kestrel data dedup` and `kestrel search` end to end, on a classification folder with planted
// near-duplicates: a photo re-encoded as JPEG, resized, and cropped by 4 %, placed in other splits
// (leaks) and in the same split. Random weights cannot tell images apart (measured with a seeded
// torchvision ResNet-18 on such images: distinct pairs reach cosine 0.999, as high as the
// duplicates), so the model here is a smallcnn set by hand whose embedding is the image's 4×4
// colour thumbnail: similarity then means what it means for a trained model, likeness of content.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { saveCheckpoint, type ClassifierMeta } from '../../../src/engine/checkpoint.js';
import { createModel } from '../../../src/models/registry.js';
import { tensor, type Tensor } from '../../../src/tensor/index.js';
import { readEmbeddings } from '../../../src/tasks/embed/file.js';

const CLI = fileURLToPath(new URL('../../../src/cli/main.js', import.meta.url));
let dir: string;

function kestrel(args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: dir, encoding: 'utf8', timeout: 300_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/**
 * smallcnn whose pre-logits are [relu(t), relu(−t)] for t the 4×4 thumbnail of the normalised
 * image (48 values): every conv passes the three colour channels through its centre tap, the first
 * batch norm lifts them by 3 so the ReLUs keep them, max pools keep them positive, and the hidden
 * Linear takes the lift off again, splitting each value into its positive and negative parts.
 */
function thumbnailCheckpoint(path: string): void {
  const model = createModel('smallcnn', { numClasses: 2, dropRate: 0 });
  const own = model.stateDict();
  const set = new Map<string, Tensor>();
  const put = (k: string, fill: (a: Float32Array) => void): void => {
    const a = new Float32Array(own.get(k)!.shape.reduce((x, y) => x * y, 1));
    fill(a);
    set.set(k, tensor(a, { shape: own.get(k)!.shape }));
  };
  for (const [conv, bn, inC] of [[0, 1, 3], [3, 4, 32], [7, 8, 32], [10, 11, 64]] as const) {
    put(`features.${conv}.weight`, (a) => { for (let c = 0; c < 3; c++) a[(c * inC + c) * 9 + 4] = 1; });
    put(`features.${bn}.weight`, (a) => a.fill(1));
    put(`features.${bn}.bias`, (a) => { if (conv === 0) a.fill(3, 0, 3); });
    put(`features.${bn}.running_mean`, () => {});
    put(`features.${bn}.running_var`, (a) => a.fill(1));
  }
  put('classifier.1.weight', (a) => { for (let j = 0; j < 48; j++) { a[j * 1024 + j] = 1; a[(48 + j) * 1024 + j] = -1; } });
  put('classifier.1.bias', (a) => { a.fill(-3, 0, 48); a.fill(3, 48, 96); });
  model.loadStateDict(set, { strict: false });
  for (const t of set.values()) t.dispose();
  model.eval();
  const meta: ClassifierMeta = {
    format: 'kestrel.classify/1', task: 'classify', model: model.config, classes: ['a', 'b'],
    preprocess: { imgsz: 64, channels: 3, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], transforms: [{ op: 'resize', size: [64, 64] }, { op: 'normalize', mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] }] },
    epoch: 0, createdAt: new Date(0).toISOString(),
  };
  saveCheckpoint(path, model, meta);
  model.dispose();
}

/** A smooth random colour field (a 3×3 grid of random colours, resized bicubically), as a PNG image. */
function field(seed: number, w = 96, h = 72): sharp.Sharp {
  let s = seed * 7919 + 17;
  const next = (): number => ((s = (s * 16807) % 2147483647) % 256);
  const grid = Buffer.from(Array.from({ length: 27 }, next));
  return sharp(grid, { raw: { width: 3, height: 3, channels: 3 } }).resize(w, h, { kernel: 'cubic' });
}

async function write(img: sharp.Sharp, path: string, format: 'png' | 'jpeg' = 'png'): Promise<void> {
  mkdirSync(join(path, '..'), { recursive: true });
  const buf = await img.png().toBuffer();
  await (format === 'png' ? sharp(buf).png() : sharp(buf).jpeg({ quality: 60 })).toFile(path);
}

// 18 distinct fields spread over the splits, and four planted copies.
const PLANTED = [
  { of: 'train/a/f0.png', copy: 'val/a/f0-reencoded.jpg', make: (s: sharp.Sharp) => s, format: 'jpeg' as const, splits: ['train', 'val'] },
  { of: 'train/b/f1.png', copy: 'test/b/f1-small.png', make: (s: sharp.Sharp) => s.resize(64, 48), format: 'png' as const, splits: ['train', 'test'] },
  { of: 'val/a/f12.png', copy: 'test/a/f12-cropped.png', make: (s: sharp.Sharp) => s.extract({ left: 2, top: 2, width: 92, height: 68 }), format: 'png' as const, splits: ['val', 'test'] },
  { of: 'train/a/f2.png', copy: 'train/b/f2-again.jpg', make: (s: sharp.Sharp) => s, format: 'jpeg' as const, splits: ['train', 'train'] },
];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kestrel-dedup-'));
  thumbnailCheckpoint(join(dir, 'thumb.safetensors'));
  const place = (i: number): string => `${i < 12 ? 'train' : i < 15 ? 'val' : 'test'}/${'ab'[i % 2]}/f${i}.png`;
  for (let i = 0; i < 18; i++) await write(field(i), join(dir, 'set', place(i)));
  for (const p of PLANTED) await write(p.make(sharp(join(dir, 'set', p.of))), join(dir, 'set', p.copy), p.format);
});
after(() => rmSync(dir, { recursive: true, force: true }));

interface PairLine { a: string; b: string; similarity: number; splits: string[]; leak: boolean }

describe('kestrel data dedup: planted near-duplicates', () => {
  test('lists the four planted pairs, three of them as leaks across splits, and no distinct pair', () => {
    const r = kestrel(['data', 'dedup', '--model', 'thumb.safetensors', '--data', 'set', '--threshold', '0.95', '-o', 'set.safetensors']);
    assert.equal(r.code, 0, r.err);
    const pairs = r.out.trim().split('\n').map((l) => JSON.parse(l) as PairLine);
    const rel = (p: string): string => p.slice(join(dir, 'set').length + 1);
    const got = pairs.map((p) => [rel(p.a), rel(p.b)].sort().join(' ')).sort();
    assert.deepEqual(got, PLANTED.map((p) => [p.of, p.copy].sort().join(' ')).sort());
    for (const p of PLANTED) {
      const line = pairs.find((x) => [rel(x.a), rel(x.b)].includes(p.copy))!;
      assert.deepEqual([...line.splits].sort(), [...p.splits].sort(), p.copy);
      assert.equal(line.leak, p.splits[0] !== p.splits[1], p.copy);
      assert.ok(line.similarity >= 0.95 && line.similarity <= 1 + 1e-6);
    }
    assert.ok(pairs.every((p, i) => i === 0 || pairs[i - 1]!.similarity >= p.similarity), 'most similar first');
    assert.match(r.err, /^4 near-duplicate pairs among 22 images at similarity ≥ 0\.95 \(3 across splits\)\n$/);
    // The threshold has room: the most similar distinct pair lies well below it.
    const e = readEmbeddings(join(dir, 'set.safetensors'));
    const copies = new Set(PLANTED.map((p) => join(dir, 'set', p.copy)));
    let closest = -1;
    for (let i = 0; i < e.paths.length; i++) {
      for (let j = i + 1; j < e.paths.length; j++) {
        if (copies.has(e.paths[i]!) || copies.has(e.paths[j]!)) continue;
        let s = 0;
        for (let d = 0; d < e.dim; d++) s += e.vectors[i * e.dim + d]! * e.vectors[j * e.dim + d]!;
        closest = Math.max(closest, s);
      }
    }
    assert.ok(closest < 0.9, `distinct fields reach ${closest}`);
  });
});

describe('kestrel search: the query first, its near-duplicates next', () => {
  test('one JSON line per query with k neighbours, best first; an unreadable query gets an error line', async () => {
    const built = kestrel(['embed', '--model', 'thumb.safetensors', '--source', 'set', '-o', 'all.safetensors']);
    assert.equal(built.code, 0, built.err);
    await write(sharp(join(dir, 'set/val/a/f0-reencoded.jpg')), join(dir, 'queries/q0.png'));
    writeFileSync(join(dir, 'queries/broken.jpg'), 'not a jpeg');
    const r = kestrel(['search', '--index', 'all.safetensors', '--query', 'set/train/a/f0.png', '-k', '3']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /^built the index .*all\.safetensors\.usearch\n$/);
    const lines = r.out.trim().split('\n').map((l) => JSON.parse(l) as { source: string; neighbours: { path: string; similarity: number }[] });
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!.source, 'set/train/a/f0.png');
    const n = lines[0]!.neighbours;
    assert.equal(n.length, 3);
    assert.deepEqual(Object.keys(n[0]!), ['path', 'similarity']);
    assert.equal(n[0]!.path, join(dir, 'set/train/a/f0.png'));
    assert.ok(Math.abs(n[0]!.similarity - 1) < 1e-5);
    assert.equal(n[1]!.path, join(dir, 'set/val/a/f0-reencoded.jpg'));
    assert.ok(n[1]!.similarity >= 0.95 && n[2]!.similarity < 0.9, JSON.stringify(n));
    const again = kestrel(['search', '--index', 'all.safetensors', '--query', 'queries', '-k', '2']);
    assert.equal(again.code, 1, again.err);
    assert.match(again.err, /^loaded the index /);
    const [bad, good] = again.out.trim().split('\n').map((l) => JSON.parse(l) as { source: string; error?: string; neighbours?: { path: string }[] });
    assert.equal(bad!.source, join(dir, 'queries/broken.jpg'));
    assert.equal(typeof bad!.error, 'string');
    assert.equal(good!.source, join(dir, 'queries/q0.png'));
    assert.deepEqual(good!.neighbours!.map((x) => x.path), [join(dir, 'set/val/a/f0-reencoded.jpg'), join(dir, 'set/train/a/f0.png')]);
  });
});
