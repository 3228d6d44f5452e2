// Detection in the web UI, in Debian's Chromium: the runs page shows a real (tiny) detection run
// with its task, mAP and loss curves, PR curve, confusion matrix and validation images with the
// labels beside the predictions; the predict page draws a detector's boxes over the image at the
// size it is shown, per class colour, with a score threshold. The server's side of detection is
// mocked here (route interception): /v1/models names a detector, /v1/predict answers boxes, and
// the model's .onnx is a graph whose output is a fixed decoded tensor, so the boxes the browser
// finds are known by hand (through the letterbox, NMS and the way back).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { Page } from 'playwright-core';
import sharp from 'sharp';
import { readSafetensorsHeader } from '../../src/checkpoint/index.js';
import { OnnxGraph } from '../../src/onnx/graph.js';
import { encodeModel } from '../../src/onnx/proto.js';
import { BOX_COLOURS, type PredictedBox } from '../../src/plot/index.js';
import type { ModelInfo } from '../../src/serve/index.js';
import { createUiServer } from '../../src/ui/index.js';
import { tempDir } from '../data/make-images.js';
import { launch, screenshot, skipReason, type Browser } from './browser.js';

const CLI = join(process.cwd(), 'dist/src/cli/main.js');
const UI_DIR = join(process.cwd(), 'dist/ui');
const skip = skipReason();

const NAMES = ['cat', 'dog'];
/** A detector of 64×64 letterboxed RGB inputs, as the contract of an exported one reads. */
const MODEL: ModelInfo = {
  id: 'default', task: 'detect', names: NAMES, imgsz: [64, 64], channels: 3, mean: [0, 0, 0], std: [1, 1, 1],
  transforms: [{ op: 'letterbox', size: [64, 64] }], output: 'probs', precision: 'fp32', onnx: '/v1/models/default/model.onnx',
};

/**
 * The decoded output [1, 4 + 2, 4] the fake detector always gives: per anchor cx, cy, w, h in
 * input pixels, then the cat and dog scores.
 */
const ANCHORS = [
  [32, 32, 20, 10, 0.9, 0.1], // cat 0.9
  [33, 32, 20, 10, 0.8, 0.05], // the same cat again: IoU 0.905 with the first, NMS drops it
  [10, 40, 8, 8, 0.05, 0.6], // dog 0.6
  [50, 30, 10, 6, 0.3, 0.02], // cat 0.3
];
/**
 * What the browser must find on a 128×64 image: the letterbox to 64×64 scales by 0.5 and pads 16
 * rows on top, so input (x, y) is original (2x, 2(y − 16)); best first, at scores ≥ 0.25.
 */
const EXPECTED: PredictedBox[] = [
  { label: 'cat', class: 0, score: 0.9, box: [44, 22, 84, 42] },
  { label: 'dog', class: 1, score: 0.6, box: [12, 40, 28, 56] },
  { label: 'cat', class: 0, score: 0.3, box: [90, 22, 110, 34] },
];

function fakeDetector(): Uint8Array {
  const g = new OnnxGraph({ opset: 13 });
  const x = g.input('images', [1, 3, 64, 64]);
  const zero = g.op('Mul', [g.op('ReduceMean', [x], { axes: [1, 2, 3], keepdims: 0 }), g.scalar(0)]);
  const data = Array.from({ length: 6 }, (_, row) => ANCHORS.map((a) => a[row]!)).flat();
  g.output(g.op('Add', [zero, g.floats(data, [1, 6, ANCHORS.length], 'decoded')]), 'output0');
  return encodeModel({ irVersion: 8, opsetImport: [{ domain: '', version: 13 }], producerName: 'kestrel-test', graph: g.graph('fake_detector') });
}

