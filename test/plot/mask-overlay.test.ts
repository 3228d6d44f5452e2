// Class masks coloured over images: the predict page's RGBA layer (maskRgba), laid over an image
// by the usual source-over blend, gives exactly what `kestrel predict --save` blends into the
// pixels (overlayMask) at the same opacity; the colours are the palette's, taken 7 apart, with the
// background and ignore pixels left clear. And the class shares the server answers.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BOX_COLOURS, classColour, classHex, maskRgba, overlayMask } from '../../src/plot/index.js';
import { classShares, sharesOf } from '../../src/tasks/segment/postprocess.js';

const rgbOf = (hex: string): number[] => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));

/** Source-over of an RGBA layer (straight alpha) on an opaque RGB image, as a browser composites it. */
function composite(image: Uint8Array, layer: Uint8ClampedArray): Uint8Array {
  const out = new Uint8Array(image.length);
  for (let p = 0; p < image.length / 3; p++) {
    const a = layer[p * 4 + 3]! / 255;
    for (let c = 0; c < 3; c++) out[p * 3 + c] = Math.round(image[p * 3 + c]! * (1 - a) + layer[p * 4 + c]! * a);
  }
  return out;
}

describe('mask overlays', () => {
  it('class k takes the palette colour 7·(k − 1) along, wrapping after 20', () => {
    assert.deepEqual(classColour(1), rgbOf(BOX_COLOURS[0]));
    assert.deepEqual(classColour(2), rgbOf(BOX_COLOURS[7]));
    assert.deepEqual(classColour(3), rgbOf(BOX_COLOURS[14]));
    assert.deepEqual(classColour(4), rgbOf(BOX_COLOURS[1]));
    assert.deepEqual(classColour(21), classColour(1));
    assert.equal(classHex(1), '#FF3838');
    assert.equal(classHex(2), BOX_COLOURS[7]);
  });

  it('maskRgba colours each class at the opacity, leaves background and ignore clear', () => {
    const mask = Uint8Array.of(0, 1, 2, 255, 3);
    const layer = maskRgba(mask, 0.6);
    assert.deepEqual(Array.from(layer), [
      0, 0, 0, 0,
      ...rgbOf(BOX_COLOURS[0]), 153,
      ...rgbOf(BOX_COLOURS[7]), 153,
      0, 0, 0, 0,
      ...rgbOf(BOX_COLOURS[14]), 153,
    ]);
    assert.deepEqual(Array.from(maskRgba(mask, 2)).filter((_, i) => i % 4 === 3), [0, 255, 255, 0, 255], 'opacity clamped to 1');
    assert.deepEqual(Array.from(maskRgba(mask, 0)), Array.from(layer).map((v, i) => (i % 4 === 3 ? 0 : v)), 'opacity 0: alpha 0 everywhere');
  });

  it('laid over the image it gives what predict --save blends in, RGB and grey alike', () => {
    const w = 7;
    const h = 5;
    const mask = Uint8Array.from({ length: w * h }, (_, i) => [0, 1, 2, 3, 255, 5][(i * 7) % 6]!);
    const rgb = Uint8Array.from({ length: w * h * 3 }, (_, i) => (i * 37) % 256);
    const grey = Uint8Array.from({ length: w * h }, (_, i) => (i * 53) % 256);
    const greyRgb = Uint8Array.from({ length: w * h * 3 }, (_, i) => grey[Math.floor(i / 3)]!);
    // 0.6 and 0.2 are 153/255 and 51/255: the layer's alpha byte holds them exactly.
    for (const alpha of [0.6, 0.2, 1]) {
      assert.deepEqual(composite(rgb, maskRgba(mask, alpha)), overlayMask(rgb, 3, mask, alpha), `RGB at ${alpha}`);
      assert.deepEqual(composite(greyRgb, maskRgba(mask, alpha)), overlayMask(grey, 1, mask, alpha), `grey at ${alpha}`);
    }
    // Where the mask is 0 or 255 the image shows through untouched.
    const out = overlayMask(rgb, 3, mask, 0.6);
    mask.forEach((k, p) => {
      if (k === 0 || k === 255) assert.deepEqual(Array.from(out.subarray(p * 3, p * 3 + 3)), Array.from(rgb.subarray(p * 3, p * 3 + 3)));
    });
  });

  it('sharesOf gives classShares\' values, every class, largest first, the lower class first on a tie', () => {
    const names = ['background', 'a', 'b', 'c'];
    const mask = Uint8Array.of(0, 1, 1, 1, 2, 2, 0, 1, 3, 3, 2, 2);
    const shares = sharesOf(mask, names);
    assert.deepEqual(shares, [
      { label: 'a', class: 1, share: 0.333333 },
      { label: 'b', class: 2, share: 0.333333 },
      { label: 'background', class: 0, share: 0.166667 },
      { label: 'c', class: 3, share: 0.166667 },
    ]);
    const byName = classShares(mask, names);
    shares.forEach((s) => assert.equal(s.share, byName[s.label]));
  });
});
