// Boxes drawn over an image: each outline lands on the box's pixels in its class colour, the
// inside and outside stay untouched, and labels are escaped.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { BOX_COLOURS, boxesSvg, drawBoxes } from '../../src/plot/boxes.js';

const hex = (c: string): number[] => [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16));

describe('drawBoxes', () => {
  it('outlines each box in its class colour and leaves the rest of the image alone', async () => {
    const base = await sharp({ create: { width: 200, height: 100, channels: 3, background: { r: 0, g: 0, b: 0 } } }).png().toBuffer();
    const png = await drawBoxes(base, [{ box: [20, 30, 80, 90], cls: 2 }, { box: [120, 10, 190, 60], cls: 23 }]);
    const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const at = (x: number, y: number): number[] => [...data.subarray((y * info.width + x) * 3, (y * info.width + x) * 3 + 3)];
    const near = (a: number[], b: number[]): boolean => a.every((v, i) => Math.abs(v - b[i]!) <= 40);
    assert.deepEqual([info.width, info.height], [200, 100]);
    assert.ok(near(at(50, 30), hex(BOX_COLOURS[2])), `top edge ${at(50, 30)}`);
    assert.ok(near(at(20, 60), hex(BOX_COLOURS[2])), `left edge ${at(20, 60)}`);
    assert.ok(near(at(150, 10), hex(BOX_COLOURS[3])), `class 23 wraps to colour 3: ${at(150, 10)}`);
    assert.deepEqual(at(50, 60), [0, 0, 0], 'inside untouched');
    assert.deepEqual(at(100, 95), [0, 0, 0], 'outside untouched');
  });

  it('escapes label text', () => {
    const svg = boxesSvg(10, 10, [{ box: [1, 1, 5, 5], cls: 0, label: '<a&b>' }]);
    assert.match(svg, /&lt;a&amp;b&gt;/);
    assert.doesNotMatch(svg, /<a&b>/);
  });
});
