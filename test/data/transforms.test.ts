import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { adjustBrightness, adjustContrast, adjustHue, adjustSaturation } from '../../src/data/color.js';
import { centerCrop, hflip, resample, resize, rotate } from '../../src/data/geometry.js';
import type { Img } from '../../src/data/pixels.js';
import { Rng } from '../../src/data/rng.js';
import { applyTransform, applyTransforms, buildTransforms, rrcParams, type TransformSpec } from '../../src/data/transforms.js';
import { parseTransforms } from '../../src/data/transform-schema.js';
import { AUGMENT_OPS, applyOp } from '../../src/data/augment.js';
import { loadFixture, maxAbsDiff, values, type Enc } from '../helpers.js';

const fx = loadFixture('transforms');

/** A fixture's CHW float image as the HWC uint8 image transforms take. */
function hwcOf(e: Enc): Img {
  const [C, H, W] = e.shape as [number, number, number];
  const v = values(e);
  const data = new Uint8Array(C * H * W);
  for (let c = 0; c < C; c++) for (let i = 0; i < H * W; i++) data[i * C + c] = v[c * H * W + i]!;
  return { data, width: W, height: H, channels: C };
}

/** HWC image → CHW numbers (scaled), to compare with torchvision's layout. */
function chw(img: Img, scale = 1): number[] {
  if (img.layout === 'chw') return Array.from(img.data, (v) => v * scale);
  const { width: W, height: H, channels: C } = img;
  const out: number[] = [];
  for (let c = 0; c < C; c++) for (let i = 0; i < H * W; i++) out.push(img.data[i * C + c]! * scale);
  return out;
}

function check(name: string, fn: (img: Img, args: Record<string, unknown>) => Img, atol: number, scale = 1): void {
  it(`${name} matches torchvision (atol ${atol})`, () => {
    const c = fx[name]!;
    const out = fn(hwcOf(c.inputs!['img']!), c.args as Record<string, unknown>);
    const exp = c.outputs[0]!;
    assert.deepEqual([out.channels, out.height, out.width], exp.shape);
    const { diff, at } = maxAbsDiff(chw(out, scale), values(exp));
    assert.ok(diff <= atol, `max abs diff ${diff} at ${at}`);
  });
}

const img3 = (w: number, h: number, f: (x: number, y: number, c: number) => number): Img => {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) data[(y * w + x) * 3 + c] = f(x, y, c);
  return { data, width: w, height: h, channels: 3 };
};

describe('transforms vs torchvision fixtures', () => {
  const size = (a: Record<string, unknown>): [number, number] | number => a['size'] as [number, number] | number;
  check('resize_down', (i, a) => resize(i, size(a)), 1e-3);
  check('resize_up', (i, a) => resize(i, size(a)), 1e-3);
  check('resize_short', (i, a) => resize(i, size(a)), 1e-3);
  check('resize_gray', (i, a) => resize(i, size(a)), 1e-3);
  check('resize_bicubic_down', (i, a) => resize(i, size(a), undefined, 'bicubic'), 1e-3);
  check('resize_bicubic_up', (i, a) => resize(i, size(a), undefined, 'bicubic'), 1e-3);
  check('resized_crop', (i, a) => resample(i, a['left'] as number, a['top'] as number, a['w'] as number, a['h'] as number, 4, 3), 1e-3);
  check('center_crop', (i, a) => centerCrop(i, size(a)), 0);
  check('center_crop_odd', (i, a) => centerCrop(i, size(a)), 0);
  check('center_crop_pad', (i, a) => centerCrop(i, size(a)), 0);
  check('hflip', (i) => hflip(i), 0);
  check('normalize_01', (i, a) => applyTransform(i, { op: 'normalize', mean: a['mean'] as number[], std: a['std'] as number[] }, new Rng(0)), 1e-5);
  check('brightness_01', (i, a) => adjustBrightness(i, a['factor'] as number), 1e-5, 1 / 255);
  // Grey is PIL's 0.299·R (torchvision's tensor path uses 0.2989): differences stay under 1e-4.
  check('contrast_01', (i, a) => adjustContrast(i, a['factor'] as number), 1e-4, 1 / 255);
  check('saturation_01', (i, a) => adjustSaturation(i, a['factor'] as number), 2e-4, 1 / 255);
  check('hue_01', (i, a) => adjustHue(i, a['factor'] as number), 1e-4, 1 / 255);
  check('rotate_bilinear', (i, a) => rotate(i, a['degrees'] as number), 1e-2);
});

