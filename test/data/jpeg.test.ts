// The lean JPEG path (src/data/jpeg.ts, native/jpeg): plain JPEGs decode through the system's
// libjpeg-turbo to PIL's pixels (fixtures by test/fixtures/gen_jpeg_decode.py) and sharp's;
// rotated, CMYK and ICC-tagged JPEGs still go through sharp; the loader's crop-before-decode gives
// the batches that decoding whole images gives, and fails bad files with the same reasons.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { decodeImage } from '../../src/data/image.js';
import { decodeLeanJpeg, leanJpegSize, leanJpegVersion } from '../../src/data/jpeg.js';
import type { FileSource } from '../../src/data/source.js';
import { BatchStream } from '../../src/data/stream.js';
import type { TransformSpec } from '../../src/data/transforms.js';
import { pattern, tempDir } from './make-images.js';

interface Case {
  jpeg: string;
  width: number;
  height: number;
  rgb: string;
}
const FIXTURE = fileURLToPath(new URL('../../../test/fixtures/jpeg_decode.json', import.meta.url));
const fx = JSON.parse(readFileSync(FIXTURE, 'utf8')) as { libjpeg_turbo: string; cases: Record<string, Case> };
const bytes = (b64: string): Buffer => Buffer.from(b64, 'base64');

