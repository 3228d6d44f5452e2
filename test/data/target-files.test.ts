import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { decodeMask } from '../../src/data/image.js';
import { DataLoader, type Batch } from '../../src/data/loader.js';
import type { BoxTargets, FileSource } from '../../src/data/source.js';
import { IGNORE, unletterboxBoxes } from '../../src/data/targets.js';
import type { TransformSpec } from '../../src/data/transforms.js';
import { tempDir } from './make-images.js';

const N = 9;
/** Image i is (40 + 8i) × (30 + 5i); its boxes are filled white in the image and with their class in the mask. */
const sizeOf = (i: number): [number, number] => [30 + 5 * i, 40 + 8 * i];
function boxesOf(i: number): BoxTargets {
  const [h, w] = sizeOf(i);
  const list = [Math.floor(w / 8), Math.floor(h / 6), Math.floor(w / 2), Math.floor(h / 2), Math.floor(w * 0.6), Math.floor(h * 0.55), w - 3, h - 2];
  return { boxes: Float32Array.from(list.slice(0, i % 3 === 0 ? 4 : 8)), classes: Int32Array.from(i % 3 === 0 ? [1] : [1, 2]) };
}

async function writeSample(dir: string, i: number, format: 'png' | 'jpeg'): Promise<{ path: string; mask: string }> {
  const [h, w] = sizeOf(i);
  const img = Buffer.alloc(w * h * 3, 20);
  const mask = Buffer.alloc(w * h, 0);
  const { boxes, classes } = boxesOf(i);
  classes.forEach((c, k) => {
    for (let y = boxes[4 * k + 1]!; y < boxes[4 * k + 3]!; y++) {
      for (let x = boxes[4 * k]!; x < boxes[4 * k + 2]!; x++) {
        mask[y * w + x] = c;
        if (c === 1) img.fill(255, (y * w + x) * 3, (y * w + x + 1) * 3);
      }
    }
  });
  const path = join(dir, `${i}.${format === 'png' ? 'png' : 'jpg'}`);
  const s = sharp(img, { raw: { width: w, height: h, channels: 3 } });
  await (format === 'png' ? s.png() : s.jpeg({ quality: 95 })).toFile(path);
  const maskPath = join(dir, `${i}-mask.png`);
  await sharp(mask, { raw: { width: w, height: h, channels: 1 } }).toColourspace('b-w').png().toFile(maskPath);
  return { path, mask: maskPath };
}

/** The bounding box of the pixels of sample k's 48×48 mask that hold `c`. */
function regionOf(mask: Uint8Array, k: number, c: number): number[] {
  let [u1, v1, u2, v2] = [Infinity, Infinity, -Infinity, -Infinity];
  for (let y = 0; y < 48; y++) {
    for (let x = 0; x < 48; x++) if (mask[(k * 48 + y) * 48 + x] === c) [u1, v1, u2, v2] = [Math.min(u1, x), Math.min(v1, y), Math.max(u2, x + 1), Math.max(v2, y + 1)];
  }
  return [u1, v1, u2, v2];
}

async function all(loader: DataLoader, epoch = 0): Promise<{ batches: Batch[]; rows: number[][]; masks: Uint8Array[] }> {
  const out = { batches: [] as Batch[], rows: [] as number[][], masks: [] as Uint8Array[] };
  for await (const b of loader.epoch(epoch)) {
    const flat = b.boxes!.dataSync() as Float32Array;
    for (let j = 0; j < flat.length; j += 6) out.rows.push([b.indices[flat[j]!]!, ...flat.subarray(j + 1, j + 6)]);
    out.masks.push((b.masks!.dataSync() as Uint8Array).slice());
    out.batches.push(b);
  }
  return out;
}

