// Predicted boxes laid over an image shown at another size (the predict page's drawing): each
// corner lands where the image's pixel is shown, per axis; the threshold, order, clipping,
// labels and class colours are the ones the server's pictures use.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BOX_COLOURS, boxColour, boxesSvg, labelInk, overlayBoxes, type PredictedBox } from '../../src/plot/index.js';

const cat: PredictedBox = { label: 'cat', class: 0, score: 0.899, box: [100, 60, 300, 240] };
const dog: PredictedBox = { label: 'dog', class: 21, score: 0.31, box: [320, 0, 640, 480] };
const faint: PredictedBox = { label: 'cat', class: 0, score: 0.1, box: [0, 0, 10, 10] };

describe('overlayBoxes', () => {
  it('scales a 640×480 image shown at 320×240 by one half', () => {
    const [a] = overlayBoxes([cat], { width: 640, height: 480 }, { width: 320, height: 240 });
    assert.deepEqual(a, { x: 50, y: 30, width: 100, height: 90, colour: '#FF3838', ink: '#000000', text: 'cat 0.90', class: 0, score: 0.899 });
  });

  it('scales each axis on its own when the shown size has another aspect', () => {
    // 640×480 squeezed into 480×480: x by 0.75, y by 1.
    const [a] = overlayBoxes([cat], { width: 640, height: 480 }, { width: 480, height: 480 });
    assert.deepEqual([a!.x, a!.y, a!.width, a!.height], [75, 60, 150, 180]);
    // Shown larger than the image: 200×100 at 500×300 (×2.5, ×3).
    const [b] = overlayBoxes([{ ...cat, box: [10, 20, 30, 40] }], { width: 200, height: 100 }, { width: 500, height: 300 });
    assert.deepEqual([b!.x, b!.y, b!.x + b!.width, b!.y + b!.height], [25, 60, 75, 120]);
  });

  it('keeps the boxes at or above the threshold, best first', () => {
    const at = (min: number): string[] => overlayBoxes([faint, dog, cat], { width: 640, height: 480 }, { width: 640, height: 480 }, min).map((b) => b.text);
    assert.deepEqual(at(0), ['cat 0.90', 'dog 0.31', 'cat 0.10']);
    assert.deepEqual(at(0.31), ['cat 0.90', 'dog 0.31']);
    assert.deepEqual(at(0.5), ['cat 0.90']);
    assert.deepEqual(at(0.95), []);
  });

  it('clips boxes that reach past the image to its edges', () => {
    const [a] = overlayBoxes([{ ...cat, box: [-12, -3, 700, 500] }], { width: 640, height: 480 }, { width: 320, height: 240 });
    assert.deepEqual([a!.x, a!.y, a!.width, a!.height], [0, 0, 320, 240]);
  });

  it('gives nothing for an image whose size is not known yet', () => {
    assert.deepEqual(overlayBoxes([cat], { width: 0, height: 0 }, { width: 320, height: 240 }), []);
  });

  it('colours a class as the server-side drawing does, repeating after 20 classes', () => {
    assert.equal(boxColour(21), BOX_COLOURS[1]);
    assert.equal(overlayBoxes([dog], { width: 640, height: 480 }, { width: 640, height: 480 })[0]!.colour, '#FF9D97');
    assert.match(boxesSvg(640, 480, [{ box: dog.box, cls: 21 }]), /stroke="#FF9D97"/);
  });

  it('writes labels in black or white, whichever contrasts more with the class colour (WCAG)', () => {
    // Relative luminance: #FF9D97 0.476 and #FFB21D 0.532 (black 10.5:1, 11.6:1), #344593 0.071 and
    // #0018EC 0.067 (white 8.7:1, 9.0:1); #FF3838 0.244 gives black 5.9:1 over white 3.6:1.
    assert.deepEqual(['#FF9D97', '#FFB21D', '#FF3838', '#344593', '#0018EC'].map(labelInk), ['#000000', '#000000', '#000000', '#FFFFFF', '#FFFFFF']);
    assert.match(boxesSvg(640, 480, [{ box: [10, 40, 50, 90], cls: 12, label: 'x' }]), /<text [^>]*fill="#FFFFFF">x</);
    assert.match(boxesSvg(640, 480, [{ box: [10, 40, 50, 90], cls: 1, label: 'x' }]), /<text [^>]*fill="#000000">x</);
  });
});