describe('transforms on known images', () => {
  const tiny = img3(4, 3, (x, y, c) => 10 * y + x + 100 * c);

  it('hflip mirrors columns exactly and keeps uint8', () => {
    const out = applyTransform(tiny, { op: 'hflip', p: 1 }, new Rng(0));
    assert.ok(out.data instanceof Uint8Array);
    assert.deepEqual(Array.from(out.data.subarray(0, 12)), [3, 103, 203, 2, 102, 202, 1, 101, 201, 0, 100, 200]);
    assert.equal(applyTransform(tiny, { op: 'hflip', p: 0 }, new Rng(0)), tiny);
  });

  it('resize of a constant image is constant', () => {
    const flat = img3(37, 23, () => 77);
    for (const s of [5, 16, 64] as const) {
      const out = resize(flat, [s, s + 3]);
      assert.equal(out.width, s + 3);
      assert.ok(out.data.every((v) => Math.abs(v - 77) < 1e-3), `size ${s}`);
    }
  });

  it('rotate by 90° turns the right edge to the top (counter-clockwise)', () => {
    const right = img3(5, 5, (x) => (x === 4 ? 255 : 0));
    const out = rotate(right, 90, 'nearest');
    for (let x = 0; x < 5; x++) assert.equal(out.data[x * 3], 255, `top row, x=${x}`);
    assert.equal(out.data[(4 * 5 + 2) * 3], 0);
  });

  it('randomCrop offsets stay within the padding', () => {
    const marked = img3(8, 8, (x, y) => 1 + y * 8 + x);
    for (let s = 0; s < 200; s++) {
      const out = applyTransform(marked, { op: 'randomCrop', size: 8, padding: 2 }, new Rng(s));
      let first = -1;
      for (let i = 0; i < 64 && first < 0; i++) if (out.data[i * 3]! > 0) first = i;
      const v = out.data[first * 3]! - 1;
      const [dy, dx] = [Math.floor(first / 8) - Math.floor(v / 8), (first % 8) - (v % 8)];
      assert.ok(Math.abs(dy) <= 2 && Math.abs(dx) <= 2, `shift (${dx}, ${dy})`);
    }
  });

  it('randomResizedCrop params stay inside the image with area in scale and bounded ratio', () => {
    const rng = new Rng(3);
    for (let k = 0; k < 500; k++) {
      const [top, left, h, w] = rrcParams(200, 120, [0.08, 1], [3 / 4, 4 / 3], rng);
      assert.ok(top >= 0 && left >= 0 && top + h <= 120 && left + w <= 200 && h > 0 && w > 0);
    }
  });

  it('normalize gives CHW (v/255 − mean)/std', () => {
    const out = applyTransforms(tiny, [{ op: 'normalize', mean: [0.5, 0.5, 0.5], std: [0.25, 0.5, 1] }], new Rng(0));
    assert.equal(out.layout, 'chw');
    assert.ok(Math.abs(out.data[0]! - (0 / 255 - 0.5) / 0.25) < 1e-6);
    assert.ok(Math.abs(out.data[12 + 5]! - (111 / 255 - 0.5) / 0.5) < 1e-6);
    assert.ok(Math.abs(out.data[24 + 11]! - (223 / 255 - 0.5) / 1) < 1e-6);
  });

  it('geometric ops after normalize are refused', () => {
    assert.throws(() => applyTransforms(tiny, [{ op: 'toTensor' }, { op: 'hflip', p: 1 }], new Rng(0)), /before toTensor/);
  });

  it('randomErasing fills a box with the value on CHW data', () => {
    const out = applyTransforms(img3(32, 32, () => 200), [{ op: 'toTensor' }, { op: 'randomErasing', p: 1, value: 0 }], new Rng(1));
    const zeros = out.data.filter((v) => v === 0).length;
    assert.ok(zeros > 0 && zeros % 3 === 0 && zeros / 3 <= 0.33 * 1024 + 64, `zeros ${zeros}`);
  });

  it('every TrivialAugment op keeps the shape and the 0–255 range', () => {
    const photo = img3(20, 16, (x, y, c) => (x * 13 + y * 7 + c * 50) % 256);
    for (const op of AUGMENT_OPS) {
      for (const mag of op === 'Posterize' ? [4] : op === 'Solarize' ? [128] : [0.5, 10]) {
        const out = applyOp(photo, op, mag);
        assert.deepEqual([out.width, out.height, out.channels], [20, 16, 3], op);
        assert.ok(out.data.every((v) => v >= 0 && v <= 255), op);
      }
    }
  });
});

