// DetectionMetrics: a hand-built two-image dataset, and the official COCO cases, where the same
// matching integrated by COCO's rule must give COCOeval's numbers.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  DetectionMetrics, cocoEvaluate, formatDetectionSummary, xywhToXyxy, type CocoDataset, type CocoDetection, type DetectionSummary,
} from '../../src/metrics/index.js';

const close = (actual: number, expected: number, tol: number, what: string): void =>
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} vs ${expected} (diff ${actual - expected})`);

describe('DetectionMetrics on a hand-built dataset', () => {
  // image 1: cat [0,0,10,10] and dog [20,0,30,10], each found exactly (.9 cat, .8 dog);
  // image 2: cat [0,0,10,10]; a cat box on nothing (.7) and a dog box on the cat (.6).
  const m = new DetectionMetrics(['cat', 'dog']);
  m.update({ boxes: [0, 0, 10, 10, 20, 0, 30, 10], scores: [0.9, 0.8], classes: [0, 1] }, { boxes: [0, 0, 10, 10, 20, 0, 30, 10], classes: [0, 1] });
  m.update({ boxes: [50, 50, 60, 60, 0, 0, 10, 10], scores: [0.7, 0.6], classes: [0, 1] }, { boxes: [0, 0, 10, 10], classes: [0] });
  const s = m.summary();

  test('AP per class at every IoU (all matches have IoU 1)', () => {
    // cat: 2 labels, TP then FP: recall .5, .5; precision 1, .5. Envelope knots (0,1) (.5,1) (.5,.5) (1,0):
    // 1 below .5, .5 at .5, then a line down to 0 at 1: 49·.01 + (1+.5)/2·.01 + .5·.5/2 = .6225
    // dog: 1 label, TP then FP: knots (0,1) (1,1) (1,.5) (1,0): 1 below recall 1, 0 at 1: .995
    assert.deepEqual(s.perClass.map((r) => [r.name, r.images, r.instances]), [['cat', 2, 2], ['dog', 1, 1]]);
    close(s.perClass[0]!.ap50, 0.6225, 1e-12, 'cat AP50');
    close(s.perClass[0]!.ap50_95, 0.6225, 1e-12, 'cat AP50-95');
    close(s.perClass[1]!.ap50_95, 0.995, 1e-12, 'dog AP50-95');
    close(s.map50, (0.6225 + 0.995) / 2, 1e-12, 'mAP50');
    close(s.map75, s.map50, 1e-15, 'mAP75');
    close(s.fitness, 0.1 * s.map50 + 0.9 * s.map50_95, 1e-15, 'fitness');
    assert.deepEqual([s.images, s.instances], [2, 3]);
  });

  test('precision and recall are the curves read at the best-F1 confidence', () => {
    const i = s.curves.bestIndex;
    s.perClass.forEach((r, c) => {
      assert.equal(r.precision, s.curves.pCurve[c]![i]);
      assert.equal(r.recall, s.curves.rCurve[c]![i]);
    });
    close(s.precision, (s.perClass[0]!.precision + s.perClass[1]!.precision) / 2, 1e-15, 'mean P');
  });

  test('confusion matrix: both found in image 1; in image 2 the cat read as dog and a cat box on background', () => {
    assert.deepEqual(s.confusionMatrix, [[1, 1, 0], [0, 1, 0], [1, 0, 0]]);
  });

  test('formatDetectionSummary prints an all row and a row per class', () => {
    const lines = formatDetectionSummary(s).split('\n');
    assert.equal(lines[0], 'Class     Images  Instances          P          R      mAP50   mAP50-95');
    assert.match(lines[1]!, /^ {2}all {10}2 {10}3 {6}0\.\d{3} {6}[01]\.\d{3} {6}0\.809 {6}0\.809$/);
    assert.match(lines[3]!, /^ {2}dog {10}1 {10}1 .* 0\.995 {6}0\.995$/);
    assert.equal(lines.length, 4);
  });

  test('a label class outside the names is an error', () => {
    assert.throws(() => new DetectionMetrics(['cat']).update({ boxes: [], scores: [], classes: [] }, { boxes: [0, 0, 1, 1], classes: [1] }), /label class 1 is not in \[0, 1\)/);
  });
});

/** Feeds a COCO case to DetectionMetrics image by image (ascending id, as COCOeval merges ties). */
function summarise(name: string, apMethod: 'coco' | 'ultralytics'): { s: DetectionSummary; stats: number[]; perClass: number[]; ids: number[] } {
  const dir = fileURLToPath(new URL(`../../../test/fixtures/coco-eval/${name}/`, import.meta.url));
  const gt = JSON.parse(readFileSync(`${dir}gt.json`, 'utf8')) as CocoDataset;
  const dt = JSON.parse(readFileSync(`${dir}dt.json`, 'utf8')) as CocoDetection[];
  const ids = gt.categories.map((c) => c.id).sort((a, b) => a - b);
  const index = new Map(ids.map((id, i) => [id, i]));
  const m = new DetectionMetrics(ids.map(String), { apMethod });
  for (const img of [...gt.images].sort((a, b) => a.id - b.id)) {
    const g = gt.annotations.filter((a) => a.image_id === img.id);
    const d = dt.filter((a) => a.image_id === img.id && index.has(a.category_id));
    m.update(
      { boxes: xywhToXyxy(d.flatMap((a) => a.bbox)), scores: d.map((a) => a.score), classes: d.map((a) => index.get(a.category_id)!) },
      { boxes: xywhToXyxy(g.flatMap((a) => a.bbox)), classes: g.map((a) => index.get(a.category_id)!) },
    );
  }
  const r = cocoEvaluate(gt, dt);
  return { s: m.summary(), stats: r.stats, perClass: r.perClass.map((c) => c.ap), ids };
}

describe('the same matching as COCOeval (official cases without crowds or >100 detections per image and class)', () => {
  const cases = ['case-01', 'case-04', 'case-05', 'case-06', 'case-07', 'case-08', 'case-09', 'case-12', 'case-13', 'case-14', 'case-16'];
  for (const name of cases) {
    test(`${name}: COCO's rule gives COCO's AP; Ultralytics' rule is never 0.005 below it`, () => {
      const coco = summarise(name, 'coco');
      // Identical matching and ranking, so only rounding separates them (1e-15 seen). A class without
      // labels is -1 in COCO and absent here; area ranges do not enter AP over all areas.
      close(coco.s.map50_95, coco.stats[0]!, 1e-12, 'mAP50-95 vs stats[0]');
      close(coco.s.map50, coco.stats[1]!, 1e-12, 'mAP50 vs stats[1]');
      close(coco.s.map75, coco.stats[2]!, 1e-12, 'mAP75 vs stats[2]');
      for (const row of coco.s.perClass) close(row.ap50_95, coco.perClass[row.index]!, 1e-12, `AP of category ${coco.ids[row.index]}`);
      assert.equal(coco.s.perClass.length, coco.perClass.filter((ap) => ap > -1).length);
      // Ultralytics interpolates linearly between ranks (at or above COCO's step) and on to
      // (recall 1, precision 0), then integrates with trapezoids whose end points weigh half: at
      // most 0.005 lower (the last point's half weight; a perfect detector scores 0.995), and higher
      // by up to p·(1 − r)/2 when recall stops at r short of 1 — on these cases by 0 to 0.083.
      const ultra = summarise(name, 'ultralytics');
      assert.ok(ultra.s.map50_95 >= coco.stats[0]! - 0.005 - 1e-12, `${ultra.s.map50_95} vs COCO ${coco.stats[0]}`);
    });
  }
  test('case-01 (perfect): COCO 1, Ultralytics 0.995; case-12: Ultralytics is 0.0561 higher', () => {
    close(summarise('case-01', 'ultralytics').s.map50_95, 0.995, 1e-12, 'case-01');
    const u = summarise('case-12', 'ultralytics');
    close(u.s.map50_95 - u.stats[0]!, 0.0561, 1e-4, 'case-12 difference');
  });
});
