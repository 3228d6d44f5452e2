// Masks under every transform: geometric ops sample them nearest-neighbour (no value that is a
// blend of two classes ever appears, and the mask stays on its pixels), photometric ops leave them
// as they are. The scene's classes are 10, 30 and 200 (and 255 regions), so any blend of two
// lands outside that set.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyOp, opMap, AUGMENT_OPS, type AugmentOp } from '../../src/data/augment.js';
import { processMemoryBatch, type PipelineConfig, type SourceView } from '../../src/data/batch.js';
import { Rng } from '../../src/data/rng.js';
import { applySampleTransform } from '../../src/data/sample.js';
import { IGNORE, moveSample, type Sample } from '../../src/data/targets.js';
import type { TransformSpec } from '../../src/data/transforms.js';

const [W, H] = [48, 40];
const VALUES = new Set([10, 30, 200, IGNORE]);

/** Blocks of 6–12 px of the classes (and one ignore block); the grey image holds the same values. */
function scene(seed = 1): Sample {
  const rng = new Rng(seed);
  const mask = new Uint8Array(W * H).fill(10);
  for (let k = 0; k < 9; k++) {
    const [x, y, w, h] = [rng.int(0, W - 6), rng.int(0, H - 6), rng.int(6, 13), rng.int(6, 13)];
    const v = k === 8 ? IGNORE : [10, 30, 200][k % 3]!;
    for (let yy = y; yy < Math.min(H, y + h); yy++) for (let xx = x; xx < Math.min(W, x + w); xx++) mask[yy * W + xx] = v;
  }
  return { img: { data: Uint8Array.from(mask), width: W, height: H, channels: 1 }, mask };
}

/** Every mask value is a scene value (no blend), and on pixels well inside a region the image shows that region's value. */
function checkFollows(s: Sample, what: string, exact: boolean, fill?: number): void {
  const { width: w, height: h } = s.img;
  const m = s.mask!;
  assert.equal(m.length, w * h, `${what}: mask size`);
  for (let i = 0; i < m.length; i++) assert.ok(VALUES.has(m[i]!), `${what}: mask value ${m[i]} at ${i % w}, ${Math.floor(i / w)} is a blend`);
  let checked = 0;
  // Interpolation reaches up to 2 output pixels across a boundary (a 2× upscale's bilinear support).
  const r = 2;
  for (let y = r; y < h - r; y++) {
    for (let x = r; x < w - r; x++) {
      const v = m[y * w + x]!;
      const img = s.img.data[y * w + x]!;
      if (exact) {
        // Nearest-neighbour image ops: every pixel; an ignore pixel is the scene's ignore block or padding.
        assert.ok(img === v || (v === IGNORE && img === fill), `${what}: pixel (${x}, ${y}) is ${img}, mask ${v}`);
        checked++;
        continue;
      }
      if (v === IGNORE) continue;
      let flat = true;
      for (let dy = -r; dy <= r && flat; dy++) for (let dx = -r; dx <= r && flat; dx++) flat = m[(y + dy) * w + x + dx] === v;
      if (!flat) continue;
      assert.ok(Math.abs(img - v) < 0.5, `${what}: pixel (${x}, ${y}) is ${img} inside a region of ${v}`);
      checked++;
    }
  }
  assert.ok(checked > 50, `${what}: only ${checked} pixels checked`);
}

