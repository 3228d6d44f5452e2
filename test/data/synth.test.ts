// The synthetic digits set: a YOLO layout that resolveDetectData reads without a complaint, boxes
// that frame the ink they label, and the same bytes for the same seed.
import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { makeCanvas } from '../../src/data/synth.js';
import { synthDetect } from '../../src/data/synth.js';
import { Rng } from '../../src/data/rng.js';
import { resolveDetectData } from '../../src/data/yolo.js';

const dir = mkdtempSync(join(tmpdir(), 'kestrel-synth-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('data synth --task detect', () => {
  it('writes a set resolveDetectData reads whole, with 1–6 digits of 14–48 px per canvas', async () => {
    const yaml = await synthDetect({ out: join(dir, 'a'), train: 12, val: 4, imgsz: 96, seed: 3 });
    const d = await resolveDetectData(yaml);
    assert.deepEqual(d.skipped, []);
    assert.deepEqual(d.classes, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    assert.equal(d.splits.train.paths.length, 12);
    assert.equal(d.splits.val.paths.length, 4);
    for (const t of [...d.splits.train.boxes!, ...d.splits.val.boxes!]) {
      assert.ok(t.classes.length >= 1 && t.classes.length <= 6, `${t.classes.length} digits`);
      for (let i = 0; i < t.classes.length; i++) {
        const [x1, y1, x2, y2] = t.boxes.subarray(i * 4, i * 4 + 4);
        const side = Math.max(x2! - x1!, y2! - y1!);
        assert.ok(side >= 8 && side <= 48 + 1, `box side ${side}`);
        assert.ok(x1! >= 0 && y1! >= 0 && x2! <= 96 && y2! <= 96);
      }
    }
  });

  it('each box is the tight box of its digit\'s ink in the class mask', () => {
    const digits = { images: new Uint8Array(784 * 2), labels: Uint8Array.from([3, 7]), n: 2 };
    // Two synthetic "digits": a filled 10×20 bar and an 18×6 bar inside the 28×28 cell.
    for (let y = 4; y < 24; y++) for (let x = 9; x < 19; x++) digits.images[y * 28 + x] = 255;
    for (let y = 11; y < 17; y++) for (let x = 5; x < 23; x++) digits.images[784 + y * 28 + x] = 255;
    const c = makeCanvas(digits, 64, new Rng(1), [4, 4], [20, 20]);
    assert.ok(c.boxes.length >= 2);
    for (const [x1, y1, x2, y2, k] of c.boxes) {
      let [mx0, my0, mx1, my1] = [64, 64, -1, -1];
      for (let y = y1; y < y2; y++) for (let x = x1; x < x2; x++) if (c.mask[y * 64 + x] === k + 1) [mx0, my0, mx1, my1] = [Math.min(mx0, x), Math.min(my0, y), Math.max(mx1, x + 1), Math.max(my1, y + 1)];
      assert.deepEqual([mx0, my0, mx1, my1], [x1, y1, x2, y2]);
      assert.equal(Math.max(x2 - x1, y2 - y1), 20);
    }
  });

  it('the same seed writes the same files; another seed does not', async () => {
    await synthDetect({ out: join(dir, 'b'), train: 2, val: 1, imgsz: 64, seed: 5 });
    await synthDetect({ out: join(dir, 'c'), train: 2, val: 1, imgsz: 64, seed: 5 });
    await synthDetect({ out: join(dir, 'd'), train: 2, val: 1, imgsz: 64, seed: 6 });
    const read = (s: string): Buffer => readFileSync(join(dir, s, 'images/train/000001.png'));
    assert.deepEqual(read('b'), read('c'));
    assert.notDeepEqual(read('b'), read('d'));
  });
});
