import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { imageGrid, svgToPng, writePngAtomic, type GridItem } from '../../src/plot/index.js';
import { checkPng, pixel } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'kestrel-plot-grid-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A w×h image of one colour with a differently coloured top-left pixel. */
function solid(w: number, h: number, rgb: [number, number, number], label?: string): GridItem {
  const data = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) data.set(rgb, i * 3);
  data.set([255, 255, 255], 0);
  return { rgb: data, width: w, height: h, ...(label !== undefined && { label }) };
}

describe('imageGrid', () => {
  test('lays tiles out in columns, upscales 28×28 with nearest, captions below', async () => {
    const colours: [number, number, number][] = [[200, 30, 30], [30, 160, 60], [40, 60, 200], [230, 180, 20], [120, 40, 160]];
    const items = colours.map((c, i) => solid(28, 28, c, `true: ${i}\npred: <${i + 1}> & more`));
    const path = join(dir, 'grid.png');
    await imageGrid(items, path, { cols: 3, tile: 96, title: 'Wrong predictions' });
    // pad 10, tile 96, two caption lines (2 × 15 + 4), title 36
    const img = await checkPng(path, 10 + 3 * 106, 36 + 10 + 2 * (96 + 34 + 10));
    colours.forEach((c, i) => {
      const x = 10 + (i % 3) * 106;
      const y = 46 + Math.floor(i / 3) * 140;
      assert.deepEqual(pixel(img, x + 48, y + 48), c, `tile ${i} centre`);
      // nearest-neighbour: the white source pixel becomes a sharp 96/28 ≈ 3.4 px block
      assert.deepEqual(pixel(img, x + 1, y + 1), [255, 255, 255], `tile ${i} corner`);
      assert.deepEqual(pixel(img, x + 5, y + 5), c, `tile ${i} next to the corner`);
    });
    const caption = img.rgb.subarray((46 + 96 + 2) * img.width * 3, (46 + 96 + 30) * img.width * 3);
    assert.ok(caption.some((v) => v < 128), 'caption text is drawn');
  });

  test('defaults: ⌈√n⌉ columns, grey images, no captions, non-square images letterboxed', async () => {
    const grey: GridItem = { rgb: new Uint8Array(20 * 10).fill(90), width: 20, height: 10, channels: 1 };
    const items = [grey, solid(40, 20, [10, 200, 10]), solid(12, 12, [0, 0, 0]), solid(8, 16, [250, 0, 0])];
    const path = join(dir, 'defaults.png');
    await imageGrid(items, path);
    const img = await checkPng(path, 10 + 2 * 106, 10 + 2 * 106);
    assert.deepEqual(pixel(img, 10 + 48, 10 + 48), [90, 90, 90]);
    assert.deepEqual(pixel(img, 10 + 48, 10 + 5), [242, 242, 242], 'letterbox above a wide image');
  });

  test('large images are scaled down into the tile', async () => {
    const path = join(dir, 'big.png');
    await imageGrid([solid(640, 480, [20, 40, 60]), solid(300, 300, [60, 40, 20])], path, { tile: 128 });
    await checkPng(path, 10 + 2 * 138, 10 + 138);
  });

  test('rejects bad input', async () => {
    await assert.rejects(imageGrid([], join(dir, 'x.png')), /no images/);
    await assert.rejects(imageGrid([{ rgb: new Uint8Array(10), width: 2, height: 2 }], join(dir, 'x.png')), /10 bytes, expected 2×2×3/);
    await assert.rejects(imageGrid([solid(4, 4, [1, 2, 3])], join(dir, 'x.png'), { tile: 2 }), /tile must be/);
  });
});

describe('writePngAtomic', () => {
  const png = async (): Promise<Buffer> => svgToPng('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="3"><rect width="2" height="3" fill="red"/></svg>');

  test('writes, then replaces, the file', async () => {
    const path = join(dir, 'atomic.png');
    writeFileSync(path, 'old');
    writePngAtomic(path, await png());
    await checkPng(path, 4, 3);
    assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), []);
  });

  test('a missing directory throws and leaves no temporary file', async () => {
    const bytes = await png();
    assert.throws(() => writePngAtomic(join(dir, 'missing', 'a.png'), bytes), { code: 'ENOENT' });
    await assert.rejects(imageGrid([solid(4, 4, [1, 2, 3])], join(dir, 'missing', 'b.png')), { code: 'ENOENT' });
    assert.deepEqual(readdirSync(dir).filter((f) => f.includes('.tmp')), []);
  });

  test('a failed rename removes the temporary file and keeps the target', async () => {
    const sub = mkdtempSync(join(dir, 'rename-'));
    const target = join(sub, 'occupied.png');
    mkdirSync(target); // a directory, not empty: a file cannot be renamed over it
    writeFileSync(join(target, 'inner.txt'), 'x');
    assert.throws(() => writePngAtomic(target, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])), { code: 'EISDIR' });
    assert.deepEqual(readdirSync(sub), ['occupied.png']);
    assert.equal(readFileSync(join(target, 'inner.txt'), 'utf8'), 'x');
  });

  test('refuses bytes that are not a PNG', () => {
    assert.throws(() => writePngAtomic(join(dir, 'no.png'), Buffer.from('GIF89a')), /not a PNG/);
    assert.throws(() => readFileSync(join(dir, 'no.png')), { code: 'ENOENT' });
  });
});
