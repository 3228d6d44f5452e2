import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { decodeImageDeep, decodeMask } from '../../src/data/image.js';
import { DataLoader } from '../../src/data/loader.js';
import { encodePng, readPaletteIndices } from '../../src/data/png.js';
import { maskPathOf, resolveSegmentData, VOC_CLASSES } from '../../src/data/segment.js';
import { tempDir, writeImage } from './make-images.js';

/** A w×h mask: class (x + 2y) mod n, with a 255 column at x = 0. */
function maskOf(w: number, h: number, n: number): Uint8Array {
  return Uint8Array.from({ length: w * h }, (_, i) => (i % w === 0 ? 255 : ((i % w) + 2 * Math.floor(i / w)) % n));
}

function write(path: string, bytes: Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, bytes);
}

/** The VOC colour map (bit-interleaved), as its devkit and torchvision build it. */
function vocPalette(): [number, number, number][] {
  return Array.from({ length: 256 }, (_, i) => {
    const rgb: [number, number, number] = [0, 0, 0];
    for (let j = 0, c = i; j < 8; j++, c >>= 3) for (let k = 0; k < 3; k++) rgb[k] |= ((c >> k) & 1) << (7 - j);
    return rgb;
  });
}

describe('resolveSegmentData: the data.yaml layout', () => {
  const tmp = tempDir('seg');
  const root = join(tmp.dir, 'set');
  const N_CLASSES = 3;
  before(async () => {
    // train: 4 good pairs (one in a subfolder, one RGB), and 5 bad ones; val: 2 good.
    for (const [rel, w, h, ch] of [['train/a.png', 20, 12, 1], ['train/sub/b.png', 16, 16, 1], ['train/c.jpg', 10, 8, 3], ['train/d.png', 9, 9, 1], ['val/e.png', 12, 12, 1], ['val/f.png', 8, 6, 1]] as const) {
      await writeImage(join(root, 'images', rel), w, h, 1, rel.endsWith('.jpg') ? 'jpeg' : 'png', ch);
      write(maskPathOf(join(root, 'images', rel))!, encodePng({ width: w, height: h, data: maskOf(w, h, N_CLASSES) }));
    }
    for (const name of ['wrong-size', 'bad-value', 'corrupt', 'no-mask', 'rgb-mask']) await writeImage(join(root, 'images', 'train', `${name}.png`), 10, 10, 2, 'png', 1);
    write(join(root, 'masks/train/wrong-size.png'), encodePng({ width: 10, height: 11, data: new Uint8Array(110) }));
    const badValue = maskOf(10, 10, N_CLASSES);
    [badValue[5], badValue[6]] = [7, 7];
    write(join(root, 'masks/train/bad-value.png'), encodePng({ width: 10, height: 10, data: badValue }));
    write(join(root, 'masks/train/corrupt.png'), Buffer.from('this is not a png'));
    await sharp(Buffer.alloc(300, 1), { raw: { width: 10, height: 10, channels: 3 } }).png().toFile(join(root, 'masks/train/rgb-mask.png'));
    writeFileSync(join(root, 'data.yaml'), 'train: images/train\nval: images/val\nnames: [background, ring, core]\n');
  });
  after(() => tmp.remove());

  it('pairs every image with masks/<same path>.png, counts class pixels, and lists each bad pair with its reason', async () => {
    const d = await resolveSegmentData(root);
    assert.deepEqual(d.classes, ['background', 'ring', 'core']);
    assert.equal(d.layout, 'yaml');
    assert.equal(d.inChannels, 3, 'one RGB image makes the set RGB');
    assert.equal(d.bitDepth, 8);
    const rel = (p: string): string => p.slice(root.length + 1);
    assert.deepEqual(d.splits.train.paths.map(rel), ['images/train/a.png', 'images/train/c.jpg', 'images/train/d.png', 'images/train/sub/b.png']);
    assert.deepEqual(d.splits.train.masks!.map(rel), ['masks/train/a.png', 'masks/train/c.png', 'masks/train/d.png', 'masks/train/sub/b.png']);
    assert.deepEqual(d.splits.val.masks!.map(rel), ['masks/val/e.png', 'masks/val/f.png']);
    assert.equal(d.splits.train.channels, 3);
    // The class pixels of the four training masks, counted here independently.
    const want = [0, 0, 0];
    for (const [w, h] of [[20, 12], [16, 16], [10, 8], [9, 9]]) for (const v of maskOf(w!, h!, N_CLASSES)) if (v !== 255) want[v]!++;
    assert.deepEqual(d.trainPixels, want);
    const reasons = Object.fromEntries(d.skipped.map((s) => [rel(s.path), s.reason]));
    assert.deepEqual(reasons, {
      'masks/train/wrong-size.png': 'mask is 10×11 but its image is 10×10',
      'masks/train/bad-value.png': 'mask holds value 7, neither a class (0–2) nor 255 (ignore)',
      'masks/train/corrupt.png': 'mask unreadable: not an image (no image format Kestrel reads)',
      'masks/train/no-mask.png': 'mask not found (for no-mask.png)',
      'masks/train/rgb-mask.png': 'mask unreadable: not an 8-bit single-channel image (3 channel(s) of uchar)',
    });
    assert.ok(d.skipped.every((s) => !s.reason.includes('\n')));
  });

  it('several bad values: the first three named, the rest counted', async () => {
    const many = new Uint8Array(100).fill(1);
    [many[0], many[1], many[2], many[3], many[4]] = [3, 4, 5, 6, 200];
    write(join(root, 'masks/train/bad-value.png'), encodePng({ width: 10, height: 10, data: many }));
    const again = await resolveSegmentData(root);
    assert.equal(again.skipped.find((x) => x.path.endsWith('bad-value.png'))!.reason, 'mask holds values 3, 4, 5 and 2 more, neither a class (0–2) nor 255 (ignore)');
  });

  it('--strict stops with one line naming the bad pairs', async () => {
    await assert.rejects(resolveSegmentData(root, { strict: true }), (e: Error) => {
      assert.equal(e.name, 'DataError');
      assert.ok(!e.message.includes('\n'));
      assert.match(e.message, /^5 unusable image\/mask pairs \(--strict stops; without it they are left out and listed\): /);
      for (const name of ['wrong-size', 'bad-value', 'corrupt', 'no-mask', 'rgb-mask']) assert.ok(e.message.includes(`${name}.png (`), name);
      return true;
    });
  });

  it('the DataLoader feeds the masks into Batch.masks, value for value, and moves them with a flip', async () => {
    const d = await resolveSegmentData(root);
    const val = { ...d.splits.val, channels: 1 as const };
    const loader = new DataLoader(val, { batchSize: 1, workers: 0, transforms: [{ op: 'hflip', p: 1 }, { op: 'toTensor' }] });
    const got: number[][] = [];
    for await (const b of loader.epoch(0)) {
      got.push(Array.from(b.masks!.dataSync() as Uint8Array));
      assert.deepEqual(b.masks!.shape, [1, ...[[12, 12], [6, 8]][got.length - 1]!]);
      b.dispose();
    }
    await loader.close();
    const flipped = (w: number, h: number): number[] => Array.from({ length: w * h }, (_, i) => maskOf(w, h, N_CLASSES)[Math.floor(i / w) * w + (w - 1 - (i % w))]!);
    assert.deepEqual(got, [flipped(12, 12), flipped(8, 6)]);
  });

  it('no train usable, or no data.yaml and no VOC folders: one-line errors', async () => {
    const t2 = tempDir('seg-empty');
    try {
      await writeImage(join(t2.dir, 'images/train/x.png'), 4, 4, 0, 'png', 1);
      await writeImage(join(t2.dir, 'images/val/y.png'), 4, 4, 0, 'png', 1);
      writeFileSync(join(t2.dir, 'data.yaml'), 'train: images/train\nval: images/val\nnames: [a, b]\n');
      await assert.rejects(resolveSegmentData(t2.dir), /the train split has no usable image\/mask pairs \(first: .*masks\/train\/x\.png: mask not found/);
      await assert.rejects(resolveSegmentData(join(t2.dir, 'images')), /a segmentation data set is a data.yaml .* or a Pascal VOC folder/);
    } finally {
      t2.remove();
    }
  });
});

describe('resolveSegmentData: Pascal VOC', () => {
  const tmp = tempDir('voc');
  const voc = join(tmp.dir, 'VOCdevkit', 'VOC2012');
  before(async () => {
    const ids = ['2007_000032', '2007_000039', '2007_000063'];
    for (const [k, id] of ids.entries()) {
      await writeImage(join(voc, 'JPEGImages', `${id}.jpg`), 14 + k, 10, k, 'jpeg');
      // Palette masks whose indices are classes 0–20 and 255, the VOC colour map as palette.
      const data = Uint8Array.from({ length: (14 + k) * 10 }, (_, i) => (i % 7 === 0 ? 255 : (i + k) % 21));
      write(join(voc, 'SegmentationClass', `${id}.png`), encodePng({ width: 14 + k, height: 10, data, palette: vocPalette() }));
    }
    write(join(voc, 'ImageSets/Segmentation/train.txt'), Buffer.from(`${ids[0]}\n${ids[1]}\n`));
    write(join(voc, 'ImageSets/Segmentation/val.txt'), Buffer.from(`${ids[2]}\n`));
  });
  after(() => tmp.remove());

  it('reads palette indices as classes, from the devkit folder or the year folder', async () => {
    for (const spec of [tmp.dir, voc]) {
      const d = await resolveSegmentData(spec);
      assert.equal(d.layout, 'voc');
      assert.deepEqual(d.classes, VOC_CLASSES);
      assert.equal(d.inChannels, 3);
      assert.deepEqual(d.splits.train.paths.map((p) => p.split('/').pop()), ['2007_000032.jpg', '2007_000039.jpg']);
      assert.deepEqual(d.skipped, []);
    }
    const m = await decodeMask(join(voc, 'SegmentationClass', '2007_000063.png'));
    assert.deepEqual(Array.from(m.data.subarray(0, 9)), [255, 3, 4, 5, 6, 7, 8, 255, 10]);
  });
});

describe('PNG corners sharp does not reach', () => {
  it('palette indices at 1, 2, 4 and 8 bits map one to one onto the colours libvips decodes', async () => {
    for (const colours of [2, 4, 16, 200]) {
      const [w, h] = [37, 23];
      const rgb = Buffer.alloc(w * h * 3);
      for (let i = 0; i < w * h; i++) rgb.set([(i * 37) % colours * 7, (i * 11) % colours, 0], i * 3);
      const png = await sharp(rgb, { raw: { width: w, height: h, channels: 3 } }).png({ palette: true, colours, dither: 0, effort: 1 }).toBuffer();
      const idx = readPaletteIndices(png);
      const colour = await sharp(png).raw().toBuffer();
      const seen = new Map<number, string>();
      const back = new Map<string, number>();
      for (let i = 0; i < w * h; i++) {
        const c = colour.subarray(i * 3, i * 3 + 3).join(',');
        assert.equal(seen.get(idx.data[i]!) ?? c, c, `index ${idx.data[i]} is one colour`);
        assert.equal(back.get(c) ?? idx.data[i], idx.data[i], `colour ${c} is one index`);
        seen.set(idx.data[i]!, c);
        back.set(c, idx.data[i]!);
      }
      assert.ok(seen.size >= Math.min(colours, 2), `${colours} colours: ${seen.size} indices`);
    }
  });

  it('a 16-bit grey PNG reaches the network without loss: v/65535 for every level', async () => {
    const tmp = tempDir('seg16');
    try {
      const [w, h] = [256, 4];
      const levels = Uint16Array.from({ length: w * h }, (_, i) => (i * 64 + (i % 3)) & 0xffff);
      write(join(tmp.dir, 'images/train/s.png'), encodePng({ width: w, height: h, data: levels }));
      write(join(tmp.dir, 'masks/train/s.png'), encodePng({ width: w, height: h, data: new Uint8Array(w * h) }));
      write(join(tmp.dir, 'images/val/s.png'), encodePng({ width: w, height: h, data: levels }));
      write(join(tmp.dir, 'masks/val/s.png'), encodePng({ width: w, height: h, data: new Uint8Array(w * h).fill(1) }));
      writeFileSync(join(tmp.dir, 'data.yaml'), 'train: images/train\nval: images/val\nnames: [bg, cell]\n');
      const d = await resolveSegmentData(tmp.dir);
      assert.deepEqual([d.inChannels, d.bitDepth], [1, 16]);
      const img = await decodeImageDeep(join(tmp.dir, 'images/train/s.png'), { channels: 1 });
      assert.ok(img.data instanceof Float32Array);
      const loader = new DataLoader(d.splits.train, { batchSize: 1, workers: 1, transforms: [{ op: 'toTensor' }] });
      for await (const b of loader.epoch(0)) {
        const x = b.images.dataSync() as Float32Array;
        let worst = 0;
        for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i]! - levels[i]! / 65535));
        assert.ok(worst < 1e-7, `max |x − v/65535| = ${worst}`);
        assert.equal(new Set(x).size, new Set(levels).size, 'every level distinct');
        b.dispose();
      }
      await loader.close();
    } finally {
      tmp.remove();
    }
  });
});
