// The synthetic segmentation sets: read whole by resolveSegmentData, masks that label what the
// pixels show (ink with its ignore ring; cells by kind), and the same bytes for the same seed.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import sharp from 'sharp';
import { decodeImageDeep, decodeMask } from '../../src/data/image.js';
import { Rng } from '../../src/data/rng.js';
import { resolveSegmentData } from '../../src/data/segment.js';
import { CELL_CLASSES, DIGIT_SEGMENT_CLASSES, synthSegment } from '../../src/data/synth-segment.js';
import { loadDigits, makeCanvas } from '../../src/data/synth.js';
import { tempDir } from './make-images.js';

const tmp = tempDir('synth-seg');
after(() => tmp.remove());

/** Whether pixel (x, y) has an 8-neighbour for which `hit` holds. */
function touches(m: Uint8Array, s: number, x: number, y: number, hit: (v: number) => boolean): boolean {
  for (let dy = -1; dy <= 1; dy++) {
    for (let dx = -1; dx <= 1; dx++) {
      const [u, v] = [x + dx, y + dy];
      if ((dx || dy) && u >= 0 && v >= 0 && u < s && v < s && hit(m[v * s + u]!)) return true;
    }
  }
  return false;
}

describe('data synth --task segment --kind digits', () => {
  const out = join(tmp.dir, 'digits');
  it('ink is digit + 1, a 1-pixel 255 ring surrounds it, and the pixels are synthDetect\'s canvases', async () => {
    const yaml = await synthSegment({ out, kind: 'digits', train: 6, val: 3, imgsz: 64, seed: 5 });
    const d = await resolveSegmentData(yaml);
    assert.deepEqual(d.skipped, []);
    assert.deepEqual(d.classes, DIGIT_SEGMENT_CLASSES);
    assert.equal(d.inChannels, 3);
    assert.deepEqual([d.splits.train.paths.length, d.splits.val.paths.length], [6, 3]);
    // Canvas 0 of train again from the same Rng: the ink must be its mask, the pixels its bytes.
    const c = makeCanvas(loadDigits('train'), 64, new Rng(10), [1, 6], [14, 48]);
    const m = await decodeMask(d.splits.train.masks![0]!);
    const rgb = await sharp(d.splits.train.paths[0]!).raw().toBuffer();
    assert.ok(rgb.equals(Buffer.from(c.rgb)), 'image bytes are the canvas');
    let ring = 0;
    for (let y = 0; y < 64; y++) {
      for (let x = 0; x < 64; x++) {
        const [v, ink] = [m.data[y * 64 + x]!, c.mask[y * 64 + x]!];
        if (ink > 0) assert.equal(v, ink, `ink at (${x}, ${y})`);
        else if (touches(c.mask, 64, x, y, (u) => u > 0)) {
          assert.equal(v, 255, `background next to ink at (${x}, ${y}) is ignore`);
          ring++;
        } else assert.equal(v, 0, `background at (${x}, ${y})`);
      }
    }
    assert.ok(ring > 20, `${ring} ring pixels`);
  });

  it('the same seed writes the same bytes; another seed does not', async () => {
    await synthSegment({ out: join(tmp.dir, 'again'), kind: 'digits', train: 6, val: 3, imgsz: 64, seed: 5 });
    await synthSegment({ out: join(tmp.dir, 'other'), kind: 'digits', train: 6, val: 3, imgsz: 64, seed: 6 });
    for (const f of ['images/train/000003.png', 'masks/val/000002.png']) {
      assert.ok(readFileSync(join(out, f)).equals(readFileSync(join(tmp.dir, 'again', f))), f);
      assert.ok(!readFileSync(join(out, f)).equals(readFileSync(join(tmp.dir, 'other', f))), f);
    }
  });
});

describe('data synth --task segment --kind cells', () => {
  it('grey 16-bit frames whose kinds differ in brightness, that touch, with blur and noise', async () => {
    const yaml = await synthSegment({ out: join(tmp.dir, 'cells'), kind: 'cells', train: 12, val: 2, imgsz: 96, seed: 2, depth: 16 });
    const d = await resolveSegmentData(yaml);
    assert.deepEqual(d.skipped, []);
    assert.deepEqual(d.classes, CELL_CLASSES);
    assert.deepEqual([d.inChannels, d.bitDepth], [1, 16]);
    assert.ok(d.trainPixels.every((n) => n > 0), `every class present: ${d.trainPixels}`);
    assert.ok(d.trainPixels[0]! > 0.7 * d.trainPixels.reduce((a, b) => a + b), 'mostly background, as in microscopy');
    const sum = [0, 0, 0, 0];
    const n = [0, 0, 0, 0];
    let touching = 0;
    let levels = 0;
    for (const [i, path] of d.splits.train.paths.entries()) {
      const img = await decodeImageDeep(path, { channels: 1 });
      const m = (await decodeMask(d.splits.train.masks![i]!)).data;
      levels = Math.max(levels, new Set(img.data).size);
      for (let p = 0; p < m.length; p++) {
        sum[m[p]!]! += img.data[p]!;
        n[m[p]!]!++;
        const [x, y] = [p % 96, Math.floor(p / 96)];
        if (m[p]! > 0 && touches(m, 96, x, y, (v) => v > 0 && v !== m[p])) touching++;
      }
    }
    const mean = sum.map((v, k) => v / n[k]!);
    // dividing > nucleus > elongated > background (0–255 scale).
    assert.ok(mean[3]! > mean[1]! && mean[1]! > mean[2]! && mean[2]! > mean[0]!, `means by class ${mean.map((v) => v.toFixed(1))}`);
    assert.ok(touching > 0, 'objects of different kinds touch');
    assert.ok(levels > 256, `${levels} grey levels in one frame: 16-bit`);
  });
});