describe('seeded pipelines', () => {
  const photo = img3(48, 40, (x, y, c) => (x * 5 + y * 3 + c * 70) % 256);
  const pipeline = buildTransforms('train', { imgsz: 32, channels: 3, augment: 'strong' });
  const run = (seed: number): Float32Array => applyTransforms(photo, pipeline, Rng.forSample(seed, 0, 7)).data;

  it('same seed → same output; different seed → different output', () => {
    assert.deepEqual(run(1), run(1));
    assert.notDeepEqual(run(1), run(2));
  });

  it('the full strong pipeline is deterministic for many seeds and yields 3×32×32', () => {
    for (let s = 0; s < 30; s++) assert.equal(run(s).length, 3 * 32 * 32);
  });

  it('buildTransforms picks the documented defaults', () => {
    assert.deepEqual(buildTransforms('eval', { imgsz: 224, channels: 3 }).map((t) => t.op), ['resize', 'centerCrop', 'normalize']);
    assert.deepEqual(buildTransforms('eval', { imgsz: 224, channels: 3 })[0], { op: 'resize', size: 256 });
    assert.deepEqual(buildTransforms('eval', { imgsz: 28, channels: 1, nativeSize: [28, 28] }).map((t) => t.op), ['normalize']);
    const light = buildTransforms('train', { imgsz: 28, channels: 1, augment: 'light', nativeSize: [28, 28] });
    assert.deepEqual(light[0], { op: 'randomCrop', size: 28, padding: 4 });
    assert.ok(!light.some((t) => t.op === 'hflip'), 'no flip for digits unless asked');
    assert.ok(buildTransforms('train', { imgsz: 28, channels: 1, augment: 'light', hflip: true }).some((t) => t.op === 'hflip'));
    assert.deepEqual(buildTransforms('train', { imgsz: 224, channels: 3, augment: 'standard' }).map((t) => t.op), ['randomResizedCrop', 'hflip', 'trivialAugment', 'normalize']);
    assert.equal(buildTransforms('train', { imgsz: 224, channels: 3, augment: 'strong' }).at(-1)!.op, 'randomErasing');
  });

  it('parseTransforms accepts the presets and rejects bad specs in one line', () => {
    const specs: TransformSpec[] = buildTransforms('train', { imgsz: 224, channels: 3, augment: 'strong' });
    assert.deepEqual(parseTransforms(JSON.parse(JSON.stringify(specs))), specs);
    assert.throws(() => parseTransforms([{ op: 'resize' }]), (e: Error) => e.name === 'DataError' && /at 0\.size/.test(e.message) && !e.message.includes('\n'));
    assert.throws(() => parseTransforms([{ op: 'warp' }]), /invalid transform spec/);
    const pil: TransformSpec = { op: 'resize', size: 256, interpolation: 'bicubic', rounding: 'pil' };
    assert.deepEqual(parseTransforms([pil]), [pil]);
    assert.throws(() => parseTransforms([{ op: 'resize', size: 256, interpolation: 'lanczos' }]), /at 0\.interpolation/);
    assert.throws(() => parseTransforms([{ op: 'resize', size: 256, rounding: 'round' }]), /at 0\.rounding/);
  });
});
