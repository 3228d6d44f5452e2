import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyOp, opMap, type AugmentOp } from '../../src/data/augment.js';
import { Rng } from '../../src/data/rng.js';
import { applySampleTransform, applySampleTransforms } from '../../src/data/sample.js';
import { IGNORE, moveSample, readBoxes, unletterboxBoxes, type Sample } from '../../src/data/targets.js';
import type { TransformSpec } from '../../src/data/transforms.js';
import { parseTransforms } from '../../src/data/transform-schema.js';

const [W, H] = [64, 48];
/** Four boxes on integer pixel edges; box k has class k + 1, which is also its value in the mask. */
const BOXES = [
  [4, 6, 20, 18],
  [30, 4, 44, 30],
  [10, 28, 26, 44],
  [50, 20, 62, 46],
];

/**
 * The scene every op is checked on: each box drawn as a filled rectangle of its class into the
 * mask, and box 1 as a white rectangle into an otherwise black image.
 */
function scene(): Sample {
  const img = new Uint8Array(W * H * 3);
  const mask = new Uint8Array(W * H);
  BOXES.forEach(([x1, y1, x2, y2], k) => {
    for (let y = y1!; y < y2!; y++) {
      for (let x = x1!; x < x2!; x++) {
        mask[y * W + x] = k + 1;
        if (k === 0) img.fill(255, (y * W + x) * 3, (y * W + x) * 3 + 3);
      }
    }
  });
  return { img: { data: img, width: W, height: H, channels: 3 }, boxes: Float32Array.from(BOXES.flat()), classes: Int32Array.of(1, 2, 3, 4), mask };
}

type Box = [number, number, number, number];

/** The bounding box (continuous coordinates) of the pixels where `hit` holds, or null. */
function bbox(w: number, h: number, hit: (i: number) => boolean): Box | null {
  let [x1, y1, x2, y2] = [Infinity, Infinity, -Infinity, -Infinity];
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (!hit(y * w + x)) continue;
      [x1, y1, x2, y2] = [Math.min(x1, x), Math.min(y1, y), Math.max(x2, x + 1), Math.max(y2, y + 1)];
    }
  }
  return x1 === Infinity ? null : [x1, y1, x2, y2];
}

const boxOf = (s: Sample, k: number): Box => Array.from(s.boxes!.subarray(4 * k, 4 * k + 4)) as Box;
const near = (a: Box, b: Box, tol: number): boolean => a.every((v, i) => Math.abs(v - b[i]!) <= tol);

/**
 * The independent check: each moved box against the bounding box of its rectangle in the moved
 * mask (equal within 1 px for axis-aligned ops; containing it for rotations and affine warps, and
 * within 1.5 px when the rectangle is fully inside), every fully visible rectangle kept, no box
 * without a rectangle, and the white rectangle in the pixels where class 1 is in the mask.
 */
function checkMoved(s: Sample, axisAligned: boolean, what: string, pixels = true): void {
  const { width: w, height: h } = s.img;
  assert.equal(s.mask!.length, w * h, `${what}: mask size`);
  const n = s.classes!.length;
  for (let k = 0; k < n; k++) {
    const c = s.classes![k]!;
    const region = bbox(w, h, (i) => s.mask![i] === c);
    const b = boxOf(s, k);
    assert.ok(region, `${what}: box of class ${c} ${b} has no pixels left in the mask`);
    if (axisAligned) assert.ok(near(b, region, 1), `${what}: class ${c} box ${b} vs mask ${region}`);
    else assert.ok(b[0] <= region[0] + 1 && b[1] <= region[1] + 1 && b[2] >= region[2] - 1 && b[3] >= region[3] - 1, `${what}: class ${c} box ${b} does not contain mask ${region}`);
  }
  for (let c = 1; c <= BOXES.length; c++) {
    const region = bbox(w, h, (i) => s.mask![i] === c);
    if (!region || region[0] === 0 || region[1] === 0 || region[2] === w || region[3] === h || region[2] - region[0] < 4 || region[3] - region[1] < 4) continue;
    const k = Array.from(s.classes!).indexOf(c);
    assert.ok(k >= 0, `${what}: class ${c} fully visible at ${region} but its box was dropped`);
    assert.ok(near(boxOf(s, k), region, axisAligned ? 1 : 1.5), `${what}: class ${c} box ${boxOf(s, k)} vs fully visible mask ${region}`);
  }
  if (!pixels) return;
  const white = bbox(w, h, (i) => s.img.data[i * s.img.channels]! > 127);
  const one = bbox(w, h, (i) => s.mask![i] === 1);
  assert.equal(white === null, one === null, `${what}: white pixels ${white} vs class-1 mask ${one}`);
  if (white && one) assert.ok(near(white, one, axisAligned ? 1 : 1.5), `${what}: white pixels ${white} vs class-1 mask ${one}`);
}