describe('masks follow every geometric op, nearest-neighbour', () => {
  // Interpolating image ops: the mask values stay pure, and region interiors line up.
  const interpolated: TransformSpec[] = [
    { op: 'resize', size: 24 },
    { op: 'resize', size: [97, 71] },
    { op: 'randomResizedCrop', size: 40, scale: [0.4, 1] },
    { op: 'letterbox', size: 64 },
    { op: 'rotation', degrees: 30 },
    { op: 'randomAffine', degrees: 15, translate: 0.1, scale: 0.3, shear: 5 },
  ];
  for (const spec of interpolated) {
    it(JSON.stringify(spec), () => {
      for (let seed = 0; seed < 10; seed++) checkFollows(applySampleTransform(scene(seed), spec, new Rng(seed)), `${spec.op} seed ${seed}`, false);
    });
  }

  // Ops that move pixels without interpolating: image and mask agree pixel for pixel.
  const exact: [TransformSpec, number][] = [
    [{ op: 'hflip', p: 1 }, 0],
    [{ op: 'centerCrop', size: [30, 60] }, 0],
    [{ op: 'randomCrop', size: 36, padding: 8, fill: 7 }, 7],
    [{ op: 'letterbox', size: [60, 48], scaleup: false, fill: 114 }, 114],
  ];
  for (const [spec, fill] of exact) {
    it(`${JSON.stringify(spec)}: pixel for pixel`, () => {
      for (let seed = 0; seed < 10; seed++) checkFollows(applySampleTransform(scene(seed), spec, new Rng(seed)), `${spec.op} seed ${seed}`, true, fill);
    });
  }

  for (const op of ['ShearX', 'ShearY', 'TranslateX', 'TranslateY', 'Rotate'] as AugmentOp[]) {
    it(`auto-augment ${op}: pixel for pixel (its image op is nearest too)`, () => {
      for (const mag of op.startsWith('Translate') ? [-9, 6] : op === 'Rotate' ? [-35, 20] : [-0.3, 0.45]) {
        const s = scene(3);
        checkFollows(moveSample(s, opMap(op, mag, W, H), applyOp(s.img, op, mag)), `${op} ${mag}`, true, 0);
      }
    });
  }

  it('the batch path (mosaic, affine, fused resize + flip + normalize) gives pure masks on their pixels', () => {
    const N = 6;
    const scenes = Array.from({ length: N }, (_, i) => scene(i + 20));
    const view: SourceView = {
      kind: 'memory', height: H, width: W, channels: 1,
      images: Uint8Array.from(scenes.flatMap((s) => Array.from(s.img.data))),
      masks: Uint8Array.from(scenes.flatMap((s) => Array.from(s.mask!))),
    };
    const pipelines: TransformSpec[][] = [
      [{ op: 'mosaic', size: 48 }, { op: 'randomAffine', degrees: 10, scale: 0.2 }, { op: 'toTensor' }],
      [{ op: 'resize', size: 36 }, { op: 'centerCrop', size: 32 }, { op: 'hflip', p: 0.5 }, { op: 'normalize', mean: [0], std: [1 / 255] }],
    ];
    for (const transforms of pipelines) {
      const cfg: PipelineConfig = { transforms, seed: 5, channels: 1 };
      const r = processMemoryBatch(view, cfg, { epoch: 0, batch: 0, indices: [0, 1, 2, 3, 4, 5] });
      const [, h, w] = r.shape;
      for (let k = 0; k < r.kept.length; k++) {
        const mask = r.masks!.subarray(k * h * w, (k + 1) * h * w);
        // toTensor divides by 255, the normalize above multiplies back: both to the 0–255 scale.
        const scale = transforms.at(-1)!.op === 'toTensor' ? 255 : 1;
        const data = Float32Array.from(r.data.subarray(k * h * w, (k + 1) * h * w), (v) => v * scale);
        const s: Sample = { img: { data, width: w, height: h, channels: 1 }, mask };
        checkFollows(s, `${transforms[0]!.op} pipeline sample ${k}`, false);
      }
    }
  });
});

describe('photometric ops leave masks alone', () => {
  it('colour, erasing and normalisation ops, and every photometric auto-augment op', () => {
    const specs: TransformSpec[] = [
      { op: 'colorJitter', brightness: 0.6, contrast: 0.6, saturation: 0.5, hue: 0.2 },
      { op: 'hsv' }, { op: 'grayscale', channels: 1 }, { op: 'randomErasing', p: 1 },
      { op: 'toTensor' }, { op: 'normalize', mean: [0.5], std: [0.25] },
    ];
    for (const spec of specs) {
      const s = scene(4);
      const before = s.mask!.slice();
      const out = applySampleTransform(s, spec, new Rng(2));
      assert.deepEqual(out.mask, before, spec.op);
    }
    for (const op of AUGMENT_OPS.filter((o) => opMap(o, 1, W, H) === null)) {
      const s = scene(4);
      const out = moveSample(s, opMap(op, 0.5, W, H), applyOp(s.img, op, op === 'Posterize' ? 4 : op === 'Solarize' ? 128 : 0.5));
      assert.equal(out.mask, s.mask, op);
    }
  });
});
