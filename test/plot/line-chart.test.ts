import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { lineChart, svgToPng, trainingCurves, trainingCurvesSvg, writePngAtomic } from '../../src/plot/index.js';
import { checkPng, pixel, texts } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'kestrel-plot-line-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const PALETTE_BLUE: [number, number, number] = [0x44, 0x77, 0xaa];

describe('lineChart', () => {
  test('title, labels and series names appear escaped; no NaN leaks into the SVG', () => {
    const svg = lineChart({
      title: 'Loss & <accuracy>', xLabel: 'epoch "n"', yLabel: "it's",
      series: [{ name: 'train<1>', x: [1, 2, 3], y: [1, NaN, 0.5] }, { name: 'val & co', x: [1, 2, 3], y: [0.9, 0.8, Infinity] }],
    });
    assert.deepEqual(texts(svg, 'title'), ['Loss &amp; &lt;accuracy&gt;']);
    assert.deepEqual(texts(svg, 'xlabel'), ['epoch &quot;n&quot;']);
    assert.deepEqual(texts(svg, 'ylabel'), ['it&apos;s']);
    assert.deepEqual(texts(svg, 'legend'), ['train&lt;1&gt;', 'val &amp; co']);
    assert.ok(!svg.includes('<accuracy>') && !svg.includes('train<1>'));
    assert.doesNotMatch(svg, /NaN|Infinity/);
  });

  test('NaN breaks a line into pieces; lone points become dots', () => {
    const svg = lineChart({
      title: 't', xLabel: 'x', yLabel: 'y',
      series: [{ name: 'gappy', x: Array.from({ length: 60 }, (_, i) => i), y: Array.from({ length: 60 }, (_, i) => (i === 20 || i === 22 ? NaN : Math.sin(i / 5))) }],
    });
    // 0..19, 21 alone, 23..59: two polylines and one dot (too many points for a dot on each)
    assert.equal(svg.match(/<polyline /g)?.length, 2);
    assert.equal(svg.match(/<circle /g)?.length, 1 + 1, 'one lone point plus the legend marker');
  });

  test('a single point and a constant series still get a sensible axis', async () => {
    const one = lineChart({ title: 'one', xLabel: 'x', yLabel: 'y', series: [{ name: 's', x: [3], y: [0.25] }] });
    assert.deepEqual(texts(one, 'xtick'), ['2', '3', '4']);
    assert.ok(texts(one, 'ytick').includes('0.25'), texts(one, 'ytick').join(' '));
    const flat = lineChart({ title: 'flat', xLabel: 'x', yLabel: 'y', series: [{ name: 's', x: [0, 1, 2], y: [2, 2, 2] }] });
    const yt = texts(flat, 'ytick').map(Number);
    assert.ok(yt[0]! < 2 && yt[yt.length - 1]! > 2, yt.join(' '));
    const path = join(dir, 'flat.png');
    writePngAtomic(path, await svgToPng(flat));
    await checkPng(path, 640, 400);
  });

  test('yRange fixes the axis; ticks stay inside it', () => {
    const svg = lineChart({ title: 'acc', xLabel: 'x', yLabel: 'y', yRange: [0, 1], series: [{ name: 'a', x: [1, 2], y: [0.5, 1.2] }] });
    assert.deepEqual(texts(svg, 'ytick'), ['0.0', '0.2', '0.4', '0.6', '0.8', '1.0']);
    assert.match(svg, /clip-path="url\(#chart-clip\)"/);
  });

  test('no data draws empty axes that say so', async () => {
    const svg = lineChart({ title: 'empty', xLabel: 'x', yLabel: 'y', series: [{ name: 's', x: [], y: [] }], width: 300, height: 200 });
    assert.match(svg, />no data</);
    const path = join(dir, 'empty.png');
    writePngAtomic(path, await svgToPng(svg));
    await checkPng(path, 300, 200);
  });

  test('series can stay out of the legend and set their width', () => {
    const svg = lineChart({
      title: 't', xLabel: 'x', yLabel: 'y',
      series: [{ name: 'thin', x: [0, 1], y: [0, 1], width: 1, legend: false }, { name: 'mean', x: [0, 1], y: [1, 0], width: 3 }],
    });
    assert.deepEqual(texts(svg, 'legend'), ['mean']);
    assert.deepEqual([...svg.matchAll(/<polyline [^>]*stroke="([^"]+)" stroke-width="([\d.]+)"/g)].map((m) => [m[1], m[2]]), [['#4477AA', '1'], ['#EE6677', '3']]);
    const hidden = lineChart({ title: 't', xLabel: 'x', yLabel: 'y', series: [{ name: 'a', x: [0, 1], y: [0, 1], legend: false }] });
    assert.deepEqual(texts(hidden, 'legend'), []);
  });

  test('renders the series in its palette colour', async () => {
    const svg = lineChart({ title: 'level', xLabel: 'x', yLabel: 'y', series: [{ name: 's', x: [0, 10], y: [5, 5] }], width: 400, height: 400 });
    const path = join(dir, 'level.png');
    writePngAtomic(path, await svgToPng(svg));
    const img = await checkPng(path, 400, 400);
    const m = svg.match(/<polyline points="([\d.]+),([\d.]+) ([\d.]+),([\d.]+)"/)!;
    // a 2 px stroke centred on y fully covers pixel row floor(y)
    const mid = pixel(img, (Number(m[1]) + Number(m[3])) / 2, Number(m[2]));
    mid.forEach((c, i) => assert.ok(Math.abs(c - PALETTE_BLUE[i]!) <= 24, `line colour ${mid.join(',')}`));
  });
});

describe('trainingCurves', () => {
  const rows = Array.from({ length: 20 }, (_, i) => ({
    epoch: i + 1, train_loss: 2 / (i + 1), val_loss: 2.2 / (i + 1), val_accuracy: 0.9 + i * 0.004, val_top5: 0.99 + i * 0.0004,
    lr: 0.01 * (1 - i / 20), time: 3 * i,
  }));

  test('loss, accuracy and lr panels side by side', async () => {
    const path = join(dir, 'results.png');
    await trainingCurves(rows, path);
    await checkPng(path, 3 * 440, 330);
    const svg = trainingCurvesSvg(rows);
    assert.deepEqual(texts(svg, 'title'), ['Loss', 'Accuracy', 'Learning rate']);
    assert.deepEqual(texts(svg, 'legend'), ['train_loss', 'val_loss', 'val_accuracy', 'val_top5', 'lr']);
    assert.ok(!texts(svg, 'legend').includes('time'));
  });

  test('missing columns are skipped: no accuracy, no lr, no epoch', async () => {
    const path = join(dir, 'loss-only.png');
    const lossOnly = rows.map(({ train_loss, val_loss }) => ({ train_loss, val_loss }));
    await trainingCurves(lossOnly, path);
    await checkPng(path, 440, 330);
    const svg = trainingCurvesSvg(lossOnly);
    assert.deepEqual(texts(svg, 'title'), ['Loss']);
    assert.deepEqual(texts(svg, 'xtick').at(-1), '20', 'row numbers stand in for epochs');
  });

  test('a metric logged every few epochs is one connected line; all panels share the epoch axis', () => {
    const sparse = rows.map((r, i) => (i % 5 === 4 ? r : { epoch: r.epoch, train_loss: r.train_loss, lr: r.lr }));
    const svg = trainingCurvesSvg(sparse);
    assert.equal(svg.match(/<polyline /g)?.length, 5, 'train_loss, val_loss, val_accuracy, val_top5, lr: one line each');
    const xt = texts(svg, 'xtick');
    assert.equal(xt.length % 3, 0);
    const per = xt.length / 3;
    assert.deepEqual(xt.slice(per, 2 * per), xt.slice(0, per));
  });

  test('no rows still writes a valid picture', async () => {
    const path = join(dir, 'none.png');
    await trainingCurves([], path);
    await checkPng(path, 440, 330);
  });
});