const OPS: [TransformSpec, boolean][] = [
  [{ op: 'resize', size: 32 }, true],
  [{ op: 'resize', size: [90, 70] }, true],
  [{ op: 'centerCrop', size: [30, 40] }, true],
  [{ op: 'centerCrop', size: 72 }, true],
  [{ op: 'randomResizedCrop', size: 40, scale: [0.3, 1] }, true],
  [{ op: 'randomCrop', size: [40, 50], padding: 6 }, true],
  [{ op: 'hflip', p: 0.5 }, true],
  [{ op: 'letterbox', size: 50 }, true],
  [{ op: 'letterbox', size: [40, 100], scaleup: false }, true],
  [{ op: 'rotation', degrees: 35 }, false],
  [{ op: 'randomAffine', degrees: 20, translate: 0.1, scale: 0.4, shear: 8 }, false],
  [{ op: 'randomAffine', degrees: 10, translate: 0.1, scale: 0.5, size: [40, 56] }, false],
];

describe('geometric ops move boxes and masks with the pixels', () => {
  for (const [spec, axis] of OPS) {
    it(`${spec.op} ${JSON.stringify(spec).slice(0, 60)}`, () => {
      for (let seed = 0; seed < 25; seed++) {
        const out = applySampleTransform(scene(), spec, new Rng(seed));
        checkMoved(out, axis, `${spec.op} seed ${seed}`);
        // The image alone, through the classification path, gets the same pixels.
        const img = applySampleTransform({ img: scene().img }, spec, new Rng(seed)).img;
        assert.deepEqual(img.data, out.img.data, `${spec.op} seed ${seed}: pixels differ without targets`);
      }
    });
  }

  it("randomAffine onto another size is Ultralytics' M = T·S·R·C: the input's centre goes to the output's, moved by up to translate", () => {
    const spec: TransformSpec = { op: 'randomAffine', degrees: 30, translate: 0.1, scale: 0.5, shear: 0, size: [40, 56] };
    for (let seed = 0; seed < 20; seed++) {
      const out = applySampleTransform(scene(), spec, new Rng(seed));
      assert.deepEqual([out.img.width, out.img.height], [56, 40]);
      // The draws in Ultralytics' order: angle, scale, shear x, shear y, then translation x, y.
      const r = new Rng(seed);
      const a = (r.uniform(-30, 30) * Math.PI) / 180;
      const k = r.uniform(0.5, 1.5);
      r.uniform(0, 0);
      r.uniform(0, 0);
      const [tx, ty] = [r.uniform(0.4, 0.6) * 56, r.uniform(0.4, 0.6) * 40];
      // The scene is 64 × 48: a box around its centre keeps its centre at (tx, ty), its size scaled by about k.
      const centred = applySampleTransform({ img: scene().img, boxes: Float32Array.of(28, 20, 36, 28), classes: Int32Array.of(1) }, spec, new Rng(seed));
      const [x1, y1, x2, y2] = Array.from(centred.boxes!);
      assert.ok(Math.abs((x1! + x2!) / 2 - tx) < 1e-3 && Math.abs((y1! + y2!) / 2 - ty) < 1e-3, `seed ${seed}: centre ${[(x1! + x2!) / 2, (y1! + y2!) / 2]} vs ${[tx, ty]}`);
      const side = 8 * k * (Math.abs(Math.cos(a)) + Math.abs(Math.sin(a)));
      assert.ok(Math.abs(x2! - x1! - Math.min(side, 56)) < 1e-3, `seed ${seed}: width ${x2! - x1!} vs ${side}`);
    }
  });

  it('padding and rotated-in corners are IGNORE in the mask', () => {
    const padded = applySampleTransform(scene(), { op: 'letterbox', size: 64 }, new Rng(0));
    // 64×48 → 64×48 content, 8 rows of padding above and below.
    assert.deepEqual([padded.img.width, padded.img.height], [64, 64]);
    assert.ok(padded.mask!.subarray(0, 8 * 64).every((v) => v === IGNORE));
    assert.ok(padded.mask!.subarray(56 * 64).every((v) => v === IGNORE));
    assert.equal(padded.img.data[0], 114, 'image padding is 114');
    const rotated = applySampleTransform(scene(), { op: 'rotation', degrees: [45, 45] }, new Rng(0));
    assert.equal(rotated.mask![0], IGNORE, 'top-left corner came from outside');
  });

  it('known values: hflip, letterbox, resize, crops', () => {
    const flip = applySampleTransform(scene(), { op: 'hflip', p: 1 }, new Rng(0));
    assert.deepEqual(boxOf(flip, 0), [44, 6, 60, 18]);
    const lb = applySampleTransform(scene(), { op: 'letterbox', size: 32 }, new Rng(0));
    // Scale 0.5 to 32×24, 4 rows of padding on top.
    assert.deepEqual(boxOf(lb, 0), [2, 7, 10, 13]);
    const rs = applySampleTransform(scene(), { op: 'resize', size: [24, 128] }, new Rng(0));
    assert.deepEqual(boxOf(rs, 1), [60, 2, 88, 15]);
    const cc = applySampleTransform(scene(), { op: 'centerCrop', size: [20, 20] }, new Rng(0));
    // Offsets (14, 22): box 2 (30..44, 4..30) is cut to 8..20 × 0..16.
    assert.deepEqual(Array.from(cc.classes!), [2]);
    assert.deepEqual(boxOf(cc, 0), [8, 0, 20, 16]);
  });

  it('drops boxes cut to under 10% of their area or under 2 px, and keeps the others', () => {
    const s: Sample = { img: { data: new Uint8Array(100 * 100), width: 100, height: 100, channels: 1 }, boxes: Float32Array.of(0, 0, 50, 50, 40, 40, 60, 60, 60, 60, 61.5, 80), classes: Int32Array.of(1, 2, 3) };
    // The window x, y in [45, 95): box 1 keeps 5×5 of 50×50 (1%), box 2 keeps 15×15 of 20×20, box 3 is 1.5 px wide.
    const out = applySampleTransform(s, { op: 'randomCrop', size: 50, padding: 0 }, Rng.from(() => 0.89));
    assert.deepEqual(Array.from(out.classes!), [2]);
    assert.deepEqual(boxOf(out, 0), [0, 0, 15, 15]);
  });

  for (const op of ['ShearX', 'ShearY', 'TranslateX', 'TranslateY', 'Rotate'] as AugmentOp[]) {
    it(`auto-augment ${op} moves targets with its pixels`, () => {
      for (const mag of op.startsWith('Translate') ? [-9.5, 7] : op === 'Rotate' ? [-30, 25] : [-0.3, 0.25]) {
        const s = scene();
        const img = applyOp(s.img, op, mag);
        const out = moveSample(s, opMap(op, mag, W, H), img);
        checkMoved(out, op.startsWith('Translate'), `${op} ${mag}`);
      }
    });
  }

  it('trivialAugment and randAugment move targets, with the pixels of the image-only path', () => {
    for (let seed = 0; seed < 40; seed++) {
      for (const spec of [{ op: 'trivialAugment' }, { op: 'randAugment', n: 2, m: 9 }] as TransformSpec[]) {
        const out = applySampleTransform(scene(), spec, new Rng(seed));
        // Their photometric ops (solarize, brightness) can darken the white rectangle: targets only.
        checkMoved(out, false, `${spec.op} seed ${seed}`, false);
        assert.deepEqual(out.img.data, applySampleTransform({ img: scene().img }, spec, new Rng(seed)).img.data);
      }
    }
  });

  it('photometric ops leave targets as they are', () => {
    for (const spec of [{ op: 'hsv' }, { op: 'colorJitter', brightness: 0.5, hue: 0.1 }, { op: 'grayscale' }, { op: 'randomErasing', p: 1 }] as TransformSpec[]) {
      const s = scene();
      const out = applySampleTransform(s, spec, new Rng(3));
      assert.equal(out.boxes, s.boxes, spec.op);
      assert.equal(out.mask, s.mask, spec.op);
    }
  });
});