describe('detection in the web UI (Chromium)', { skip: skip ?? false }, () => {
  const tmp = tempDir('ui-browser-detect');
  const image = join(tmp.dir, 'street.png');
  let app: FastifyInstance;
  let url: string;
  let browser: Browser;
  const pageErrors: string[] = [];
  const predictCalls: string[] = [];

  before(async () => {
    if (!existsSync(join(UI_DIR, 'index.html'))) throw new Error(`${UI_DIR}/index.html is missing: run npm run build (it builds the UI bundle)`);
    const run = (...args: string[]): void => {
      const r = spawnSync(process.execPath, [CLI, ...args], { cwd: tmp.dir, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
    };
    run('data', 'synth', '--task', 'detect', '--out', 'digits', '--train', '8', '--val', '4', '--imgsz', '64');
    run('train', '--task', 'detect', '--data', 'digits/data.yaml', '--imgsz', '64', '--epochs', '2', '--batch', '8', '--workers', '0', '--project', 'runs/detect', '--name', 'digits');
    const rgb = Buffer.alloc(128 * 64 * 3);
    for (let i = 0; i < 128 * 64; i++) rgb.set([(i % 128) * 2, 90, (Math.floor(i / 128) * 4) % 256], i * 3);
    await sharp(rgb, { raw: { width: 128, height: 64, channels: 3 } }).png().toFile(image);
    app = await createUiServer({ project: join(tmp.dir, 'runs') });
    url = await app.listen({ host: '127.0.0.1', port: 0 });
    browser = await launch(pageErrors);
    const onnx = Buffer.from(fakeDetector());
    const { page } = browser;
    await page.route('**/v1/models', (r) => r.fulfill({ json: { models: [MODEL] } }));
    await page.route('**/v1/models/default/model.onnx', (r) => r.fulfill({ body: onnx, contentType: 'application/octet-stream' }));
    await page.route('**/v1/predict*', (r) => {
      predictCalls.push(r.request().url());
      // The server's answer: the expected boxes and one below the page's default threshold.
      return r.fulfill({ json: { predictions: [{ boxes: [...EXPECTED, { label: 'dog', class: 1, score: 0.1, box: [0, 0, 8, 8] }] }] } });
    });
  });

  after(async () => {
    await browser?.close();
    await app?.close();
    tmp.remove();
  });

  /** The drawn boxes of the first card, in the shown image's pixels, with their colour and text. */
  const drawn = async (page: Page) => {
    const card = page.locator('.card.detect').first();
    const size = await card.locator('.boxed img').evaluate((el) => {
      const img = el as unknown as { naturalWidth: number; naturalHeight: number; clientWidth: number; clientHeight: number };
      return { natural: [img.naturalWidth, img.naturalHeight], shown: [img.clientWidth, img.clientHeight] };
    });
    const boxes = await card.locator('svg g.det').evaluateAll((gs) => gs.map((g) => {
      const r = (g as unknown as { querySelector(s: string): { getAttribute(a: string): string | null } }).querySelector('rect.det-box');
      const t = (g as unknown as { querySelector(s: string): { textContent: string | null } }).querySelector('text');
      const n = (a: string): number => Number(r.getAttribute(a));
      return { rect: [n('x'), n('y'), n('x') + n('width'), n('y') + n('height')], stroke: r.getAttribute('stroke'), text: t.textContent };
    }));
    return { ...size, boxes };
  };

  const near = (a: number[], b: number[], what: string): void => a.forEach((v, i) => assert.ok(Math.abs(v - b[i]!) < 0.01, `${what}: ${a} vs ${b}`));

  it('predict on the server: the boxes are drawn where they are on the image as shown, in their class colours', async () => {
    const { page } = browser;
    await page.goto(`${url}/ui/#/predict`);
    await page.getByText(/Model default: a detector of 2 classes, 64×64 px, RGB/).waitFor();
    await page.locator('input[type="file"]').setInputFiles([image]);
    await page.locator('.card[data-state="done"][data-where="server"] svg g.det').first().waitFor();
    // A detector is asked for its boxes, not for top-k labels.
    assert.deepEqual(predictCalls, [`${url}/v1/predict`]);
    const d = await drawn(page);
    assert.deepEqual(d.natural, [128, 64]);
    assert.ok(d.shown[0] > 200, `the image is shown larger than its 128 px (${d.shown[0]} px)`);
    const [sx, sy] = [d.shown[0]! / 128, d.shown[1]! / 64];
    // The default threshold (0.25) hides the 0.1 box.
    assert.equal(d.boxes.length, 3);
    EXPECTED.forEach((e, i) => {
      const b = d.boxes[i]!;
      near(b.rect, [e.box[0] * sx, e.box[1] * sy, e.box[2] * sx, e.box[3] * sy], e.label);
      assert.equal(b.stroke, BOX_COLOURS[e.class]);
      assert.equal(b.text, `${e.label} ${e.score.toFixed(2)}`);
    });
    assert.equal(await page.getByTestId('box-count').textContent(), '3 of 4 boxes score 0.25 or more:');
    await screenshot(page, 'predict-detect');
  });

  it('the score threshold slider hides and shows boxes (keyboard)', async () => {
    const { page } = browser;
    const slider = page.getByLabel('Score threshold');
    const count = (): Promise<number> => page.locator('.card.detect').first().locator('svg g.det').count();
    await slider.focus();
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    assert.equal(await page.getByTestId('threshold').textContent(), '0.35');
    assert.equal(await count(), 2);
    await page.keyboard.press('End');
    assert.equal(await count(), 0);
    assert.equal(await page.getByTestId('box-count').textContent(), '0 of 4 boxes score 1.00 or more.');
    await page.keyboard.press('Home');
    assert.equal(await count(), 4);
    // Back to 0.25 for the next test.
    for (let i = 0; i < 5; i++) await page.keyboard.press('ArrowRight');
    assert.equal(await count(), 3);
  });

  it('predict in this browser: the fake detector\'s boxes come back through the letterbox, NMS and the way back, nothing uploaded', async () => {
    const { page } = browser;
    const before = predictCalls.length;
    await page.getByLabel('in this browser').check();
    await page.locator('.card[data-state="done"][data-where="browser"] svg g.det').first().waitFor({ timeout: 30_000 });
    assert.equal(predictCalls.length, before, 'no image was sent to /v1/predict');
    const d = await drawn(page);
    const [sx, sy] = [d.shown[0]! / 128, d.shown[1]! / 64];
    assert.deepEqual(d.boxes.map((b) => b.text), EXPECTED.map((e) => `${e.label} ${e.score.toFixed(2)}`));
    EXPECTED.forEach((e, i) => near(d.boxes[i]!.rect.map((v, k) => v / (k % 2 === 0 ? sx : sy)), e.box, `browser ${e.label}`));
    assert.equal(await page.getByTestId('box-count').textContent(), '3 of 3 boxes score 0.25 or more:');
    await screenshot(page, 'predict-detect-browser');
  });

  it('runs: a detection run shows its task, best mAP, mAP and loss curves, PR curve, confusion matrix and validation images', async () => {
    const { page } = browser;
    const dir = join(tmp.dir, 'runs', 'detect', 'digits');
    const best = JSON.parse(readSafetensorsHeader(join(dir, 'weights', 'best.safetensors')).metadata.kestrel!) as { epoch: number; metrics: { map50: number; map50_95: number } };
    await page.goto(`${url}/ui/#/runs`);
    const link = page.getByRole('link', { name: /detect\/digits/ });
    assert.match((await link.locator('.run-meta').textContent())!, /^training · detect · yolov8n · /);
    assert.equal(await link.locator('.run-score').textContent(), `best mAP50-95 ${best.metrics.map50_95.toFixed(3)} · mAP50 ${best.metrics.map50.toFixed(3)} (epoch ${best.epoch})`);
    await link.click();
    const charts = page.getByTestId('curves').locator('figure.chart');
    await charts.first().waitFor();
    assert.deepEqual(await charts.locator('figcaption strong').allTextContents(), ['Validation mAP', 'Box loss (CIoU)', 'Class loss (BCE)', 'Distribution focal loss', 'Validation precision and recall']);
    assert.deepEqual(await charts.nth(0).locator('.legend .key').allTextContents(), ['mAP50', 'mAP50-95']);
    assert.deepEqual(await charts.nth(1).locator('.legend .key').allTextContents(), ['train_box_loss', 'val_box_loss']);
    assert.equal(await charts.nth(0).locator('.series.s0 circle').count(), 2, 'two epochs');
    // mAP, precision and recall keep their 0–1 scale whatever the values (two epochs may score 0).
    const ticks = ['0.000', '0.200', '0.400', '0.600', '0.800', '1.000'];
    assert.deepEqual(await charts.nth(0).locator('.grid text').allTextContents(), ticks);
    assert.deepEqual(await charts.nth(4).locator('.grid text').allTextContents(), ticks);
    const metric = page.locator('dl.metrics > div').filter({ has: page.getByText('best mAP50-95', { exact: true }) }).locator('dd');
    assert.equal(await metric.textContent(), `${best.metrics.map50_95.toFixed(3)}, mAP50 ${best.metrics.map50.toFixed(3)} (epoch ${best.epoch})`);
    // Every picture the run wrote for these sections is served and decodes.
    const shown = ['PR_curve.png', 'F1_curve.png', 'confusion_matrix.png', 'val_batch0_labels.jpg', 'val_batch0_pred.jpg'];
    for (const f of shown) {
      const img = page.locator(`article img[src$="/files/${f}"]`);
      await page.waitForFunction((el) => (el as unknown as { complete: boolean; naturalWidth: number }).complete && (el as unknown as { naturalWidth: number }).naturalWidth > 0, await img.elementHandle());
    }
    const pair = page.getByTestId('val-pair');
    assert.deepEqual(await pair.locator('figcaption').allTextContents(), ['Ground truth', 'Predictions']);
    await screenshot(page, 'runs-detect');
    assert.deepEqual(pageErrors, [], 'no errors in the page console');
  });
});
