import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DataLoader, type Batch } from '../../src/data/loader.js';
import { resolveClassifyData, type DataSource, type FileSource, type MemorySource } from '../../src/data/sources.js';
import { buildTransforms, type TransformSpec } from '../../src/data/transforms.js';
import { memory } from '../../src/tensor/index.js';
import { BatchStream } from '../../src/data/stream.js';
import { makeImageFolder, tempDir } from './make-images.js';

/** n grey 8×8 images; pixel (0, 0) holds the sample index mod 256, so order is checkable. */
function memorySource(n: number, channels: 1 | 3 = 1): MemorySource {
  const size = 8 * 8 * channels;
  const images = new Uint8Array(n * size);
  for (let i = 0; i < n; i++) for (let k = 0; k < size; k++) images[i * size + k] = k === 0 ? i % 256 : (i * 7 + k * 3) % 256;
  return { kind: 'memory', images, height: 8, width: 8, channels, labels: Int32Array.from({ length: n }, (_, i) => i % 5), ids: Array.from({ length: n }, (_, i) => `s/${i}`) };
}

async function collect(loader: DataLoader, epoch: number, keep = false): Promise<{ indices: number[]; batches: Batch[]; data: number[][] }> {
  const out = { indices: [] as number[], batches: [] as Batch[], data: [] as number[][] };
  for await (const b of loader.epoch(epoch)) {
    out.indices.push(...b.indices);
    out.data.push(Array.from(b.images.dataSync() as Float32Array));
    if (keep) out.batches.push(b);
    else b.dispose();
  }
  return out;
}

const AUG: TransformSpec[] = [{ op: 'randomCrop', size: 8, padding: 2 }, { op: 'hflip', p: 0.5 }, { op: 'randAugment', n: 2, m: 9 }, { op: 'normalize', mean: [0.5], std: [0.5] }];

describe('DataLoader on memory sources', () => {
  const src = memorySource(103);

  it('visits every index exactly once per epoch (shuffle, no dropLast), for workers 0 and 2', async () => {
    for (const workers of [0, 2]) {
      const loader = new DataLoader(src, { batchSize: 10, shuffle: true, workers, seed: 1 });
      assert.equal(loader.length, 11);
      const { indices, data } = await collect(loader, 0);
      assert.deepEqual([...indices].sort((a, b) => a - b), Array.from({ length: 103 }, (_, i) => i));
      assert.notDeepEqual(indices, [...indices].sort((a, b) => a - b), 'shuffled');
      assert.equal(data.at(-1)!.length, 3 * 64, 'last batch holds the remainder');
      await loader.close();
    }
  });

  it('batches carry images in CHW float, int64 labels and ids', async () => {
    const loader = new DataLoader(src, { batchSize: 16, workers: 0 });
    const { batches } = await collect(loader, 0, true);
    const b = batches[1]!;
    assert.deepEqual([b.images.shape, b.images.dtype, b.labels.shape, b.labels.dtype], [[16, 1, 8, 8], 'float32', [16], 'int64']);
    assert.deepEqual(b.labels.toArray(), b.indices.map((i) => i % 5));
    assert.deepEqual(b.ids, b.indices.map((i) => `s/${i}`));
    assert.ok(Math.abs((b.images.dataSync() as Float32Array)[0]! - 16 / 255) < 1e-6, 'pixel (0, 0) of sample 16, scaled to 0–1');
    batches.forEach((x) => x.dispose());
  });

  it('dropLast drops the remainder', async () => {
    const loader = new DataLoader(src, { batchSize: 10, shuffle: true, dropLast: true, workers: 2 });
    assert.equal(loader.length, 10);
    const { indices, data } = await collect(loader, 0);
    assert.equal(indices.length, 100);
    assert.equal(data.length, 10);
    await loader.close();
  });

  it('order is deterministic per (seed, epoch)', async () => {
    const a = new DataLoader(src, { batchSize: 7, shuffle: true, seed: 4, workers: 0 });
    const b = new DataLoader(src, { batchSize: 7, shuffle: true, seed: 4, workers: 2 });
    const a1 = (await collect(a, 1)).indices;
    assert.deepEqual(a1, (await collect(b, 1)).indices);
    assert.deepEqual(a1, Array.from(a.order(1)));
    assert.notDeepEqual(a1, (await collect(a, 2)).indices);
    await b.close();
  });

  it('gives the same augmented images with workers 0, 1 and 2 for the same seed', async () => {
    const runs: number[][][] = [];
    for (const workers of [0, 1, 2]) {
      const loader = new DataLoader(src, { batchSize: 16, shuffle: true, seed: 9, workers, transforms: AUG, prefetch: 3 });
      runs.push((await collect(loader, 3)).data);
      await loader.close();
    }
    assert.deepEqual(runs[1], runs[0]);
    assert.deepEqual(runs[2], runs[0]);
    const other = new DataLoader(src, { batchSize: 16, shuffle: true, seed: 10, workers: 0, transforms: AUG });
    assert.notDeepEqual((await collect(other, 3)).data, runs[0]);
  });

  it('converts grey sources to the channels the model takes', async () => {
    const loader = new DataLoader(src, { batchSize: 4, workers: 0, transforms: [{ op: 'normalize', mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] }] });
    const { batches } = await collect(loader, 0, true);
    assert.deepEqual(batches[0]!.images.shape, [4, 3, 8, 8]);
    batches.forEach((x) => x.dispose());
  });

  it('refills the buffers of disposed batches, without and with workers', async () => {
    for (const workers of [0, 2]) {
      const stream = new BatchStream(src, { batchSize: 10, shuffle: true, seed: 3, workers, transforms: AUG });
      const fresh: number[][] = [];
      for await (const r of stream.epoch(1)) fresh.push(Array.from(r.data));
      // One spare buffer of a full batch's size (10 × 1 × 8 × 8 floats), marked so a stale value would show.
      const spare = new Float32Array(640).fill(Number.NaN).buffer;
      stream.recycle([spare]);
      const again: number[][] = [];
      const buffers: ArrayBufferLike[] = [];
      for await (const r of stream.epoch(1)) {
        again.push(Array.from(r.data));
        buffers.push(r.data.buffer);
      }
      if (workers === 0) assert.equal(buffers[0], spare, 'the first batch was written into the spare buffer');
      else assert.equal(spare.byteLength, 0, 'the spare buffer went to a worker (transferred)');
      assert.deepEqual(again, fresh, 'the same batches as from fresh buffers');
      await stream.close();
    }
  });

  it('the DataLoader refills the buffers of disposed batches instead of allocating new ones', async () => {
    const loader = new DataLoader(src, { batchSize: 10, shuffle: true, seed: 3, workers: 0, transforms: AUG });
    const fresh = (await collect(loader, 1)).data;
    const allocate = Buffer.allocUnsafeSlow;
    let allocations = 0;
    Buffer.allocUnsafeSlow = (size: number) => {
      allocations++;
      return allocate(size);
    };
    try {
      const again = await collect(loader, 1); // 11 batches, each disposed before the next
      assert.deepEqual(again.data, fresh, 'the same batches');
      assert.ok(allocations <= 2, `${allocations} batch buffers allocated for 11 batches (the last, smaller one needs its own)`);
    } finally {
      Buffer.allocUnsafeSlow = allocate;
    }
  });

  it('live tensors do not grow across epochs when batches are disposed', async () => {
    const loader = new DataLoader(src, { batchSize: 10, shuffle: true, workers: 2, transforms: AUG });
    await collect(loader, 0);
    const before = memory().tensors;
    for (let e = 1; e < 4; e++) await collect(loader, e);
    assert.equal(memory().tensors, before);
    await loader.close();
  });

  it('a pipeline error fails the epoch with a one-line DataError, with or without workers', async () => {
    for (const workers of [0, 2]) {
      const loader = new DataLoader(src, { batchSize: 10, workers, transforms: [{ op: 'toTensor' }, { op: 'hflip', p: 1 }] });
      await assert.rejects(collect(loader, 0), (e: Error) => e.name === 'DataError' && /^epoch 0, batch 0: transform 'hflip' must come before toTensor/.test(e.message));
    }
  });

  it('two epochs of one loader can run at the same time', async () => {
    const loader = new DataLoader(src, { batchSize: 10, shuffle: true, workers: 2 });
    const [a, b] = await Promise.all([collect(loader, 0), collect(loader, 1)]);
    assert.deepEqual(a.indices, Array.from(loader.order(0)));
    assert.deepEqual(b.indices, Array.from(loader.order(1)));
    await loader.close();
  });
});

