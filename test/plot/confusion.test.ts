import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { confusionMatrixPng, confusionMatrixSvg } from '../../src/plot/index.js';
import { checkPng, pixel, texts } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'kestrel-plot-cm-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const CM3 = [[5, 1, 0], [2, 2, 1], [0, 0, 9]];
const NAMES3 = ['<a&b>', 'dog', 'a very long class name that goes on and on'];

/** Cell texts as a matrix, from their data-true / data-pred attributes. */
function cellMatrix(svg: string, n: number): string[][] {
  const m = Array.from({ length: n }, () => new Array<string>(n).fill(''));
  for (const [, t, p, s] of svg.matchAll(/<text [^>]*class="cell" data-true="(\d+)" data-pred="(\d+)"[^>]*>([^<]*)<\/text>/g)) {
    m[Number(t)]![Number(p)] = s!;
  }
  return m;
}

/** The `<image>` placement of the cells: x, y and edge in px. */
function cellsBox(svg: string): { x: number; y: number; size: number } {
  const m = svg.match(/<image x="([\d.]+)" y="([\d.]+)" width="(\d+)"/)!;
  return { x: Number(m[1]), y: Number(m[2]), size: Number(m[3]) };
}

describe('confusionMatrixPng', () => {
  test('cells print the counts; class names are escaped and shortened', async () => {
    const svg = await confusionMatrixSvg(CM3, NAMES3);
    assert.deepEqual(cellMatrix(svg, 3), CM3.map((row) => row.map(String)));
    assert.deepEqual(texts(svg, 'title'), ['Confusion matrix']);
    assert.ok(svg.includes('&lt;a&amp;b&gt;') && !svg.includes('<a&b>'));
    const ylabels = texts(svg, 'ylabel');
    assert.equal(ylabels[0], '&lt;a&amp;b&gt;');
    assert.ok(ylabels[2]!.startsWith('a very long') && ylabels[2]!.endsWith('…'), ylabels[2]);
    assert.deepEqual(texts(svg, 'xlabel'), ylabels);
    assert.equal(svg.match(/transform="rotate\(-45 [^"]*"[^>]*class="xlabel"/g)?.length, 3);
    assert.deepEqual(texts(svg, 'axis-title'), ['Predicted', 'True']);
    const path = join(dir, 'cm3.png');
    await confusionMatrixPng(CM3, NAMES3, path);
    const m = svg.match(/<svg [^>]*width="(\d+)" height="(\d+)"/)!;
    await checkPng(path, Number(m[1]), Number(m[2]));
  });

  test('normalize prints row fractions and titles itself', async () => {
    const svg = await confusionMatrixSvg(CM3, NAMES3, { normalize: true });
    assert.deepEqual(cellMatrix(svg, 3), [['0.83', '0.17', '0.00'], ['0.40', '0.40', '0.20'], ['0.00', '0.00', '1.00']]);
    assert.deepEqual(texts(svg, 'title'), ['Confusion matrix (row-normalised)']);
    const titled = await confusionMatrixSvg(CM3, NAMES3, { normalize: true, title: 'val & test' });
    assert.deepEqual(texts(titled, 'title'), ['val &amp; test']);
  });

  test('cell colours follow the row fractions: a full diagonal cell is dark, an empty one light', async () => {
    const path = join(dir, 'cm3-colours.png');
    await confusionMatrixPng(CM3, ['a', 'b', 'c'], path);
    const svg = await confusionMatrixSvg(CM3, ['a', 'b', 'c']);
    const img = await checkPng(path);
    const box = cellsBox(svg);
    const cell = box.size / 3;
    // corner of a cell, away from its printed number
    const at = (t: number, p: number): [number, number, number] => pixel(img, box.x + p * cell + 4, box.y + t * cell + 4);
    assert.deepEqual(at(2, 2), [0x08, 0x30, 0x6b], 'fraction 1: the darkest blue');
    assert.deepEqual(at(0, 2), [0xf7, 0xfb, 0xff], 'fraction 0: the lightest blue');
    const [r1] = at(1, 0);
    const [r0] = at(0, 0);
    assert.ok(r0 < r1, 'row 0 diagonal (0.83) darker than row 1 off-diagonal (0.40)');
  });

  test('scales to 120 classes: no cell text, class indices on the axes', async () => {
    const n = 120;
    const cm = Array.from({ length: n }, (_, t) => Array.from({ length: n }, (_, p) => (t === p ? 50 : (t + p) % 13 === 0 ? 2 : 0)));
    const names = Array.from({ length: n }, (_, i) => `class ${i}`);
    const svg = await confusionMatrixSvg(cm, names);
    assert.equal(texts(svg, 'cell').length, 0);
    assert.deepEqual(texts(svg, 'ylabel'), ['0', '20', '40', '60', '80', '100']);
    const path = join(dir, 'cm120.png');
    await confusionMatrixPng(cm, names, path);
    const img = await checkPng(path);
    const box = cellsBox(svg);
    const cell = box.size / n;
    assert.ok(cell >= 2);
    const diag = pixel(img, box.x + 60.5 * cell, box.y + 60.5 * cell);
    const off = pixel(img, box.x + 61.5 * cell, box.y + 60.5 * cell);
    assert.ok(diag[0] < 100 && off[0] > 200, `diagonal ${diag.join(',')} vs off-diagonal ${off.join(',')}`);
  });

  test('1000 classes stay a reasonable picture', async () => {
    const n = 1000;
    const cm = Array.from({ length: n }, (_, t) => Array.from({ length: n }, (_, p) => (t === p ? 9 : 0)));
    const path = join(dir, 'cm1000.png');
    await confusionMatrixPng(cm, Array.from({ length: n }, (_, i) => String(i)), path);
    const img = await checkPng(path);
    assert.ok(img.width <= 2200 && img.height <= 2200, `${img.width}×${img.height}`);
  });

  test('rejects a matrix that does not match the class names', async () => {
    await assert.rejects(confusionMatrixSvg([[1, 2], [3, 4]], ['a', 'b', 'c']), /3×3/);
    await assert.rejects(confusionMatrixSvg([], []), /no classes/);
  });
});
