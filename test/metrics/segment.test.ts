import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { formatSegmentReport, SegmentConfusion, segmentMetrics } from '../../src/metrics/segment.js';
import { iouBarPng, iouBarSvg, segmentConfusionPng } from '../../src/plot/segment.js';
import { checkPng, texts } from '../plot/helpers.js';

/** One case of test/fixtures/segment_metrics.json (scikit-learn's answers, from gen_segment_metrics.py). */
interface SkCase {
  num_classes: number;
  images: { h: number; w: number; target: number[]; pred: number[] }[];
  confusion_matrix: number[][];
  iou: number[];
  dice: number[];
  present: number[];
  miou: number;
  mean_dice: number;
  pixel_accuracy: number;
}

const fixture = JSON.parse(readFileSync(fileURLToPath(new URL('../../../test/fixtures/segment_metrics.json', import.meta.url)), 'utf8')) as Record<string, SkCase>;

const TOL = 1e-9;
const close = (a: number, b: number, what: string): void => assert.ok(Math.abs(a - b) <= TOL, `${what}: ${a} vs sklearn ${b}`);

describe('segmentation metrics against scikit-learn', () => {
  for (const [name, c] of Object.entries(fixture)) {
    test(name, () => {
      const acc = new SegmentConfusion(c.num_classes);
      // Image by image, as a validator accumulates them: the sums are over the whole split.
      for (const im of c.images) acc.update(Uint8Array.from(im.target), Int32Array.from(im.pred));
      const m = acc.compute();
      assert.deepEqual(m.confusionMatrix, c.confusion_matrix);
      m.perClass.forEach((k, i) => {
        if (c.present.includes(i)) {
          close(k.iou!, c.iou[i]!, `${name} IoU ${i}`);
          close(k.dice!, c.dice[i]!, `${name} Dice ${i}`);
        } else {
          assert.equal(k.iou, null, `${name}: class ${i} is in neither, so it has no IoU`);
          assert.equal(k.dice, null);
        }
      });
      close(m.miou, c.miou, `${name} mIoU`);
      close(m.meanDice, c.mean_dice, `${name} mean Dice`);
      close(m.pixelAccuracy, c.pixel_accuracy, `${name} pixel accuracy`);
      assert.equal(m.present, c.present.length);
      assert.equal(m.pixels, c.images.reduce((n, im) => n + im.target.filter((v) => v !== 255).length, 0));
    });
  }

  test('the split is summed, not averaged per image: two images of different sizes', () => {
    const acc = new SegmentConfusion(2);
    acc.update([1, 1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1, 1]); // IoU of class 1: 1
    acc.update([1, 0], [0, 0]); // IoU of class 1: 0
    // 8 / (8 + 0 + 1) summed; the per-image mean would be 0.5.
    assert.equal(acc.compute().perClass[1]!.iou, 8 / 9);
    const other = new SegmentConfusion(2);
    other.update([0], [1]);
    acc.merge(other);
    assert.deepEqual(acc.matrix, [[1, 1], [1, 8]]);
  });

  test('ignore pixels are left out whatever is predicted there; bad values fail in one line', () => {
    const acc = new SegmentConfusion(3);
    acc.update(Uint8Array.of(0, 255, 2, 255), Uint8Array.of(0, 1, 2, 7));
    assert.deepEqual(acc.matrix, [[1, 0, 0], [0, 0, 0], [0, 0, 1]]);
    assert.throws(() => acc.update([3], [0]), /^RangeError: target\[0\] = 3 is neither a class in \[0, 3\) nor the ignore value 255$/);
    assert.throws(() => acc.update([0], [3]), /pred\[0\] = 3 is not a class/);
    assert.throws(() => acc.update([0, 1], [0]), /target has 2 pixels but pred has 1/);
    assert.throws(() => new SegmentConfusion(3, 1), /ignoreIndex 1 is one of the 3 classes/);
  });

  test('no pixel counted: means are 0, every class absent', () => {
    const m = segmentMetrics([[0, 0], [0, 0]], ['a', 'b']);
    assert.deepEqual([m.miou, m.meanDice, m.pixelAccuracy, m.present], [0, 0, 0, 0]);
    assert.ok(m.perClass.every((c) => c.iou === null));
  });

  test('the report prints each class, absent ones as -', () => {
    const m = segmentMetrics([[3, 1, 0], [0, 4, 0], [0, 0, 0]], ['bg', 'cell', 'rare']);
    const lines = formatSegmentReport(m).split('\n');
    assert.match(lines[1]!, /^bg\s+0\.7500\s+0\.8571\s+4\s+3$/);
    assert.match(lines[3]!, /^rare\s+-\s+-\s+0\s+0$/);
    assert.match(lines[4]!, /^mean\s+0\.7750\s+0\.8730\s+8\s+\(2 of 3 classes present\)$/);
    assert.equal(lines[5], 'pixel accuracy 0.8750');
  });
});

describe('segmentation plots', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kestrel-plot-seg-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('IoU bars: one per present class, sized by IoU, absent classes marked, mIoU dashed', async () => {
    const m = segmentMetrics([[3, 1, 0], [0, 4, 0], [0, 0, 0]], ['bg', 'cell', 'rare']);
    const svg = iouBarSvg(m.perClass, { miou: m.miou });
    const widths = [...svg.matchAll(/<rect class="bar" data-class="(\d)" x="[\d.]+" y="[\d.]+" width="([\d.]+)"/g)].map((r) => [Number(r[1]), Number(r[2])]);
    assert.deepEqual(widths, [[0, 315], [1, 336]], 'IoU 0.75 and 0.8 of a 420 px axis');
    assert.deepEqual(texts(svg, 'value'), ['0.750', '0.800', 'absent']);
    assert.deepEqual(texts(svg, 'title'), ['IoU per class (mIoU 0.775)']);
    assert.equal(svg.match(/<rect class="dice"/g)?.length, 2);
    const path = join(dir, 'iou.png');
    await iouBarPng(m.perClass, path);
    await checkPng(path);
  });

  test('the pixel confusion matrix is drawn row-normalised', async () => {
    const path = join(dir, 'cm.png');
    await segmentConfusionPng([[900000, 100000], [5, 15]], ['background', 'lesion'], path);
    const img = await checkPng(path);
    assert.ok(img.width > 200 && img.height > 200);
  });
});
