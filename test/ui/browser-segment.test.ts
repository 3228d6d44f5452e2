// Segmentation in the web UI, in Debian's Chromium, against a real `kestrel serve` of a small
// U-Net's .onnx with the UI on it (no mocked answers): the predict page lays the server's mask over
// the image, pixel for pixel what maskRgba makes of the mask /v1/predict answers, with the class
// shares as its legend and an opacity slider; in this browser (ONNX Runtime Web, the same
// letterbox, resize and argmax code) it draws the same mask without uploading the image. The runs
// page shows the segmentation run's mIoU, Dice, pixel accuracy and loss curves, its IoU bars and
// confusion matrix, and validation images with ground truth beside prediction.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { Page } from 'playwright-core';
import sharp from 'sharp';
import { readSafetensorsHeader } from '../../src/checkpoint/index.js';
import { decodeMask } from '../../src/data/image.js';
import { maskRgba } from '../../src/plot/mask-overlay.js';
import { createServer } from '../../src/serve/index.js';
import type { ClassShare } from '../../src/tasks/segment/postprocess.js';
import { uiExtension } from '../../src/ui/index.js';
import { tempDir } from '../data/make-images.js';
import { launch, screenshot, skipReason, type Browser } from './browser.js';

const CLI = join(process.cwd(), 'dist/src/cli/main.js');
const UI_DIR = join(process.cwd(), 'dist/ui');
const skip = skipReason();

