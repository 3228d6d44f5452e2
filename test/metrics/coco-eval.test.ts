// cocoEvaluate against the official COCO evaluation: test/fixtures/coco-eval/case-NN holds gt.json,
// dt.json and expected.json, the output of pycocotools' COCOeval (bbox, default params) on them
// (copied from shared/fixtures/coco-eval; its README.md lists what each case exercises).
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { cocoEvaluate, formatCocoStats, type CocoDataset, type CocoDetection } from '../../src/metrics/index.js';

const DIR = fileURLToPath(new URL('../../../test/fixtures/coco-eval/', import.meta.url));
const read = <X>(path: string): X => JSON.parse(readFileSync(`${DIR}${path}`, 'utf8')) as X;
const cases = readdirSync(DIR).filter((d) => d.startsWith('case-')).sort();
const TOL = 1e-6;

describe('cocoEvaluate reproduces pycocotools COCOeval (test/fixtures/coco-eval)', () => {
  test('all 16 cases are there', () => assert.equal(cases.length, 16));
  for (const name of cases) {
    test(name, () => {
      const gt = read<CocoDataset>(`${name}/gt.json`);
      const dt = read<CocoDetection[]>(`${name}/dt.json`);
      const expected = read<{ stats: number[]; per_class_ap: Record<string, number> }>(`${name}/expected.json`);
      const r = cocoEvaluate(gt, dt);
      assert.equal(r.stats.length, 12);
      r.stats.forEach((v, i) => assert.ok(Math.abs(v - expected.stats[i]!) <= TOL, `${name} stats[${i}]: ${v} vs pycocotools ${expected.stats[i]}`));
      assert.deepEqual(r.perClass.map((c) => String(c.id)), Object.keys(expected.per_class_ap).sort((a, b) => Number(a) - Number(b)));
      for (const c of r.perClass) {
        const want = expected.per_class_ap[String(c.id)]!;
        assert.ok(Math.abs(c.ap - want) <= TOL, `${name} AP of category ${c.id}: ${c.ap} vs pycocotools ${want}`);
      }
    });
  }
});

describe('cocoEvaluate', () => {
  const gt: CocoDataset = {
    images: [{ id: 1 }],
    annotations: [{ id: 1, image_id: 1, category_id: 7, bbox: [0, 0, 10, 10], area: 100, iscrowd: 0 }],
    categories: [{ id: 7, name: 'kite' }],
  };
  test('a detection on an unknown image is an error; unknown categories are ignored', () => {
    assert.throws(() => cocoEvaluate(gt, [{ image_id: 2, category_id: 7, bbox: [0, 0, 1, 1], score: 1 }]), /image_id 2/);
    const r = cocoEvaluate(gt, [{ image_id: 1, category_id: 7, bbox: [0, 0, 10, 10], score: 1 }, { image_id: 1, category_id: 3, bbox: [50, 50, 10, 10], score: 1 }]);
    assert.deepEqual(r.perClass.map((c) => [c.id, c.name]), [[7, 'kite']]);
    // precision 1 / (1 + np.spacing(1)) as pycocotools computes it
    assert.ok(Math.abs(r.perClass[0]!.ap - 1) < 1e-15);
  });
  test('a ground truth with id 0 reads as unmatched, as in pycocotools', () => {
    const zero = { ...gt, annotations: [{ ...gt.annotations[0]!, id: 0 }] };
    // the one detection counts as a false positive: precision 0 everywhere
    assert.equal(cocoEvaluate(zero, [{ image_id: 1, category_id: 7, bbox: [0, 0, 10, 10], score: 1 }]).stats[0], 0);
  });
  test('the area field decides the area range; w·h stands in when it is missing', () => {
    const hit = [{ image_id: 1, category_id: 7, bbox: [0, 0, 10, 10], score: 1 }];
    // area 100 ≤ 32²: small (stats[3]); no medium or large ground truth: -1 there
    const { area: _area, ...noArea } = gt.annotations[0]!;
    assert.deepEqual(cocoEvaluate({ ...gt, annotations: [noArea] }, hit).stats.slice(3, 6).map(Math.round), [1, -1, -1]);
    // the same box declared 10000 (≥ 96²): large, and small has no ground truth left (-1)
    const large = cocoEvaluate({ ...gt, annotations: [{ ...gt.annotations[0]!, area: 10000 }] }, hit).stats;
    assert.deepEqual(large.slice(3, 6).map(Math.round), [-1, -1, 1]);
  });
  test('formatCocoStats prints what COCOeval.summarize() prints', () => {
    const lines = formatCocoStats([0.37, 0.6856, 0.3731, -1, 0.3648, 0.3644, 0.409, 0.442, 0.442, 0.6, 0.4206, 0.4015]).split('\n');
    assert.equal(lines.length, 12);
    assert.equal(lines[0], ' Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.370');
    assert.equal(lines[3], ' Average Precision  (AP) @[ IoU=0.50:0.95 | area= small | maxDets=100 ] = -1.000');
    assert.equal(lines[1], ' Average Precision  (AP) @[ IoU=0.50      | area=   all | maxDets=100 ] = 0.686');
    assert.equal(lines[6], ' Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets=  1 ] = 0.409');
    assert.equal(lines[11], ' Average Recall     (AR) @[ IoU=0.50:0.95 | area= large | maxDets=100 ] = 0.402');
    assert.throws(() => formatCocoStats([1, 2]), /expected the 12 COCO stats, got 2/);
  });
});