/** Largest absolute difference between two byte arrays of the same length. */
function maxDiff(a: Uint8Array, b: Uint8Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

const skip = leanJpegVersion() === null ? 'the JPEG addon is not built (node scripts/build-native.mjs --jpeg)' : false;

describe('lean JPEG decoding', { skip }, () => {
  it('decodes plain JPEGs (4:2:0, 4:2:2, 4:4:4, progressive, grey, EXIF upright) to PIL\'s pixels and sharp\'s', async () => {
    // The same libjpeg-turbo decodes bit for bit alike; another version within one grey level.
    const tol = leanJpegVersion() === fx.libjpeg_turbo ? 0 : 1;
    const lean = Object.entries(fx.cases).filter(([name]) => name.startsWith('lean_'));
    assert.equal(lean.length, 6);
    for (const [name, c] of lean) {
      const jpeg = bytes(c.jpeg);
      assert.deepEqual(leanJpegSize(jpeg), [c.width, c.height], name);
      const img = await decodeImage(jpeg, { channels: 3 });
      assert.deepEqual([img.width, img.height, img.channels], [c.width, c.height, 3], name);
      assert.ok(maxDiff(img.data, bytes(c.rgb)) <= tol, `${name}: differs from PIL by ${maxDiff(img.data, bytes(c.rgb))}`);
      const bySharp = await sharp(jpeg).toColourspace('srgb').raw().toBuffer();
      assert.equal(maxDiff(img.data, bySharp), 0, `${name}: differs from sharp`);
    }
  });

  it('leaves EXIF-rotated, CMYK and ICC-tagged JPEGs to sharp (a rotated one still comes out upright)', async () => {
    for (const name of ['exif_rotated', 'cmyk', 'icc']) assert.equal(leanJpegSize(bytes(fx.cases[name]!.jpeg)), null, name);
    const c = fx.cases.exif_rotated!;
    const img = await decodeImage(bytes(c.jpeg), { channels: 3 });
    assert.deepEqual([img.width, img.height], [c.width, c.height]);
    assert.deepEqual([c.width, c.height], [fx.cases.lean_420!.height, fx.cases.lean_420!.width]);
    assert.ok(maxDiff(img.data, bytes(c.rgb)) <= 1);
  });

  it('a region decode holds the full decode\'s pixels wherever a pixel\'s margin surrounds them', async () => {
    for (const name of ['lean_420', 'lean_422', 'lean_progressive']) {
      const c = fx.cases[name]!;
      const jpeg = bytes(c.jpeg);
      const full = bytes(c.rgb);
      const W = c.width;
      for (const [l, t, w, h] of [[16, 16, 10, 7], [1, 1, 51, 35], [19, 8, 33, 28], [30, 17, 5, 3]] as const) {
        const r = await decodeLeanJpeg(jpeg, 1e6, { x: l - 1, y: t - 1, w: w + 2, h: h + 2 });
        assert.ok(r.x <= l - 1 && r.x % 8 === 0 && r.x + r.width >= l + w + 1 && r.y === t - 1 && r.height === h + 2, `${name} region ${[l, t, w, h]}`);
        for (let y = t; y < t + h; y++) {
          const row = r.data.subarray(((y - r.y) * r.width + (l - r.x)) * 3, ((y - r.y) * r.width + (l + w - r.x)) * 3);
          assert.equal(maxDiff(row, full.subarray((y * W + l) * 3, (y * W + l + w) * 3)), 0, `${name} region ${[l, t, w, h]} row ${y}`);
        }
      }
    }
  });
});

describe('the loader crops lean JPEGs before decoding', { skip }, () => {
  const tmp = tempDir('jpeg-region');
  after(tmp.remove);
  const rrc = (size: number, scale?: [number, number]): TransformSpec[] => [
    { op: 'randomResizedCrop', size, ...(scale ? { scale } : {}) },
    { op: 'hflip', p: 0.5 },
    { op: 'normalize', mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
  ];
  const jpegs: string[] = [];
  const pngs: string[] = [];
  let good: Buffer;

  before(async () => {
    for (let k = 0; k < 12; k++) {
      const [w, h] = [90 + 7 * k, 70 - 2 * k];
      const jpeg = await sharp(pattern(w, h, k), { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 85 }).toBuffer();
      jpegs.push(join(tmp.dir, `${k}.jpg`));
      writeFileSync(jpegs[k]!, jpeg);
      // The same pixels, lossless: decoded whole by sharp, as every image was before.
      pngs.push(join(tmp.dir, `${k}.png`));
      await sharp(jpeg).png().toFile(pngs[k]!);
    }
    good = readFileSync(jpegs[0]!);
  });

  // Crops of these images (at most 70 px tall) are never twice the 48-px output: no DCT scaling.
  async function batches(paths: string[], workers: number, extra: { maxPixels?: number } = {}, transforms = rrc(48)): Promise<{ data: number[]; kept: number[]; failed: { index: number; reason: string }[] }> {
    const source: FileSource = { kind: 'files', paths, labels: new Int32Array(paths.length) };
    const stream = new BatchStream(source, { batchSize: 5, shuffle: true, seed: 3, transforms, workers, ...extra });
    const out = { data: [] as number[], kept: [] as number[], failed: [] as { index: number; reason: string }[] };
    for (const epoch of [0, 1]) {
      for await (const r of stream.epoch(epoch)) {
        out.data.push(...r.data.subarray(0, r.kept.length * r.shape[0] * r.shape[1] * r.shape[2]));
        out.kept.push(...r.kept);
        out.failed.push(...r.failed);
      }
    }
    await stream.close();
    return out;
  }

  it('with the same random draws and the same floats as decoding whole images (workers 0 and 2)', async () => {
    assert.ok(jpegs.every((p) => leanJpegSize(readFileSync(p)) !== null));
    const whole = await batches(pngs, 0);
    assert.equal(whole.kept.length, 24);
    for (const workers of [0, 2]) {
      const cropped = await batches(jpegs, workers);
      assert.deepEqual(cropped.kept, whole.kept);
      assert.deepEqual(cropped.failed, []);
      assert.deepEqual(cropped.data, whole.data, `workers ${workers}`);
    }
  });

  it('also when the crop heads a pipeline that does not fuse (the standard preset: + TrivialAugment before normalize)', async () => {
    const standard: TransformSpec[] = [{ op: 'randomResizedCrop', size: 48 }, { op: 'hflip', p: 0.5 }, { op: 'trivialAugment' }, { op: 'normalize', mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] }];
    const whole = await batches(pngs, 0, {}, standard);
    for (const workers of [0, 2]) {
      const cropped = await batches(jpegs, workers, {}, standard);
      assert.deepEqual(cropped.kept, whole.kept);
      assert.deepEqual(cropped.data, whole.data, `workers ${workers}`);
    }
  });

  it('decodes crops of four times the output or more at 1/2, 1/4 or 1/8 scale: close to the whole-image batches, not equal', async () => {
    // 640×480 smooth pictures and crops of at least half the image (≥ 392 px wide and tall) to 32 px: all decode at 1/2 or 1/4.
    const paths: [string, string][] = [];
    for (let k = 0; k < 4; k++) {
      const [w, h] = [640, 480];
      const px = Buffer.alloc(w * h * 3);
      for (let i = 0; i < w * h; i++) [px[3 * i], px[3 * i + 1], px[3 * i + 2]] = [((i % w) >> 2) + k * 20, (Math.floor(i / w) >> 1) & 255, 128 + 100 * Math.sin(i / w / 40 + (i % w) / 50)];
      const jpeg = await sharp(px, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
      paths.push([join(tmp.dir, `big${k}.jpg`), join(tmp.dir, `big${k}.png`)]);
      writeFileSync(paths[k]![0], jpeg);
      await sharp(jpeg).png().toFile(paths[k]![1]);
    }
    const tf = rrc(32, [0.5, 1]);
    const shrunk = await batches(paths.map((p) => p[0]), 0, {}, tf);
    const whole = await batches(paths.map((p) => p[1]), 0, {}, tf);
    assert.deepEqual(shrunk.kept, whole.kept);
    let sum = 0;
    for (let i = 0; i < whole.data.length; i++) sum += Math.abs(shrunk.data[i]! - whole.data[i]!);
    // Normalized values: one grey level is 1/(255·0.225) ≈ 0.017.
    const mean = sum / whole.data.length;
    assert.ok(mean > 0 && mean < 0.03, `mean difference ${mean}`);
  });

  it('fails truncated, garbled, oversized and missing files with the reasons of the whole-image path', async () => {
    const cut = join(tmp.dir, 'cut.jpg');
    writeFileSync(cut, good.subarray(0, Math.floor(good.length * 0.6)));
    const garbled = Buffer.from(good);
    for (let i = 700; i < garbled.length - 200; i++) garbled[i] ^= 0x5a;
    writeFileSync(join(tmp.dir, 'garbled.jpg'), garbled);
    const paths = [jpegs[1]!, cut, join(tmp.dir, 'garbled.jpg'), join(tmp.dir, 'missing.jpg')];
    const r = await batches(paths, 0);
    const reasons = [...new Map(r.failed.map((f) => [f.index, f.reason])).entries()].sort((a, b) => a[0] - b[0]);
    assert.deepEqual(reasons, [
      [1, 'decode failed: truncated file (the image data ends early)'],
      [2, 'decode failed: corrupt image data'],
      [3, 'decode failed: file not found'],
    ]);
    assert.deepEqual([...new Set(r.kept)], [0]);
    const big = await batches([jpegs[0]!, jpegs[1]!], 0, { maxPixels: 97 * 68 - 1 });
    assert.deepEqual([...new Set(big.failed.map((f) => `${f.index}: ${f.reason}`))], ['1: decode failed: too many pixels: 97×68 is 6596 pixels, over the limit of 6595 (--max-pixels)']);
    assert.deepEqual([...new Set(big.kept)], [0]);
  });
});
