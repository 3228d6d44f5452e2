import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { apPerClass } from '../../src/metrics/index.js';
import { detectionConfusionPng, detectionConfusionSvg, f1CurvePng, f1CurveSvg, prCurvePng, prCurveSvg } from '../../src/plot/index.js';
import { checkPng, texts } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'kestrel-plot-detect-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// One class, 3 labels: TPs at .9503, .9502, .9501 and an FP at .2 (the case of test/metrics/detect.test.ts):
// Ultralytics AP50 0.995; F1 rises with confidence up to grid point 949 of 0..999 and is 0 from 950.
const one = apPerClass(Uint8Array.from([1, 1, 1, 0]), [0.9503, 0.9502, 0.9501, 0.2], [0, 0, 0, 0], [0, 0, 0], { iouThresholds: [0.5] });

/** `count` classes, class c with one label found by one detection of confidence (c + 1) / (count + 1). */
function many(count: number) {
  const conf = Array.from({ length: count }, (_, c) => (c + 1) / (count + 1));
  const cls = Array.from({ length: count }, (_, c) => c);
  return apPerClass(new Uint8Array(count).fill(1), conf, cls, cls, { iouThresholds: [0.5] });
}

describe('prCurvePng', () => {
  test('a named line per class with its AP50, and the mean labelled with mAP50', async () => {
    const svg = prCurveSvg(one, ['<cat>']);
    assert.deepEqual(texts(svg, 'title'), ['Precision-Recall Curve']);
    assert.deepEqual(texts(svg, 'legend'), ['&lt;cat&gt; 0.995', 'all classes 0.995 mAP@0.5']);
    assert.equal(svg.match(/<polyline /g)?.length, 2);
    assert.match(svg, /stroke-width="3"/);
    assert.deepEqual([texts(svg, 'xlabel'), texts(svg, 'ylabel')], [['Recall'], ['Precision']]);
    const path = join(dir, 'pr.png');
    await prCurvePng(one, ['cat'], path);
    await checkPng(path, 720, 560);
  });
  test('beyond 20 classes the class lines are grey and unnamed', () => {
    const svg = prCurveSvg(many(25), Array.from({ length: 25 }, (_, i) => `c${i}`));
    assert.deepEqual(texts(svg, 'legend'), ['all classes 0.995 mAP@0.5']);
    assert.equal(svg.match(/<polyline /g)?.length, 26);
    assert.equal(svg.match(/stroke="#b8b8b8"/g)?.length, 25);
    const few = prCurveSvg(many(20), Array.from({ length: 20 }, (_, i) => `c${i}`));
    assert.equal(texts(few, 'legend').length, 21);
  });
});

describe('f1CurvePng', () => {
  test('the mean is smoothed over 5% and labelled with its peak and where it is', async () => {
    // nf = round(1000·0.05·2) // 2 + 1 = 51: the 51-point average at k covers k−25 … k+25, so it
    // grows while k + 25 ≤ 949 and the peak is at k = 924, confidence 924/999 = 0.925; over that
    // window F1 = 2p/(1+p) runs from 0.9916 (p = .75 + .25·(.9 − .2)/.7501 at .9) to 1, so it prints 1.00
    const svg = f1CurveSvg(one, ['cat']);
    const legend = texts(svg, 'legend');
    assert.equal(legend[0], 'cat');
    assert.equal(legend[1], 'all classes 1.00 at 0.925');
    assert.deepEqual(texts(svg, 'title'), ['F1-Confidence Curve']);
    const path = join(dir, 'f1.png');
    await f1CurvePng(one, ['cat'], path);
    await checkPng(path, 720, 560);
  });
  test('no labels: an empty mean at 0', () => {
    const none = apPerClass(new Uint8Array(0), [], [], [], { iouThresholds: [0.5] });
    assert.deepEqual(texts(f1CurveSvg(none, []), 'legend'), ['all classes 0.00 at 0.000']);
    assert.deepEqual(texts(prCurveSvg(none, []), 'legend'), ['all classes 0.000 mAP@0.5']);
  });
});

describe('detectionConfusionPng', () => {
  test('the classes plus a background row and column', async () => {
    const cm = [[1, 1, 0], [0, 1, 0], [1, 0, 0]];
    const svg = await detectionConfusionSvg(cm, ['cat', 'dog']);
    assert.deepEqual(texts(svg, 'ylabel'), ['cat', 'dog', 'background']);
    const cells = [...svg.matchAll(/class="cell" data-true="(\d)" data-pred="(\d)"[^>]*>(\d+)</g)].map((m) => [Number(m[1]), Number(m[2]), Number(m[3])]);
    assert.deepEqual(cells.filter(([, , v]) => v! > 0), [[0, 0, 1], [0, 1, 1], [1, 1, 1], [2, 0, 1]]);
    const path = join(dir, 'cm.png');
    await detectionConfusionPng(cm, ['cat', 'dog'], path);
    await checkPng(path);
    await assert.rejects(detectionConfusionPng([[1]], ['cat'], path), /must be 2×2 for 1 classes and background/);
  });
});