describe('geometry maps the input back to the original image', () => {
  const pipelines: TransformSpec[][] = [
    [{ op: 'resize', size: [37, 53] }],
    [{ op: 'letterbox', size: 41 }],
    [{ op: 'letterbox', size: [50, 30] }],
    [{ op: 'centerCrop', size: [46, 62] }],
    [{ op: 'resize', size: 57 }, { op: 'centerCrop', size: 49 }],
    [{ op: 'letterbox', size: 640 }, { op: 'normalize', mean: [0.5], std: [0.5] }],
  ];
  for (const specs of pipelines) {
    it(JSON.stringify(specs), () => {
      const start = { ...scene(), geometry: { size: [H, W] as [number, number], scale: [1, 1] as [number, number], pad: [0, 0] as [number, number] } };
      const out = applySampleTransforms(start, specs, new Rng(0));
      const g = out.geometry!;
      assert.ok(g, 'geometry kept');
      const back = unletterboxBoxes(out.boxes!, g);
      for (let k = 0; k < out.classes!.length; k++) {
        const c = out.classes![k]!;
        const want = BOXES[c - 1]!;
        // Boxes cut by a crop come back as their visible part: compare those against the cut.
        const [x1, y1, x2, y2] = Array.from(back.subarray(4 * k, 4 * k + 4));
        const visible = unletterboxBoxes(Float32Array.of(0, 0, out.img.width, out.img.height), g);
        const cut = [Math.max(want[0]!, visible[0]!), Math.max(want[1]!, visible[1]!), Math.min(want[2]!, visible[2]!), Math.min(want[3]!, visible[3]!)];
        assert.ok(near([x1!, y1!, x2!, y2!], cut as Box, 0.5), `class ${c}: ${[x1, y1, x2, y2]} vs ${cut}`);
      }
      assert.ok(out.classes!.length >= 1);
    });
  }

  it('a rotation loses the geometry', () => {
    const start = { ...scene(), geometry: { size: [H, W] as [number, number], scale: [1, 1] as [number, number], pad: [0, 0] as [number, number] } };
    assert.equal(applySampleTransform(start, { op: 'rotation', degrees: 10 }, new Rng(0)).geometry, null);
  });

  it('a flip maps back through a negative scale', () => {
    const g = { size: [H, W] as [number, number], scale: [1, -1] as [number, number], pad: [0, W] as [number, number] };
    assert.deepEqual(Array.from(unletterboxBoxes(Float32Array.of(44, 6, 60, 18), g)), [4, 6, 20, 18]);
  });
});

