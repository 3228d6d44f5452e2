// The validation pictures of a detection run: the same images drawn with their labels and with
// the predictions above 0.25, each box in its class colour where its pixels are.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import sharp from 'sharp';
import { BOX_COLOURS, type DrawnBox } from '../../../src/plot/index.js';
import { drawnDetections, writeValBatch, type PlotImage } from '../../../src/tasks/detect/plots.js';

const dir = mkdtempSync(join(tmpdir(), 'kestrel-detect-plots-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const hex = (c: string): number[] => [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16));
const grey = (w: number, h: number): Uint8Array => new Uint8Array(w * h * 3).fill(128);
const GREY = [128, 128, 128];

describe('detection validation pictures', () => {
  it('drawnDetections keeps scores ≥ 0.25 and labels them "name score"', () => {
    const d = { boxes: Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]), scores: Float32Array.from([0.9, 0.2, 0.25]), classes: Int32Array.from([2, 0, 1]) };
    assert.deepEqual(drawnDetections(d, ['a', 'b', 'c']), [
      { box: [1, 2, 3, 4], cls: 2, label: 'c 0.90' },
      { box: [9, 10, 11, 12], cls: 1, label: 'b 0.25' },
    ]);
  });

  it('writes val_batch0_labels.jpg and val_batch0_pred.jpg with each box where it belongs', async () => {
    // Two 400×400 grey images (2 px outlines): tiles of 400 px, 4 columns, so image i's pixel
    // (x, y) is at (10 + 410·i + x, 36 + 10 + y) in the grid (pad 10, title 36).
    const images: PlotImage[] = [
      { rgb: grey(400, 400), width: 400, height: 400, boxes: [{ box: [20, 30, 300, 310], cls: 3 }] },
      { rgb: grey(400, 400), width: 400, height: 400, boxes: [] },
    ];
    const predicted: DrawnBox[][] = [[], [{ box: [40, 40, 290, 320], cls: 11 }]];
    await writeValBatch(images, predicted, dir, 7);
    const read = async (name: string) => {
      const bytes = readFileSync(join(dir, name));
      assert.equal((await sharp(bytes).metadata()).format, 'jpeg', name);
      const { data, info } = await sharp(bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      return (x: number, y: number): number[] => [...data.subarray((y * info.width + x) * 3, (y * info.width + x) * 3 + 3)];
    };
    // JPEG blurs a 2 px line: its pixels are judged by the nearer of the two colours.
    const dist = (a: number[], b: number[]): number => Math.hypot(...a.map((v, i) => v - b[i]!));
    const near = (a: number[], colour: number[]): boolean => dist(a, colour) < dist(a, GREY);
    const untouched = (a: number[]): boolean => dist(a, GREY) <= 12;
    const at = (img: number, x: number, y: number): [number, number] => [10 + 410 * img + x, 46 + y];
    const labels = await read('val_batch0_labels.jpg');
    assert.ok(near(labels(...at(0, 20, 170)), hex(BOX_COLOURS[3])), `label box left edge ${labels(...at(0, 20, 170))}`);
    assert.ok(untouched(labels(...at(0, 160, 160))), 'inside the box untouched');
    assert.ok(untouched(labels(...at(1, 40, 180))), 'the second image has no label');
    const pred = await read('val_batch0_pred.jpg');
    assert.ok(near(pred(...at(1, 40, 180)), hex(BOX_COLOURS[11])), `predicted box left edge ${pred(...at(1, 40, 180))}`);
    assert.ok(untouched(pred(...at(0, 20, 170))), 'no prediction on the first image');
  });
});
