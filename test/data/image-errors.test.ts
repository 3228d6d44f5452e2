// What is wrong with an image, in our words: every failure of decodeImage and checkImage is an
// ImageError (empty, not an image, truncated, corrupt, too many pixels) whose message quotes no
// libvips text; and one pixel limit (40,000,000 by default, the server's too) guards every decode.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { ImageError, imageError } from '../../src/data/errors.js';
import { checkImage, decodeImage, DEFAULT_MAX_PIXELS } from '../../src/data/image.js';
import { DEFAULT_LIMITS } from '../../src/serve/options.js';
import { bombPng } from '../serve/helpers.js';
import { pattern, tempDir, writeImage } from './make-images.js';

const tmp = tempDir('image-errors');
after(tmp.remove);

/** libvips' and sharp's own words, which must not reach the user. */
const LIBVIPS = /vips|buffer|libspng|pngload|gifload|failOn|glib|header|jpeg image|huffman/i;

let jpeg: Buffer;
let png: Buffer;

before(async () => {
  // Noise, so the entropy-coded data is long and a cut lands inside it rather than in the header.
  let seed = 7;
  const noise = Buffer.from(Array.from({ length: 300 * 200 * 3 }, () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24));
  const raw = { raw: { width: 300, height: 200, channels: 3 as const } };
  jpeg = await sharp(noise, raw).jpeg({ quality: 90 }).toBuffer();
  png = await sharp(noise, raw).png().toBuffer();
});

async function problem(input: Buffer | string, maxPixels?: number): Promise<ImageError> {
  try {
    await decodeImage(input, { channels: 3, ...(maxPixels === undefined ? {} : { maxPixels }) });
  } catch (e) {
    assert.ok(e instanceof ImageError, `an ImageError, got ${String(e)}`);
    assert.doesNotMatch(e.message, LIBVIPS);
    assert.ok(!e.message.includes('\n'));
    return e;
  }
  assert.fail('expected the decode to fail');
}

describe('decodeImage says what is wrong with the file', () => {
  it('empty, not an image, truncated (in the header or the data), corrupt', async () => {
    const flipped = Buffer.from(jpeg);
    for (let i = 2000; i < 6000; i++) flipped[i] ^= 0x5a;
    const cases: [string, Buffer, ImageError['problem'], string][] = [
      ['empty', Buffer.alloc(0), 'empty', 'the file is empty'],
      ['text', Buffer.from('root:x:0:0:root:/root:/bin/bash\n'), 'not-image', 'not an image (no image format Kestrel reads)'],
      ['JPEG cut in its header', jpeg.subarray(0, 100), 'truncated', 'truncated file (the image data ends early)'],
      ['JPEG cut in its data', jpeg.subarray(0, jpeg.length >> 1), 'truncated', 'truncated file (the image data ends early)'],
      ['PNG cut in its header', png.subarray(0, 40), 'truncated', 'truncated file (the image data ends early)'],
      ['JPEG with garbled data', flipped, 'corrupt', 'corrupt image data'],
    ];
    for (const [what, bytes, kind, message] of cases) {
      const e = await problem(bytes);
      assert.deepEqual([e.problem, e.message], [kind, message], what);
    }
  });

  it('a file cut anywhere after its header is truncated, whatever the decoder calls it (PNG, JPEG, GIF, WebP; buffer and path)', async () => {
    // Where the cut falls changes the decoder's words (libspng: "end of stream" or "read error";
    // libjpeg: "premature end" or "corrupt data"), and the encoder's bytes vary with the CPU.
    const gif = await sharp(png).gif().toBuffer();
    const webp = await sharp(png).webp({ quality: 80 }).toBuffer();
    for (const [format, whole] of [['png', png], ['jpeg', jpeg], ['gif', gif], ['webp', webp]] as const) {
      for (let f = 0.1; f < 0.99; f += 0.05) {
        const cut = whole.subarray(0, Math.floor(whole.length * f));
        const e = await problem(cut);
        assert.equal(e.problem, 'truncated', `${format} cut at ${f.toFixed(2)}: ${e.message}`);
        const path = join(tmp.dir, `cut-${format}-${f.toFixed(2)}.img`);
        writeFileSync(path, cut);
        assert.deepEqual(await checkImage(path, true), { ok: false, reason: 'truncated file (the image data ends early)' }, `${format} file cut at ${f.toFixed(2)}`);
      }
    }
  });

  it('a missing file and a file that is not an image, by path', async () => {
    const e = await problem(join(tmp.dir, 'missing.png'));
    assert.deepEqual([e.problem, e.message], ['missing', 'file not found']);
    writeFileSync(join(tmp.dir, 'notes.png'), readFileSync('/etc/passwd'));
    assert.equal((await problem(join(tmp.dir, 'notes.png'))).problem, 'not-image');
  });

  it('the mapping itself: libvips wordings seen in the field, and anything else kept, marked unreadable', () => {
    const words = (msg: string): [string, string] => {
      const e = imageError(new Error(msg));
      return [e.problem, e.message];
    };
    assert.deepEqual(words('VipsJpeg: Premature end of input file\nWarning treated as error due to failOn setting'), ['truncated', 'truncated file (the image data ends early)']);
    assert.deepEqual(words('Warning treated as error due to failOn setting'), ['corrupt', 'corrupt image data']);
    assert.deepEqual(words('Input Buffer is empty'), ['empty', 'the file is empty']);
    assert.deepEqual(words('pngload_buffer: libspng read error'), ['corrupt', 'corrupt image data']);
    assert.deepEqual(words('something new\nsecond line'), ['unreadable', 'unreadable image (something new)']);
  });
});

