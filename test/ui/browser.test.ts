// Acceptance (3): the web UI in Debian's Chromium (playwright-core), against kestrel serve's server
// (createServer) with the UI as its extension: upload an image and see the prediction; switch to in-browser
// inference (nothing uploaded) and see the same top-1; label three images with number keys and
// find them in the class folders, and digit classes by their own keys; open a real training run
// and see its curves, the trainer's best epoch and the test accuracy; and kestrel ui's
// own server under a bearer token. Screenshots of each
// page go to the OS temp folder (and docs/images with KESTREL_UPDATE_SCREENSHOTS=1).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import sharp from 'sharp';
import { readSafetensorsHeader } from '../../src/checkpoint/index.js';
import { decodeImage } from '../../src/data/image.js';
import { Rng } from '../../src/data/rng.js';
import { applyTransforms } from '../../src/data/transforms.js';
import { OnnxClassifier } from '../../src/runtime/index.js';
import { createServer } from '../../src/serve/index.js';
import { createUiServer, uiExtension } from '../../src/ui/index.js';
import { tempDir } from '../data/make-images.js';
import { CLASSES as SHAPES, shapeImage, writeShapesFolder } from '../tasks/shapes.js';
import { launch, screenshot, skipReason, type Browser } from './browser.js';

const CLI = join(process.cwd(), 'dist/src/cli/main.js');
/** The pages' percentage (ui/src/components/ScoreBars.tsx). */
const pct = (v: number): string => `${(v * 100).toFixed(v >= 0.995 || v < 0.001 ? 0 : 1)}%`;
const UI_DIR = join(process.cwd(), 'dist/ui');
const skip = skipReason();

/**
 * Page script: arms a MutationObserver that, each time the next image to label appears, fires the
 * next key at once, before React's passive effects run. window.pressed.done resolves to the image
 * on screen at each key (the first key is pressed by the test) once the last label has shown.
 */
const PRESS_AS_SHOWN = (...keys: string[]): string => `(() => {
  const keys = ${JSON.stringify(keys)};
  const shown = () => document.querySelector('[data-testid="current-image"]')?.textContent ?? null;
  const images = [shown()];
  const done = new Promise((resolve, reject) => {
    setTimeout(() => reject(new Error('after ' + images.length + ' keys, the next image never showed')), 10000);
    const observer = new MutationObserver(() => {
      const now = shown();
      if (now === images[images.length - 1]) return;
      if (images.length === keys.length) {
        observer.disconnect();
        resolve(images);
        return;
      }
      images.push(now);
      window.dispatchEvent(new KeyboardEvent('keydown', { key: keys[images.length - 1], bubbles: true, cancelable: true }));
    });
    observer.observe(document.querySelector('.labeller'), { subtree: true, childList: true, characterData: true });
  });
  window.pressed = { done };
})()`;

