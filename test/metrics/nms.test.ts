// NMS against torchvision.ops.batched_nms (test/fixtures/nms.json, written by
// test/fixtures/gen_nms.py). Plain JSON reading: the metrics need no libtorch.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { NMS_PREDICT, NMS_VAL, nms } from '../../src/metrics/index.js';

interface Enc { shape: number[]; data: number[] }
interface NmsCase {
  boxes: Enc;
  scores: Enc;
  classes: Enc;
  keep: Enc;
  args: { conf: number; iou: number; max_det: number; agnostic: boolean };
}

const fixture = JSON.parse(
  readFileSync(fileURLToPath(new URL('../../../test/fixtures/nms.json', import.meta.url)), 'utf8'),
) as Record<string, NmsCase>;

describe('nms agrees with torchvision batched_nms (test/fixtures/nms.json)', () => {
  for (const [name, c] of Object.entries(fixture)) {
    test(name, () => {
      const scores = Float32Array.from(c.scores.data);
      const keep = nms(Float32Array.from(c.boxes.data), scores, c.classes.data, {
        conf: c.args.conf, iou: c.args.iou, maxDet: c.args.max_det, agnostic: c.args.agnostic,
      });
      // torchvision's per-class path orders equal scores arbitrarily: compare the sets, then our order
      assert.deepEqual([...keep].sort((a, b) => a - b), [...c.keep.data].sort((a, b) => a - b));
      for (let k = 1; k < keep.length; k++) {
        const [a, b] = [keep[k - 1]!, keep[k]!];
        assert.ok(scores[a]! > scores[b]! || (scores[a] === scores[b] && a < b), `${name}: order at ${k}`);
      }
    });
  }

  test('the fixture exercises what it claims', () => {
    const ties = fixture['ties']!;
    assert.ok(new Set(ties.scores.data).size <= 11, 'scores rounded to 0.1');
    const many = fixture['many_classes']!;
    assert.equal(many.keep.data.length, 300, 'max_det cuts the result');
    const edge = fixture['threshold_edge']!;
    const kept = edge.keep.data.filter((i) => i >= 40).length;
    assert.ok(kept > 0 && kept < 40, `some shifted boxes survive, some not (${kept})`);
    const zero = fixture['zero_area']!.boxes.data;
    assert.equal(zero[2], zero[0], 'box 0 has zero width');
  });
});

describe('nms', () => {
  // boxes 0 and 1 overlap with IoU 81/100 = 0.81; box 2 is box 0 in another class
  const boxes = new Float32Array([0, 0, 10, 10, 1, 1, 10, 10, 0, 0, 10, 10, 50, 50, 60, 60]);
  const scores = new Float32Array([0.9, 0.95, 0.7, 0.2]);
  test('suppresses within a class only, keeps score order, applies conf strictly', () => {
    assert.deepEqual([...nms(boxes, scores, [0, 0, 1, 0], { iou: 0.8 })], [1, 2]);
    assert.deepEqual([...nms(boxes, scores, [0, 0, 1, 0], { iou: 0.82 })], [1, 0, 2]);
    assert.deepEqual([...nms(boxes, scores, [0, 0, 1, 0], { iou: 0.8, conf: 0.001 })], [1, 2, 3]);
    assert.deepEqual([...nms(boxes, scores, [0, 0, 1, 0], { iou: 0.8, conf: 0.9 })], [1]);
  });
  test('agnostic suppresses across classes; maxDet keeps the best', () => {
    assert.deepEqual([...nms(boxes, scores, [0, 0, 1, 0], { iou: 0.8, conf: 0, agnostic: true })], [1, 3]);
    assert.deepEqual([...nms(boxes, scores, [0, 0, 1, 0], { iou: 0.82, conf: 0, maxDet: 2 })], [1, 0]);
    assert.deepEqual([...nms(boxes, scores, [0, 0, 1, 0], { maxDet: 0 })], []);
  });
  test('presets are Ultralytics defaults', () => {
    assert.deepEqual({ ...NMS_PREDICT }, { conf: 0.25, iou: 0.7, maxDet: 300, agnostic: false });
    assert.deepEqual({ ...NMS_VAL }, { conf: 0.001, iou: 0.7, maxDet: 300, agnostic: false });
  });
  test('one-line errors for mismatched inputs', () => {
    assert.throws(() => nms([0, 0, 1], [1], [0]), /not a multiple of 4/);
    assert.throws(() => nms(boxes, [1], [0, 0, 0, 0]), /4 boxes but 1 scores/);
    assert.throws(() => nms(boxes, scores, [0]), /4 boxes but 1 classes/);
    assert.throws(() => nms(boxes, scores, [0, 0, 0, 0], { iou: 1.5 }), /iou must be in \[0, 1\]/);
  });
});