describe('segmentation in the web UI (Chromium)', { skip: skip ?? false }, () => {
  const tmp = tempDir('ui-browser-segment');
  const image = join(tmp.dir, 'scan.png');
  const runDir = join(tmp.dir, 'runs', 'segment', 'cells');
  let app: FastifyInstance;
  let url: string;
  let browser: Browser;
  /** The server's answer for the image, fetched by the test itself. */
  let want: { mask: Uint8Array; width: number; height: number; shares: ClassShare[] };
  const pageErrors: string[] = [];
  const predictCalls: string[] = [];

  before(async () => {
    if (!existsSync(join(UI_DIR, 'index.html'))) throw new Error(`${UI_DIR}/index.html is missing: run npm run build (it builds the UI bundle)`);
    const run = (...args: string[]): void => {
      const r = spawnSync(process.execPath, [CLI, ...args], { cwd: tmp.dir, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
    };
    run('data', 'synth', '--task', 'segment', '--kind', 'cells', '--out', 'cells', '--train', '8', '--val', '4', '--imgsz', '64');
    run('train', '--task', 'segment', '--data', 'cells/data.yaml', '--imgsz', '64', '--depth', '2', '--width', '8', '--epochs', '2', '--batch', '4', '--lr', '3e-3', '--warmup-epochs', '0', '--workers', '0', '--project', 'runs/segment', '--name', 'cells');
    run('export', '--weights', join(runDir, 'weights', 'best.safetensors'), '--dynamic-batch', '--output', 'model.onnx');
    app = await createServer({ weights: join(tmp.dir, 'model.onnx'), threads: 1, workers: 0, extensions: [uiExtension({ project: join(tmp.dir, 'runs') })] });
    url = await app.listen({ host: '127.0.0.1', port: 0 });
    // Not square and larger than the input: the letterbox pads it, and the mask comes back at 96×72.
    // Of the validation images, the one in which two short epochs find the most classes.
    const val = join(tmp.dir, 'cells', 'images', 'val');
    const fd = new FormData();
    const wide = await Promise.all(readdirSync(val).sort().map((f) => sharp(join(val, f)).resize(96, 72, { fit: 'fill' }).png().toBuffer()));
    wide.forEach((b, i) => fd.append('images', new Blob([b], { type: 'image/png' }), `${i}.png`));
    const answer = (await (await fetch(`${url}/v1/predict`, { method: 'POST', body: fd })).json()) as { predictions: { mask: { png: string; width: number; height: number }; shares: ClassShare[] }[] };
    const found = answer.predictions.map((p) => p.shares.filter((s) => s.share > 0).length);
    const pick = found.indexOf(Math.max(...found));
    writeFileSync(image, wide[pick]!);
    const p = answer.predictions[pick]!;
    const m = await decodeMask(Buffer.from(p.mask.png, 'base64'));
    want = { mask: m.data, width: m.width, height: m.height, shares: p.shares };
    browser = await launch(pageErrors);
    browser.page.on('request', (r) => {
      if (r.url().includes('/v1/predict')) predictCalls.push(r.url());
    });
  });

  after(async () => {
    await browser?.close();
    await app?.close();
    tmp.remove();
  });

  /** The first card's mask canvas: its size and RGBA pixels, and the size the image is shown at. */
  const canvas = async (page: Page, where: 'server' | 'browser') => {
    const card = page.locator(`.card[data-state="done"][data-where="${where}"]`).first();
    await card.locator('canvas[data-testid="mask"]').waitFor({ timeout: 60_000 });
    return card.locator('canvas[data-testid="mask"]').evaluate((el) => {
      const c = el as unknown as { width: number; height: number; clientWidth: number; getContext(t: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } };
      return { width: c.width, height: c.height, shown: c.clientWidth, rgba: Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data) };
    });
  };

  const legend = (page: Page, where: string): Promise<string[]> =>
    page.locator(`.card[data-where="${where}"] [data-testid="mask-legend"] li`).evaluateAll((lis) => lis.map((li) => (li as unknown as { textContent: string }).textContent));

  /**
   * The canvas's pixels are what maskRgba makes of the server's mask: alpha exactly, colours within
   * 2 (a canvas keeps premultiplied alpha, so translucent colours read back rounded).
   */
  const assertDrawn = (rgba: number[], alpha: number, what: string): void => {
    const expected = maskRgba(want.mask, alpha);
    assert.equal(rgba.length, expected.length, what);
    const off = rgba.filter((v, i) => (i % 4 === 3 ? v !== expected[i] : Math.abs(v - expected[i]!) > 2)).length;
    assert.equal(off, 0, `${what}: ${off} of ${rgba.length} canvas values are not maskRgba's at opacity ${alpha}`);
  };
  /** The server card's canvas, which the browser's must equal exactly (same mask, same drawing). */
  let serverCanvas: number[] = [];

  const expectedLegend = (): string[] => want.shares.filter((s) => s.share > 0).map((s) => `${s.label} ${(s.share * 100).toFixed(1)} %`);

  it('predict on the server: the answered mask is drawn over the image in the class colours, with the shares as legend', async () => {
    const { page } = browser;
    assert.ok(want.shares.filter((s) => s.share > 0).length >= 2, `the model finds ${JSON.stringify(want.shares)}: too few classes to tell colours apart`);
    await page.goto(`${url}/ui/#/predict`);
    await page.getByText(/Model default: a segmentation model of 4 classes, 64×64 px, grey/).waitFor();
    await page.locator('input[type="file"]').setInputFiles([image]);
    const c = await canvas(page, 'server');
    assert.deepEqual(predictCalls, [`${url}/v1/predict`], 'asked once, with no top-k');
    assert.deepEqual([c.width, c.height], [96, 72]);
    assert.ok(c.shown > 200, `the mask is stretched with the image (${c.shown} px wide)`);
    assertDrawn(c.rgba, 0.5, 'server');
    assert.ok(new Set(c.rgba.filter((_, i) => i % 4 === 0)).size >= 2, 'more than one colour (or clear) drawn');
    serverCanvas = c.rgba;
    assert.deepEqual(await legend(page, 'server'), expectedLegend());
    await screenshot(page, 'predict-segment');
  });

  it('the opacity slider redraws the mask at the chosen opacity (keyboard)', async () => {
    const { page } = browser;
    await page.getByLabel('Mask opacity').focus();
    await page.keyboard.press('ArrowRight');
    assert.equal(await page.getByTestId('opacity').textContent(), '0.55');
    assertDrawn((await canvas(page, 'server')).rgba, 0.55, 'opacity 0.55');
    await page.keyboard.press('Home');
    assert.ok((await canvas(page, 'server')).rgba.every((v, i) => i % 4 !== 3 || v === 0), 'opacity 0: nothing drawn');
    for (let i = 0; i < 10; i++) await page.keyboard.press('ArrowRight');
    assert.equal(await page.getByTestId('opacity').textContent(), '0.50');
  });

  it('predict in this browser: the same mask and shares as the server\'s, nothing uploaded', async () => {
    const { page } = browser;
    const before = predictCalls.length;
    await page.getByLabel('in this browser').check();
    const c = await canvas(page, 'browser');
    assert.equal(predictCalls.length, before, 'no image was sent to /v1/predict');
    assert.deepEqual([c.width, c.height], [96, 72]);
    const differ = c.rgba.filter((v, i) => v !== serverCanvas[i]).length;
    assert.equal(differ, 0, `${differ} of ${c.rgba.length} canvas values differ from the server's card`);
    assertDrawn(c.rgba, 0.5, 'browser');
    assert.deepEqual(await legend(page, 'browser'), expectedLegend());
    await screenshot(page, 'predict-segment-browser');
  });

  it('runs: a segmentation run shows its best mIoU, mIoU/Dice/accuracy and loss curves, IoU bars, confusion matrix and ground truth beside prediction', async () => {
    const { page } = browser;
    const best = JSON.parse(readSafetensorsHeader(join(runDir, 'weights', 'best.safetensors')).metadata.kestrel!) as { epoch: number; metrics: { miou: number; mean_dice: number } };
    await page.goto(`${url}/ui/#/runs`);
    const link = page.getByRole('link', { name: /segment\/cells/ });
    assert.match((await link.locator('.run-meta').textContent())!, /^training · segment · unet · /);
    assert.equal(await link.locator('.run-score').textContent(), `best mIoU ${best.metrics.miou.toFixed(3)} · mean Dice ${best.metrics.mean_dice.toFixed(3)} (epoch ${best.epoch})`);
    await link.click();
    const charts = page.getByTestId('curves').locator('figure.chart');
    await charts.first().waitFor();
    assert.deepEqual(await charts.locator('figcaption strong').allTextContents(), ['Validation mIoU and mean Dice', 'Validation pixel accuracy', 'Loss (sum of the terms)', 'Cross-entropy loss', 'Dice loss']);
    assert.deepEqual(await charts.nth(0).locator('.legend .key').allTextContents(), ['mIoU', 'mean_dice']);
    assert.deepEqual(await charts.nth(3).locator('.legend .key').allTextContents(), ['train_ce_loss', 'val_ce_loss']);
    assert.equal(await charts.nth(0).locator('.series.s0 circle').count(), 2, 'two epochs');
    const metric = page.locator('dl.metrics > div').filter({ has: page.getByText('best mIoU', { exact: true }) }).locator('dd');
    assert.match((await metric.textContent())!, new RegExp(`^${best.metrics.miou.toFixed(3)}, mean Dice ${best.metrics.mean_dice.toFixed(3)}, pixel accuracy .* \\(epoch ${best.epoch}\\)$`));
    for (const f of ['iou_per_class.png', 'confusion_matrix.png', 'val_batch0_labels.jpg', 'val_batch0_pred.jpg']) {
      const img = page.locator(`article img[src$="/files/${f}"]`).first();
      await page.waitForFunction((el) => (el as unknown as { complete: boolean; naturalWidth: number }).complete && (el as unknown as { naturalWidth: number }).naturalWidth > 0, await img.elementHandle());
    }
    const pair = page.getByTestId('val-pair');
    assert.deepEqual(await pair.locator('figcaption').allTextContents(), ['Ground truth', 'Predictions']);
    await screenshot(page, 'runs-segment');
    assert.deepEqual(pageErrors, [], 'no errors in the page console');
  });
});
