// fromRgba (the web UI's decoder back end) gives the bytes sharp's decodeImage gives for the same
// pixels: alpha flattened on white, grey truncated as libvips does.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { decodeImage } from '../../src/data/image.js';
import { fromRgba } from '../../src/data/rgba.js';

function randomRgba(n: number, seed: number): Uint8Array {
  let s = seed;
  const next = (): number => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 24);
  const px = new Uint8Array(n * 4);
  for (let i = 0; i < n; i++) {
    px[4 * i] = next();
    px[4 * i + 1] = next();
    px[4 * i + 2] = next();
    px[4 * i + 3] = i < n / 2 ? 255 : next();
  }
  // A grey ramp: its luma lands exactly on integers, where float rounding decides the byte.
  for (let v = 0; v < 256; v++) px.set([v, v, v, 255], 4 * v);
  return px;
}

describe('fromRgba', () => {
  const W = 200;
  const H = 100;
  const rgba = randomRgba(W * H, 3);

  for (const channels of [3, 1] as const) {
    it(`matches decodeImage with ${channels} channel(s), opaque and translucent pixels`, async () => {
      const png = await sharp(Buffer.from(rgba), { raw: { width: W, height: H, channels: 4 } }).png().toBuffer();
      const ref = await decodeImage(png, { channels });
      const got = fromRgba(rgba, W, H, channels);
      assert.equal(got.width, W);
      assert.equal(got.height, H);
      assert.equal(got.data.length, W * H * channels);
      const diff = got.data.findIndex((v, i) => v !== ref.data[i]);
      assert.equal(diff, -1, `first difference at ${diff}: ${got.data[diff]} vs sharp ${ref.data[diff]}`);
    });
  }

  it('grey of pure red is 76 (luma, not CIE L*) and a half-transparent black pixel is 127', () => {
    const g = fromRgba(Uint8Array.from([255, 0, 0, 255, 0, 0, 0, 128]), 2, 1, 1);
    assert.deepEqual([...g.data], [76, 127]);
  });

  it('refuses a buffer of the wrong length', () => {
    assert.throws(() => fromRgba(new Uint8Array(7), 1, 2, 3), /expected 8 RGBA bytes for 1×2, got 7/);
  });
});