describe('file sources with boxes and mask PNGs', () => {
  const tmp = tempDir('targets');
  let src: FileSource;
  before(async () => {
    const files = await Promise.all(Array.from({ length: N }, (_, i) => writeSample(tmp.dir, i, i % 2 ? 'jpeg' : 'png')));
    src = { kind: 'files', paths: files.map((f) => f.path), labels: new Int32Array(N), boxes: Array.from({ length: N }, (_, i) => boxesOf(i)), masks: files.map((f) => f.mask) };
  });
  after(tmp.remove);
  const EVAL: TransformSpec[] = [{ op: 'letterbox', size: 48 }, { op: 'normalize', mean: [0, 0, 0], std: [1, 1, 1] }];

  it('decodeMask keeps every 8-bit value exactly', async () => {
    const values = Buffer.from(Array.from({ length: 256 }, (_, v) => v));
    const png = await sharp(values, { raw: { width: 16, height: 16, channels: 1 } }).toColourspace('b-w').png().toBuffer();
    const m = await decodeMask(png);
    assert.deepEqual([m.width, m.height, Array.from(m.data)], [16, 16, Array.from(values)]);
  });

  it('letterboxed batches: boxes on their rectangles in mask and pixels, the same for workers 0 and 2, mapped back by geometry', async () => {
    const runs = [];
    for (const workers of [0, 2]) {
      const loader = new DataLoader(src, { batchSize: 4, workers, transforms: EVAL });
      runs.push(await all(loader));
      await loader.close();
    }
    const [a, b] = runs as [Awaited<ReturnType<typeof all>>, Awaited<ReturnType<typeof all>>];
    assert.deepEqual(b.rows, a.rows);
    assert.deepEqual(b.masks, a.masks);
    assert.deepEqual(b.batches.map((x) => x.geometry), a.batches.map((x) => x.geometry));
    assert.deepEqual(b.batches.map((x) => Array.from(x.images.dataSync() as Float32Array)), a.batches.map((x) => Array.from(x.images.dataSync() as Float32Array)));
    assert.equal(a.rows.length, boxesOf(0).classes.length * 3 + 2 * 6);
    for (const batch of a.batches) {
      const mask = batch.masks!.dataSync() as Uint8Array;
      const img = batch.images.dataSync() as Float32Array;
      const flat = batch.boxes!.dataSync() as Float32Array;
      for (let j = 0; j < flat.length; j += 6) {
        const [k, c, x1, y1, x2, y2] = flat.subarray(j, j + 6) as unknown as number[];
        const i = batch.indices[k!]!;
        let [u1, v1, u2, v2] = [Infinity, Infinity, -Infinity, -Infinity];
        let [p1, q1, p2, q2] = [Infinity, Infinity, -Infinity, -Infinity];
        for (let y = 0; y < 48; y++) {
          for (let x = 0; x < 48; x++) {
            if (mask[(k! * 48 + y) * 48 + x] === c) [u1, v1, u2, v2] = [Math.min(u1, x), Math.min(v1, y), Math.max(u2, x + 1), Math.max(v2, y + 1)];
            if (img[(k! * 3 * 48 + y) * 48 + x]! > 0.5) [p1, q1, p2, q2] = [Math.min(p1, x), Math.min(q1, y), Math.max(p2, x + 1), Math.max(q2, y + 1)];
          }
        }
        [u1 - x1!, v1 - y1!, u2 - x2!, v2 - y2!].forEach((d) => assert.ok(Math.abs(d) <= 1, `sample ${i} class ${c}: box ${[x1, y1, x2, y2]} vs mask ${[u1, v1, u2, v2]}`));
        if (c === 1) [p1 - x1!, q1 - y1!, p2 - x2!, q2 - y2!].forEach((d) => assert.ok(Math.abs(d) <= 1, `sample ${i}: box ${[x1, y1, x2, y2]} vs white ${[p1, q1, p2, q2]}`));
        const back = unletterboxBoxes([x1!, y1!, x2!, y2!], batch.geometry![k!]!);
        const want = boxesOf(i).boxes.subarray(4 * (c! - 1), 4 * c!);
        back.forEach((v, q) => assert.ok(Math.abs(v - want[q]!) <= 0.5, `sample ${i} class ${c}: back ${Array.from(back)} vs ${Array.from(want)}`));
      }
    }
    for (const x of [...a.batches, ...b.batches]) x.dispose();
  });

  it('shrink-on-load (decodeSize) scales boxes and masks with the image; geometry still maps to the file’s pixels', async () => {
    const loader = new DataLoader(src, { batchSize: 3, workers: 0, decodeSize: 20, transforms: EVAL });
    const { batches } = await all(loader);
    for (const batch of batches) {
      const flat = batch.boxes!.dataSync() as Float32Array;
      for (let j = 0; j < flat.length; j += 6) {
        const [k, c] = [flat[j]!, flat[j + 1]!];
        const i = batch.indices[k]!;
        const g = batch.geometry![k]!;
        assert.deepEqual(g.size, sizeOf(i));
        const back = unletterboxBoxes(flat.subarray(j + 2, j + 6), g);
        const want = boxesOf(i).boxes.subarray(4 * (c - 1), 4 * c);
        back.forEach((v, q) => assert.ok(Math.abs(v - want[q]!) <= 0.5, `sample ${i}: back ${Array.from(back)} vs ${Array.from(want)}`));
        // The mask was resampled twice (to the 20 px decode, then the letterbox): half a decoded pixel, upscaled, each way.
        const tol = 0.5 + 0.5 * g.scale[0] * (g.size[0] / 20);
        const region = regionOf(batch.masks!.dataSync() as Uint8Array, k, c);
        region.forEach((v, q) => assert.ok(Math.abs(v - flat[j + 2 + q]!) <= tol, `sample ${i} class ${c}: mask ${region} vs box ${Array.from(flat.subarray(j + 2, j + 6))} (± ${tol})`));
      }
      batch.dispose();
    }
  });

  it('a bad mask or box entry fails only its sample, with a one-line reason', async () => {
    const wrongSize = await writeSample(tmp.dir, 20, 'png');
    const rgb = join(tmp.dir, 'rgb.png');
    const [h0, w0] = sizeOf(1);
    await sharp(Buffer.alloc(w0 * h0 * 3, 7), { raw: { width: w0, height: h0, channels: 3 } }).png().toFile(rgb);
    const bad: FileSource = { ...src, masks: [...src.masks!], boxes: [...src.boxes!] };
    bad.masks![0] = wrongSize.mask;
    bad.masks![1] = rgb;
    bad.masks![2] = join(tmp.dir, 'missing.png');
    bad.boxes![3] = { boxes: Float32Array.of(4, 4, 2, 9), classes: Int32Array.of(1) };
    const skipped: string[] = [];
    const loader = new DataLoader(bad, { batchSize: 4, workers: 2, transforms: EVAL, onSkip: (p, why) => skipped.push(`${p.split('/').pop()}: ${why}`) });
    const { batches } = await all(loader);
    assert.deepEqual(batches.flatMap((x) => x.indices), [4, 5, 6, 7, 8]);
    assert.deepEqual(skipped, [
      `0.png: mask: ${sizeOf(20)[1]}×${sizeOf(20)[0]}, image 40×30`,
      '1.jpg: mask: not an 8-bit single-channel image (3 channel(s) of uchar)',
      '2.png: mask: file not found',
      '3.jpg: boxes: box 0 is not x1 ≤ x2, y1 ≤ y2 in finite numbers (4, 4, 2, 9)',
    ]);
    assert.ok(batches.every((x) => (x.masks!.dataSync() as Uint8Array).some((v) => v === IGNORE)));
    batches.forEach((x) => x.dispose());
    await loader.close();
  });
});