describe('one pixel limit on every decode', () => {
  it('is the server\'s default too', () => {
    assert.equal(DEFAULT_MAX_PIXELS, 40_000_000);
    assert.equal(DEFAULT_LIMITS.maxPixels, DEFAULT_MAX_PIXELS);
  });

  it('refuses by default a 35 KB PNG of 8000×5001 pixels, from its header, naming its size', async () => {
    const bomb = bombPng(8000, 5001);
    assert.ok(bomb.length < 64 * 1024);
    const e = await problem(bomb);
    assert.deepEqual([e.problem, e.message], ['too-many-pixels', 'too many pixels: 8000×5001 is 40008000 pixels, over the limit of 40000000 (--max-pixels)']);
  });

  it('holds at the exact limit given', async () => {
    const small = await sharp(pattern(16, 12, 1), { raw: { width: 16, height: 12, channels: 3 } }).png().toBuffer();
    assert.equal((await decodeImage(small, { channels: 3, maxPixels: 192 })).width, 16);
    assert.equal((await problem(small, 191)).message, 'too many pixels: 16×12 is 192 pixels, over the limit of 191 (--max-pixels)');
  });

  it('checkImage (what scans training and val data) applies it and words its failures the same way', async () => {
    const path = join(tmp.dir, 'ok.png');
    await writeImage(path, 16, 12, 2, 'png');
    assert.deepEqual(await checkImage(path, true, 192), { ok: true, channels: 3, width: 16, height: 12 });
    assert.deepEqual(await checkImage(path, false, 100), { ok: false, reason: 'too many pixels: 16×12 is 192 pixels, over the limit of 100 (--max-pixels)' });
    writeFileSync(join(tmp.dir, 'cut.jpg'), jpeg.subarray(0, jpeg.length >> 1));
    assert.deepEqual(await checkImage(join(tmp.dir, 'cut.jpg'), true), { ok: false, reason: 'truncated file (the image data ends early)' });
    writeFileSync(join(tmp.dir, 'empty.png'), '');
    assert.deepEqual(await checkImage(join(tmp.dir, 'empty.png'), false), { ok: false, reason: 'the file is empty' });
  });
});
