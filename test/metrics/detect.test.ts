// Detection metrics on hand-built cases; each expected value is derived in the comment beside it.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  RECALL_THRESHOLDS, addToDetectionConfusion, apPerClass, boxIou, cocoAp, cxcywhToXyxy, detectionConfusion, interp, linspace,
  matchDetections, smooth, trapz, ultralyticsAp, xywhToXyxy, xyxyToXywh,
} from '../../src/metrics/index.js';

const close = (actual: number, expected: number, tol: number, what: string): void =>
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} vs ${expected}`);

describe('boxes', () => {
  test('boxIou: overlap, disjoint, zero-area pairs', () => {
    // [0,0,2,2] ∩ [1,0,3,2] = 1×2 = 2; union 4 + 4 − 2 = 6
    assert.deepEqual([...boxIou([0, 0, 2, 2], [1, 0, 3, 2, 5, 5, 6, 6, 0, 0, 2, 2])], [1 / 3, 0, 1]);
    assert.deepEqual([...boxIou([1, 1, 1, 1], [1, 1, 1, 1])], [0], 'two zero-area boxes: 0, not NaN');
    assert.equal(boxIou([0, 0, 2, 2, 0, 0, 1, 1], [0, 0, 1, 2, 5, 5, 6, 6, 0, 0, 2, 1]).length, 6);
    assert.throws(() => boxIou([0, 0, 1], []), /not a multiple of 4/);
  });
  test('xywh (top-left) and cxcywh to xyxy and back', () => {
    assert.deepEqual([...xywhToXyxy([10, 20, 5, 6])], [10, 20, 15, 26]);
    assert.deepEqual([...xyxyToXywh([10, 20, 15, 26])], [10, 20, 5, 6]);
    assert.deepEqual([...cxcywhToXyxy([10, 10, 4, 2])], [8, 9, 12, 11]);
  });
});

describe('numpy pieces', () => {
  test('linspace is numpy\'s: ten of COCO\'s 101 recall thresholds are not i / 100', () => {
    assert.equal(RECALL_THRESHOLDS[35], 0.35000000000000003);
    assert.equal(RECALL_THRESHOLDS.filter((r, i) => r !== i / 100).length, 10);
    assert.deepEqual(linspace(0.5, 0.95, 10).slice(8), [0.8999999999999999, 0.95]);
  });
  test('interp: a repeated knot takes the last value; left and right default to the end values', () => {
    // xp 0,1,1,2 → fp 0,10,20,30: 0.5 halfway on the first piece, 1 the last knot at 1, 1.5 halfway from 20 to 30
    assert.deepEqual([...interp([0, 0.5, 1, 1.5, -1, 3], [0, 1, 1, 2], [0, 10, 20, 30])], [0, 5, 20, 25, 0, 30]);
    assert.deepEqual([...interp([-1, 3], [0, 1, 1, 2], [0, 10, 20, 30], 7, 9)], [7, 9]);
  });
  test('smooth: a 3-point box for 20 values at f = 0.1, ends padded with the end values', () => {
    // nf = round(20·0.1·2) // 2 + 1 = 3: y[0] = 3 gives (3+3+0)/3 and (3+0+0)/3; y[10] = 6 spreads 2, 2, 2
    const y = new Array<number>(20).fill(0);
    y[0] = 3;
    y[10] = 6;
    const want = [2, 1, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0];
    [...smooth(y, 0.1)].forEach((v, i) => close(v, want[i]!, 1e-15, `smooth[${i}]`));
    // 10 values: nf = 2 is even, so numpy's 'valid' output is one longer
    assert.equal(smooth(Array.from({ length: 10 }, (_, i) => i), 0.1).length, 11);
  });
  test('trapz', () => assert.equal(trapz([0, 1, 1], [0, 1, 3]), 0.5 + 2));
});

describe('AP: COCO 101-point and Ultralytics interpolated', () => {
  // One class, 4 labels; detections by score are TP, FP, TP, TP, FP:
  // recall 1/4, 1/4, 2/4, 3/4, 3/4; precision 1, 1/2, 2/3, 3/4, 3/5; envelope 1, .75, .75, .75, .6.
  const recall = [0.25, 0.25, 0.5, 0.75, 0.75];
  const precision = [1, 0.5, 2 / 3, 0.75, 0.6];
  test('cocoAp: 26 thresholds ≤ 0.25 read 1, the 50 in (0.25, 0.75] read .75, the 25 above read 0', () => {
    close(cocoAp(recall, precision), (26 + 50 * 0.75) / 101, 1e-15, 'AP');
  });
  test('ultralyticsAp: the envelope with (0, 1) and (1, 0) added, interpolated and integrated', () => {
    // f = 1 on [0, .25), .75 from .25 to .75 (at .25 the last knot's .75), .6 at .75, then a line to 0 at 1.
    // Trapezoids: 24·.01 + (1+.75)/2·.01 + 49·.75·.01 + (.75+.6)/2·.01 + .25·.6/2 = .698
    close(ultralyticsAp(recall, precision).ap, 0.698, 1e-12, 'AP');
    // a perfect detector: the envelope drops to 0 at recall 1, so the last trapezoid is half: 0.995
    close(ultralyticsAp([1], [1]).ap, 0.995, 1e-12, 'perfect AP');
    close(cocoAp([1], [1]), 1, 0, 'perfect COCO AP');
  });
});

describe('matchDetections (COCO greedy: highest score first, best IoU among free labels of its class)', () => {
  // labels: A [0,0,10,10] class 0, B [20,0,30,10] class 0, C [0,0,10,10] class 1
  const gt = { boxes: [0, 0, 10, 10, 20, 0, 30, 10, 0, 0, 10, 10], classes: [0, 0, 1] };
  const pred = {
    boxes: [
      0, 0, 10, 8, // d0 .9 class 0: IoU(A) = 80/100 → A at .5 and .75
      0, 0, 10, 10, // d1 .8 class 0: IoU(A) = 1 but A is taken; IoU(B) = 0 → FP (IoU-first matching would give A to d1)
      21, 0, 30, 10, // d2 .7 class 0: IoU(B) = 90/100 → B
      0, 0, 10, 10, // d3 .6 class 2: no label of class 2
      0, 0, 10, 6, // d4 .5 class 1: IoU(C) = .6 → C at .5, not at .75
    ],
    scores: [0.9, 0.8, 0.7, 0.6, 0.5],
    classes: [0, 0, 0, 2, 1],
  };
  test('at IoU .5 and .75', () => {
    assert.deepEqual([...matchDetections(pred, gt, [0.5, 0.75])], [1, 1, 0, 0, 1, 1, 0, 0, 1, 0]);
  });
  test('score order, not input order, decides', () => {
    const swapped = { ...pred, scores: [0.8, 0.9, 0.7, 0.6, 0.5] };
    assert.deepEqual([...matchDetections(swapped, gt, [0.5])], [0, 1, 1, 0, 1]);
  });
  test('empty sides and bad lengths', () => {
    assert.deepEqual([...matchDetections({ boxes: [], scores: [], classes: [] }, gt, [0.5])], []);
    assert.deepEqual([...matchDetections(pred, { boxes: [], classes: [] }, [0.5])], [0, 0, 0, 0, 0]);
    assert.throws(() => matchDetections({ boxes: [0, 0, 1, 1], scores: [], classes: [0] }, gt), /1 detection boxes but 0 scores/);
  });
});

describe('apPerClass (Ultralytics ap_per_class)', () => {
  test('AP per class and per threshold, classes with labels only', () => {
    // class 0 is the TP, FP, TP, TP, FP case above (confidences .9 … .5); class 1 has one label and one TP;
    // class 2 is predicted but has no label: not reported
    const conf = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3];
    const cls = [0, 0, 0, 0, 0, 1, 2];
    const tp = Uint8Array.from([1, 0, 1, 1, 0, 1, 0]);
    const r = apPerClass(tp, conf, cls, [0, 0, 0, 0, 1], { iouThresholds: [0.5] });
    assert.deepEqual(r.classes, [0, 1]);
    assert.deepEqual(r.instances, [4, 1]);
    close(r.ap[0]![0]!, 0.698, 1e-12, 'class 0');
    close(r.ap[1]![0]!, 0.995, 1e-12, 'class 1');
    const coco = apPerClass(tp, conf, cls, [0, 0, 0, 0, 1], { iouThresholds: [0.5], apMethod: 'coco' });
    close(coco.ap[0]![0]!, 63.5 / 101, 1e-15, 'class 0, COCO rule');
    close(coco.ap[1]![0]!, 1, 0, 'class 1, COCO rule');
  });

  test('precision and recall at the peak of the smoothed mean F1', () => {
    // One class, 3 labels: TPs at .9503, .9502, .9501, an FP at .2. Over the 1000 confidences i/999:
    // above .9503 recall is 0 (F1 0): i ≥ 950. For .2 ≤ x ≤ .9501 recall is 1 and precision falls
    // linearly from 1 (at .9501) to 3/4 (at .2), so F1 rises with i up to i = 949.
    // The 101-point box average at k covers i = k−50 … k+50; it grows while k+50 ≤ 949 and loses
    // from k = 900 on (f1[950] = 0 enters): the peak is k = 899, confidence 899/999.
    const r = apPerClass(Uint8Array.from([1, 1, 1, 0]), [0.9503, 0.9502, 0.9501, 0.2], [0, 0, 0, 0], [0, 0, 0], { iouThresholds: [0.5] });
    assert.equal(r.bestIndex, 899);
    assert.equal(r.bestConf, 899 / 999);
    const x = 899 / 999;
    close(r.precision[0]!, 0.75 + ((x - 0.2) / (0.9501 - 0.2)) * 0.25, 1e-12, 'precision');
    close(r.recall[0]!, 1, 1e-12, 'recall');
    close(r.f1[0]!, (2 * r.precision[0]!) / (r.precision[0]! + 1), 1e-12, 'f1');
    assert.deepEqual([r.tp[0], r.fp[0]], [3, 0], 'round(1 · 3) and round(3 / p − 3) = round(0.05)');
    // the curve ends: confidence 0 (below every detection) reads the last rank, 1 (above all) the left values
    close(r.pCurve[0]![0]!, 0.75, 0, 'p at conf 0');
    close(r.rCurve[0]![0]!, 1, 1e-15, 'r at conf 0');
    assert.deepEqual([r.pCurve[0]![999], r.rCurve[0]![999]], [1, 0]);
    // PR curve (envelope 1 up to recall 1 then 0): 1 at every recall below 1, 0 at 1
    assert.deepEqual([r.prCurve[0]![0], r.prCurve[0]![998], r.prCurve[0]![999]], [1, 1, 0]);
  });

  test('a class with labels but no detections scores 0 everywhere; no labels gives empty results', () => {
    const r = apPerClass(Uint8Array.from([1]), [0.9], [0], [0, 1], { iouThresholds: [0.5] });
    assert.deepEqual(r.classes, [0, 1]);
    assert.deepEqual([r.ap[1]![0], r.precision[1], r.recall[1]], [0, 0, 0]);
    const none = apPerClass(new Uint8Array(0), [], [], []);
    assert.deepEqual([none.classes, none.ap, none.precision], [[], [], []]);
    assert.throws(() => apPerClass(new Uint8Array(3), [0.5], [0], [0]), /3 flags for 1 detections × 10 thresholds/);
  });
});

describe('detection confusion matrix (Ultralytics process_batch; rows true, columns predicted, last background)', () => {
  test('correct, confused, missed, spurious and duplicate detections', () => {
    const cm = detectionConfusion(2);
    addToDetectionConfusion(cm, {
      boxes: [
        0, 0, 10, 10, // .9 class 0 on A (class 0), IoU 1: correct → cm[0][0]
        20, 0, 30, 10, // .8 class 0 on B (class 1), IoU 1: confused → cm[1][0]
        60, 0, 70, 10, // .7 class 1 on nothing → background row cm[2][1]
        40, 0, 50, 10, // .2 class 1 on C: below conf .25, dropped → C missed, cm[1][2]
        0, 0, 10, 9, // .6 class 0 on A with IoU .9, but A's best is the first → background row cm[2][0]
      ],
      scores: [0.9, 0.8, 0.7, 0.2, 0.6],
      classes: [0, 0, 1, 1, 0],
    }, { boxes: [0, 0, 10, 10, 20, 0, 30, 10, 40, 0, 50, 10], classes: [0, 1, 1] });
    assert.deepEqual(cm, [[1, 0, 0], [1, 0, 1], [1, 1, 0]]);
  });
  test('thresholds are strict: IoU exactly .45 and confidence exactly .25 do not count', () => {
    const cm = detectionConfusion(1);
    // [0,0,4.5,10] in [0,0,10,10]: IoU 45/100
    addToDetectionConfusion(cm, { boxes: [0, 0, 4.5, 10, 0, 0, 10, 10], scores: [0.9, 0.25], classes: [0, 0] }, { boxes: [0, 0, 10, 10], classes: [0] });
    assert.deepEqual(cm, [[0, 1], [1, 0]]);
  });
  test('images without labels or without detections', () => {
    const cm = detectionConfusion(2);
    addToDetectionConfusion(cm, { boxes: [0, 0, 5, 5], scores: [0.5], classes: [1] }, { boxes: [], classes: [] });
    addToDetectionConfusion(cm, { boxes: [], scores: [], classes: [] }, { boxes: [0, 0, 5, 5], classes: [0] });
    assert.deepEqual(cm, [[0, 0, 1], [0, 0, 0], [0, 1, 0]]);
    assert.throws(() => addToDetectionConfusion(cm, { boxes: [0, 0, 5, 5], scores: [0.5], classes: [2] }, { boxes: [], classes: [] }), /detection class 2 is not in \[0, 2\)/);
  });
});