describe('web UI in Chromium', { skip: skip ?? false }, () => {
  const tmp = tempDir('ui-browser');
  const photos = join(tmp.dir, 'photos');
  const uploads = [join(tmp.dir, 'shapes', 'val', 'circle', 'circle-0.png'), join(tmp.dir, 'shapes', 'val', 'square', 'square-1.jpg')];
  let clf: OnnxClassifier;
  let app: FastifyInstance;
  let url: string;
  let browser: Browser;
  const pageErrors: string[] = [];
  /** The server's top-1 for each upload, computed here without the page. */
  const expected: { label: string; score: number }[] = [];

  before(async () => {
    if (!existsSync(join(UI_DIR, 'index.html'))) throw new Error(`${UI_DIR}/index.html is missing: run npm run build (it builds the UI bundle)`);
    // A real (tiny) training run for the runs page; its model, exported to ONNX, is the one served.
    // A test split too: the trainer tests its best weights on it once, and the runs page shows that.
    await writeShapesFolder(join(tmp.dir, 'shapes'), { train: 20, val: 6, test: 4 });
    const train = spawnSync(process.execPath, [CLI, 'train', '--data', 'shapes', '--model', 'smallcnn', '--imgsz', '32', '--epochs', '6', '--batch', '8', '--workers', '1', '--project', 'runs/classify', '--name', 'shapes'], { cwd: tmp.dir, encoding: 'utf8' });
    assert.equal(train.status, 0, train.stderr);
    // The labelling project: shape pictures to sort into circle/cross/square.
    let s = 11;
    const rng = (): number => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
    for (const c of SHAPES) mkdirSync(join(photos, c), { recursive: true });
    mkdirSync(join(photos, 'unlabelled'), { recursive: true });
    for (let i = 0; i < 6; i++) {
      const cls = SHAPES[[0, 1, 0, 2, 1, 2][i]!]!;
      await sharp(shapeImage(cls, rng), { raw: { width: 32, height: 32, channels: 3 } }).png().toFile(join(photos, 'unlabelled', `shape${i + 1}.png`));
    }
    // The run's best weights exported to ONNX are the served model; two validation images are uploaded.
    const exported = spawnSync(process.execPath, [CLI, 'export', '--weights', 'runs/classify/shapes/weights/best.safetensors', '--dynamic-batch', '-o', 'model.onnx'], { cwd: tmp.dir, encoding: 'utf8' });
    assert.equal(exported.status, 0, exported.stderr);
    clf = await OnnxClassifier.load(join(tmp.dir, 'model.onnx'));
    for (const f of uploads) {
      const x = applyTransforms(await decodeImage(f, { channels: 3 }), clf.preprocessing.transforms, new Rng(0));
      expected.push((await clf.classify(x.data, 1, [x.channels, x.height, x.width], 1))[0]![0]!);
    }
    app = await createServer({ weights: join(tmp.dir, 'model.onnx'), threads: 1, workers: 0, extensions: [uiExtension({ project: join(tmp.dir, 'runs'), label: { root: photos } })] });
    url = await app.listen({ host: '127.0.0.1', port: 0 });
    browser = await launch(pageErrors);
  });

  after(async () => {
    await browser?.close();
    await app?.close();
    await clf?.dispose();
    tmp.remove();
  });

  /** Top-1 label and score of each upload's result card, in upload order. */
  const top1 = async (where: 'server' | 'browser'): Promise<{ label: string; score: number }[]> => {
    const { page } = browser;
    await page.locator(`.card[data-state="done"][data-where="${where}"]`).nth(uploads.length - 1).waitFor({ timeout: 30_000 });
    const out = [];
    for (const f of uploads) {
      const best = page.locator('.card').filter({ has: page.getByRole('heading', { name: basename(f), exact: true }) }).locator('.bars li.best');
      out.push({ label: (await best.getAttribute('data-label'))!, score: Number(await best.getAttribute('data-score')) });
    }
    return out;
  };

  it('predict: upload images and see the server\'s top classes with score bars', async () => {
    const { page } = browser;
    await page.goto(`${url}/ui/#/predict`);
    await page.getByText(/Model default: 3 classes, 32×32 px, RGB/).waitFor();
    assert.equal(await page.evaluate('crossOriginIsolated'), true, 'the page is cross-origin isolated');
    await page.locator('input[type="file"]').setInputFiles(uploads);
    const got = await top1('server');
    assert.deepEqual(got.map((t) => t.label), expected.map((t) => t.label));
    got.forEach((t, i) => assert.ok(Math.abs(t.score - expected[i]!.score) < 1e-6, `score ${t.score} vs ${expected[i]!.score}`));
    assert.equal(await page.locator('.card').first().locator('.bars li').count(), 3, 'top-5 of 3 classes shows all 3');
    await screenshot(page, 'predict');
  });

  it('predict in this browser: nothing is uploaded and the top-1 is the same', async () => {
    const { page } = browser;
    const uploadsSeen: string[] = [];
    page.on('request', (r) => {
      if (r.url().includes('/v1/predict')) uploadsSeen.push(r.url());
    });
    // Keyboard only: focus the switch and move to the next option with the arrow key.
    await page.getByLabel('on the server').focus();
    await page.keyboard.press('ArrowDown');
    assert.equal(await page.getByLabel('in this browser').isChecked(), true);
    await page.getByText('Your images never leave this machine.').waitFor();
    const got = await top1('browser');
    assert.deepEqual(got.map((t) => t.label), expected.map((t) => t.label));
    got.forEach((t, i) => assert.ok(Math.abs(t.score - expected[i]!.score) < 1e-4, `browser score ${t.score} vs server ${expected[i]!.score}`));
    assert.deepEqual(uploadsSeen, [], 'no image was sent to /v1/predict');
    await screenshot(page, 'predict-browser');
  });

  it('label: three images with the number keys, applied into the class folders', async () => {
    const { page } = browser;
    await page.goto(`${url}/ui/#/label`);
    const current = page.getByTestId('current-image');
    await current.waitFor();
    // The first key is a real key press; each next key fires the moment the next image is on the
    // page, before React's effects run: a key must label the image shown, not the one before.
    await page.evaluate(PRESS_AS_SHOWN('1', '2', '1'));
    await page.keyboard.press('1');
    const shown = (await page.evaluate('window.pressed.done')) as string[];
    const picks = shown.map((image, i): [string, string] => [image, SHAPES[Number(['1', '2', '1'][i]) - 1]!]);
    assert.deepEqual(picks, [['shape1.png', 'circle'], ['shape2.png', 'cross'], ['shape3.png', 'circle']]);
    assert.deepEqual(await page.locator('ul.classes kbd').allTextContents(), ['1', '2', '3'], 'each class button shows its key');
    assert.match((await page.getByTestId('label-status').textContent())!, /^shape3\.png → circle\. 3 of 6 labelled\.$/);
    assert.equal(await page.getByTestId('labelled').textContent(), '3');
    await screenshot(page, 'label');
    await page.setViewportSize({ width: 390, height: 844 });
    await screenshot(page, 'label-phone');
    await page.setViewportSize({ width: 1100, height: 800 });
    await page.getByRole('button', { name: 'Move into class folders' }).focus();
    await page.keyboard.press('Enter');
    await page.getByTestId('label-status').filter({ hasText: 'Moved 3 images' }).waitFor();
    for (const [image, cls] of picks) {
      assert.ok(existsSync(join(photos, cls, image)), `${cls}/${image}`);
      assert.ok(!existsSync(join(photos, 'unlabelled', image)), `${image} left unlabelled/`);
    }
  });

  it('runs: open the training run and see its loss and accuracy curves', async () => {
    const { page } = browser;
    await page.goto(`${url}/ui/#/runs`);
    const link = page.getByRole('link', { name: /classify\/shapes/ });
    // The best epoch is the trainer's (its best checkpoint's), and the test accuracy its test_metrics.json.
    const run = join(tmp.dir, 'runs', 'classify', 'shapes');
    const best = JSON.parse(readSafetensorsHeader(join(run, 'weights', 'best.safetensors')).metadata.kestrel!) as { epoch: number; metrics: { accuracy: number } };
    const test = JSON.parse(readFileSync(join(run, 'test_metrics.json'), 'utf8')) as { epoch: number; accuracy: number; count: number };
    assert.equal(test.epoch, best.epoch);
    assert.equal(test.count, 12);
    assert.equal(
      (await link.locator('.run-score').textContent())!.trim(),
      `best val accuracy ${pct(best.metrics.accuracy)} (epoch ${best.epoch}) · test accuracy ${pct(test.accuracy)}`,
    );
    await link.focus();
    await page.keyboard.press('Enter');
    const charts = page.getByTestId('curves').locator('svg');
    await charts.first().waitFor();
    assert.equal(await charts.count(), 2);
    // Six epochs: six points per series, two series (train and val) in the loss chart.
    assert.equal(await charts.nth(0).locator('.series').count(), 2);
    assert.equal(await charts.nth(0).locator('.series.s0 circle').count(), 6);
    assert.equal(await charts.nth(1).locator('.series.s0 circle').count(), 6);
    await charts.nth(0).focus();
    await page.keyboard.press('Home');
    await page.getByText(/^Epoch 1: train_loss \d\.\d{3}, val_loss \d\.\d{3}$/).waitFor();
    assert.equal(await page.locator('table.confusion tbody tr').count(), 3);
    const metric = (name: string) => page.locator('dl.metrics > div').filter({ has: page.getByText(name, { exact: true }) }).locator('dd');
    assert.equal(await metric('best val_accuracy').textContent(), `${pct(best.metrics.accuracy)} (epoch ${best.epoch})`);
    assert.equal(await metric('test accuracy').textContent(), `${pct(test.accuracy)} (best epoch ${best.epoch}, 12 images)`);
    await screenshot(page, 'runs');
    assert.deepEqual(pageErrors, [], 'no errors in the page console');
  });

  it('label: with classes named 0–9, key 7 labels "7" and each button shows its own name as the key', async () => {
    const digits = join(tmp.dir, 'digits');
    const classes = Array.from({ length: 10 }, (_, i) => String(i));
    for (const c of classes) mkdirSync(join(digits, c), { recursive: true });
    mkdirSync(join(digits, 'unlabelled'));
    copyFileSync(uploads[0]!, join(digits, 'unlabelled', 'seven.png'));
    copyFileSync(uploads[0]!, join(digits, 'unlabelled', 'zero.png'));
    const server = await createUiServer({ label: { root: digits } });
    const base = await server.listen({ host: '127.0.0.1', port: 0 });
    const page = await browser.context.newPage();
    try {
      await page.goto(`${base}/ui/#/label`);
      await page.getByTestId('current-image').filter({ hasText: 'seven.png' }).waitFor();
      const buttons = page.locator('ul.classes button');
      for (const c of classes) assert.equal(await buttons.nth(Number(c)).locator('kbd').textContent(), c);
      assert.equal(await buttons.nth(7).getAttribute('aria-keyshortcuts'), '7');
      await page.keyboard.press('7');
      await page.getByTestId('label-status').filter({ hasText: /^seven\.png → 7\./ }).waitFor();
      await page.getByTestId('current-image').filter({ hasText: 'zero.png' }).waitFor();
      await page.keyboard.press('0');
      await page.getByTestId('label-status').filter({ hasText: /^zero\.png → 0\./ }).waitFor();
      const progress = await fetch(`${base}/v1/label/progress`);
      const byClass = (await progress.json() as { byClass: Record<string, number> }).byClass;
      assert.deepEqual(Object.entries(byClass).filter(([, n]) => n > 0), [['0', 1], ['7', 1]]);
    } finally {
      await page.close();
      await server.close();
    }
  });

  it('kestrel ui under a bearer token: the page asks for it once, then the API, the gallery images and labelling work', async () => {
    // The UI's own server (kestrel ui --token), with a labelling project of its own.
    const sorted = join(tmp.dir, 'photos-secured');
    for (const c of SHAPES) mkdirSync(join(sorted, c), { recursive: true });
    mkdirSync(join(sorted, 'unlabelled'));
    copyFileSync(uploads[0]!, join(sorted, 'unlabelled', 'one.png'));
    const secured = await createUiServer({ project: join(tmp.dir, 'runs'), label: { root: sorted }, token: 'tok-123' });
    const base = await secured.listen({ host: '127.0.0.1', port: 0 });
    const page = await browser.context.newPage();
    try {
      await page.goto(`${base}/ui/#/runs`);
      await page.getByLabel('Token').fill('tok-123');
      await page.keyboard.press('Enter');
      await page.getByRole('link', { name: /classify\/shapes/ }).click();
      await page.getByTestId('curves').waitFor();
      await page.getByText('Plots written by the trainer').click();
      // The plots and the gallery: every image fetched with the token and shown from a blob.
      const images = page.locator('article img');
      const n = await images.count();
      assert.ok(n >= 3, `${n} images`);
      for (let i = 0; i < n; i++) {
        await page.waitForFunction((el) => (el as unknown as { complete: boolean; naturalWidth: number }).complete && (el as unknown as { naturalWidth: number }).naturalWidth > 0, await images.nth(i).elementHandle());
        assert.match((await images.nth(i).getAttribute('src')) ?? '', /^blob:/);
      }
      // Labelling: the image comes with the token, and the label's POST (sent with the page's
      // Origin) passes the cross-origin check.
      await page.goto(`${base}/ui/#/label`);
      await page.getByTestId('current-image').filter({ hasText: 'one.png' }).waitFor();
      const shown = page.getByAltText('Image to label: one.png');
      await page.waitForFunction((el) => (el as unknown as { complete: boolean; naturalWidth: number }).complete && (el as unknown as { naturalWidth: number }).naturalWidth > 0, await shown.elementHandle());
      assert.match((await shown.getAttribute('src')) ?? '', /^blob:/);
      await page.keyboard.press('2');
      await page.getByTestId('label-status').filter({ hasText: /^one\.png → cross\./ }).waitFor();
      const progress = await fetch(`${base}/v1/label/progress`, { headers: { authorization: 'Bearer tok-123' } });
      assert.deepEqual((await progress.json() as { byClass: Record<string, number> }).byClass, { circle: 0, cross: 1, square: 0 });
    } finally {
      await page.close();
      await secured.close();
    }
  });
});
