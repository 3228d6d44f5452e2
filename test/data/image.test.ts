import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import sharp from 'sharp';
import { checkImage, decodeImage, isImagePath } from '../../src/data/image.js';
import { pattern, tempDir, writeImage } from './make-images.js';

const tmp = tempDir('image');
after(tmp.remove);

describe('decodeImage', () => {
  it('applies EXIF orientation 6 (rotate 90°): width and height swap', async () => {
    const jpg = await sharp(pattern(40, 20, 1), { raw: { width: 40, height: 20, channels: 3 } }).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    assert.equal((await sharp(jpg).metadata()).orientation, 6);
    const img = await decodeImage(jpg, { channels: 3 });
    assert.deepEqual([img.width, img.height, img.channels, img.data.length], [20, 40, 3, 20 * 40 * 3]);
  });

  it('flattens alpha on white', async () => {
    const rgba = Buffer.alloc(4 * 4 * 4);
    for (let i = 0; i < 16; i++) rgba.set(i < 8 ? [255, 0, 0, 255] : [0, 0, 0, 0], i * 4);
    const png = await sharp(rgba, { raw: { width: 4, height: 4, channels: 4 } }).png().toBuffer();
    const img = await decodeImage(png, { channels: 3 });
    assert.deepEqual(Array.from(img.data.subarray(0, 3)), [255, 0, 0]);
    assert.deepEqual(Array.from(img.data.subarray(45, 48)), [255, 255, 255]);
  });

  it('converts RGB → grey and grey → RGB', async () => {
    const path = join(tmp.dir, 'g.png');
    await writeImage(path, 6, 5, 2, 'png', 1);
    const rgb = await decodeImage(path, { channels: 3 });
    assert.equal(rgb.channels, 3);
    assert.equal(rgb.data[0], rgb.data[1]);
    assert.equal(rgb.data[0], rgb.data[2]);
    const back = await decodeImage(path, { channels: 1 });
    assert.equal(back.data.length, 30);
    assert.equal(back.data[0], rgb.data[0]);
    const colour = await decodeImage(await sharp({ create: { width: 3, height: 3, channels: 3, background: { r: 255, g: 0, b: 0 } } }).png().toBuffer(), { channels: 1 });
    assert.equal(colour.data[0], Math.round(0.299 * 255), 'grey of pure red is its luma');
  });

  it('resizes while decoding: shorter side, exact, shrink-only', async () => {
    const path = join(tmp.dir, 'big.jpg');
    await writeImage(path, 80, 40, 3, 'jpeg');
    const s = await decodeImage(path, { channels: 3, size: 20 });
    assert.deepEqual([s.width, s.height], [40, 20]);
    const e = await decodeImage(path, { channels: 3, size: [10, 12] });
    assert.deepEqual([e.width, e.height], [12, 10]);
    const k = await decodeImage(path, { channels: 3, size: 100, shrinkOnly: true });
    assert.deepEqual([k.width, k.height], [80, 40]);
  });

  it('checkImage gives the upright size: EXIF orientation 6 swaps the sides', async () => {
    const path = join(tmp.dir, 'turned.jpg');
    await sharp(pattern(40, 20, 1), { raw: { width: 40, height: 20, channels: 3 } }).jpeg().withMetadata({ orientation: 6 }).toFile(path);
    assert.deepEqual(await checkImage(path, true), { ok: true, channels: 3, width: 20, height: 40 });
    const grey = join(tmp.dir, 'grey-size.png');
    await writeImage(grey, 7, 5, 1, 'png', 1);
    assert.deepEqual(await checkImage(grey, false), { ok: true, channels: 1, width: 7, height: 5 });
  });

  it('checkImage reports a missing file and knows image extensions', async () => {
    assert.deepEqual(await checkImage(join(tmp.dir, 'missing.png'), true), { ok: false, reason: 'file not found' });
    assert.ok(isImagePath('a/B.JPEG') && isImagePath('x.tif') && !isImagePath('x.txt'));
  });
});