describe('DataLoader on files', () => {
  const tmp = tempDir('loader');
  let files: FileSource;
  before(async () => {
    await makeImageFolder(tmp.dir, { '': 10 });
    const d = await resolveClassifyData(tmp.dir, { valFraction: 0.1 });
    files = d.splits.train as FileSource;
  });
  after(tmp.remove);
  const tf = (): TransformSpec[] => buildTransforms('train', { imgsz: 24, channels: 3, augment: 'standard' });

  it('workers 0 and 2 decode and augment to the same batches', async () => {
    const a = new DataLoader(files, { batchSize: 8, shuffle: true, seed: 2, workers: 0, transforms: tf() });
    const b = new DataLoader(files, { batchSize: 8, shuffle: true, seed: 2, workers: 2, transforms: tf() });
    const [ra, rb] = [await collect(a, 0), await collect(b, 0)];
    assert.equal(ra.indices.length, files.paths.length);
    assert.deepEqual(rb.indices, ra.indices);
    assert.deepEqual(rb.data, ra.data);
    await b.close();
  });

  it('a file deleted mid-epoch is skipped and reported; a batch with no readable sample is dropped', async () => {
    const copy: DataSource = { ...files, paths: [...files.paths, join(tmp.dir, 'gone-1.png'), join(tmp.dir, 'gone-2.png')], labels: Int32Array.from([...files.labels, 0, 0]) };
    const reported: string[] = [];
    const loader = new DataLoader(copy, { batchSize: 2, workers: 1, prefetch: 1, transforms: tf(), onSkip: (p) => reported.push(p) });
    const victim = files.paths[5]!;
    const seen: number[][] = [];
    for await (const b of loader.epoch(0)) {
      seen.push(b.indices);
      b.dispose();
      if (seen.length === 1) rmSync(victim);
    }
    assert.deepEqual(reported, [victim, join(tmp.dir, 'gone-1.png'), join(tmp.dir, 'gone-2.png')]);
    assert.deepEqual(seen[2], [4], 'sample 5 left out of its batch');
    assert.equal(seen.length, loader.length - 1, 'the all-missing last batch is dropped');
    assert.match(loader.skipped[0]!.reason, /^decode failed/);
    await loader.close();
  });
});

describe('DataLoader shutdown', () => {
  const child = fileURLToPath(new URL('./loader-exit-child.js', import.meta.url));
  for (const mode of ['break', 'error', 'full']) {
    it(`the process exits by itself after ${mode === 'full' ? 'a full epoch' : mode === 'break' ? '`break`' : 'an error'}`, () => {
      const r = spawnSync(process.execPath, [child, mode], { encoding: 'utf8', timeout: 20_000 });
      assert.equal(r.signal, null, `killed after 20 s: the workers kept it alive\n${r.stderr}`);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, mode === 'error' ? /^error error .*before toTensor/ : mode === 'break' ? /^done break 3/ : /^done full 30/);
    });
  }
});