describe('box entries', () => {
  it('unreadable entries are reported in one line', () => {
    assert.match(readBoxes(undefined) as string, /^boxes: no Float32Array/);
    assert.match(readBoxes({ boxes: new Float32Array(7), classes: new Int32Array(2) }) as string, /^boxes: 7 values for 2 classes/);
    assert.match(readBoxes({ boxes: Float32Array.of(5, 5, 1, 9), classes: Int32Array.of(0) }) as string, /^boxes: box 0 is not/);
    assert.match(readBoxes({ boxes: Float32Array.of(0, 0, NaN, 9), classes: Int32Array.of(0) }) as string, /finite/);
    const ok = { boxes: new Float32Array(0), classes: new Int32Array(0) };
    assert.equal(readBoxes(ok), ok, 'an empty entry is a background image');
  });
});

describe('task transform specs', () => {
  it('parseTransforms accepts the new ops and rejects bad values in one line', () => {
    const specs: TransformSpec[] = [
      { op: 'mosaic', size: 640, p: 1 },
      { op: 'randomAffine', degrees: 0, translate: 0.1, scale: 0.5, shear: 0 },
      { op: 'hsv', h: 0.015, s: 0.7, v: 0.4 },
      { op: 'hflip', p: 0.5 },
      { op: 'letterbox', size: [480, 640], fill: 114, scaleup: false },
      { op: 'toTensor' },
    ];
    assert.deepEqual(parseTransforms(JSON.parse(JSON.stringify(specs))), specs);
    assert.throws(() => parseTransforms([{ op: 'randomAffine', translate: 2 }]), (e: Error) => /at 0\.translate/.test(e.message) && !e.message.includes('\n'));
    assert.throws(() => parseTransforms([{ op: 'mosaic' }]), /at 0\.size/);
  });

  it('hsv scales value by 1 + r·v on grey images and shifts hue by r·h turns on colour ones', () => {
    const grey = { data: Uint8Array.of(0, 50, 100, 200), width: 4, height: 1, channels: 1 };
    const out = applySampleTransform({ img: grey }, { op: 'hsv', h: 0.5, s: 0.5, v: 0.4 }, new Rng(5)).img;
    const r = new Rng(5);
    r.next();
    r.next();
    const fv = 1 + r.uniform(-1, 1) * 0.4;
    assert.deepEqual(Array.from(out.data), [0, 50, 100, 200].map((x) => Math.fround(Math.min(255, x * fv))));
    // Pure red (hue 0) shifted by dh turns: with s and v gains 0, hue is all that changes.
    const red = { data: Uint8Array.of(255, 0, 0), width: 1, height: 1, channels: 3 };
    const shifted = applySampleTransform({ img: red }, { op: 'hsv', h: 0.5, s: 0, v: 0 }, new Rng(8)).img;
    const dh = new Rng(8).uniform(-1, 1) * 0.5;
    const hue = (dh + 1) % 1;
    // HSV → RGB for s = v = 1: each channel is 1 − clamp(|(6·hue + k) mod 6 − 3| − 1, 0, 1) with k = 0, 4, 2 (R, G, B), scaled.
    const channel = (k: number): number => 255 * Math.min(1, Math.max(0, Math.abs(((6 * hue + k) % 6) - 3) - 1));
    [channel(0), channel(4), channel(2)].forEach((v, c) => assert.ok(Math.abs(shifted.data[c]! - v) < 1e-3, `channel ${c}: ${shifted.data[c]} vs ${v}`));
  });
});
