import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { processMemoryBatch, type BatchResult, type PipelineConfig, type SourceView } from '../../src/data/batch.js';
import { DataLoader } from '../../src/data/loader.js';
import type { MemorySource } from '../../src/data/source.js';
import { BatchStream } from '../../src/data/stream.js';
import { IGNORE } from '../../src/data/targets.js';
import { applyTransforms, type TransformSpec } from '../../src/data/transforms.js';
import { Rng } from '../../src/data/rng.js';
import { memory } from '../../src/tensor/index.js';

const [H, W, N] = [30, 40, 40];

/**
 * N grey-on-RGB 30×40 images with up to three boxes each; box k of sample i has class 3i + k + 1
 * (unique in the source), drawn as a rectangle of that value into the mask and of twice it into
 * every channel of the image, so pixels, mask and boxes can be checked against each other.
 */
function detectSource(): MemorySource {
  const images = new Uint8Array(N * H * W * 3);
  const masks = new Uint8Array(N * H * W);
  const boxes = Array.from({ length: N }, (_, i) => {
    const list: number[] = [];
    const classes: number[] = [];
    for (let k = 0; k < i % 4; k++) {
      const [x1, y1] = [(i * 7 + k * 13) % 24, (i * 5 + k * 9) % 16];
      const [x2, y2] = [x1 + 6 + ((i + k) % 9), y1 + 5 + ((i * k) % 8)];
      const c = 3 * i + k + 1;
      for (let y = y1; y < y2; y++) {
        for (let x = x1; x < x2; x++) {
          masks[(i * H + y) * W + x] = c;
          images.fill(2 * c, ((i * H + y) * W + x) * 3, ((i * H + y) * W + x + 1) * 3);
        }
      }
      list.push(x1, y1, x2, y2);
      classes.push(c);
    }
    return { boxes: Float32Array.from(list), classes: Int32Array.from(classes) };
  });
  return { kind: 'memory', images, height: H, width: W, channels: 3, labels: new Int32Array(N), ids: Array.from({ length: N }, (_, i) => `d/${i}`), boxes, masks };
}

/** Sample k of a result: its boxes as [class, x1, y1, x2, y2] rows and its mask. */
function sampleOf(r: BatchResult, k: number): { rows: number[][]; mask: Uint8Array; at: (x: number, y: number) => number } {
  const [, h, w] = r.shape;
  const rows: number[][] = [];
  for (let j = 0; j < r.boxes!.length; j += 6) if (r.boxes![j] === k) rows.push(Array.from(r.boxes!.subarray(j + 1, j + 6)));
  const mask = r.masks!.subarray(k * h * w, (k + 1) * h * w);
  return { rows, mask, at: (x, y) => mask[y * w + x]! };
}

async function collect(stream: BatchStream, epoch: number): Promise<BatchResult[]> {
  const out: BatchResult[] = [];
  for await (const r of stream.epoch(epoch)) out.push({ ...r, data: r.data.slice(), masks: r.masks!.slice(), boxes: r.boxes!.slice() });
  return out;
}

describe('mosaic', () => {
  it('boxes match their rectangles in the mask, the pixels follow the mask, the rest is fill', async () => {
    const stream = new BatchStream(detectSource(), { batchSize: 8, workers: 0, seed: 4, transforms: [{ op: 'mosaic', size: 32 }, { op: 'toTensor' }] });
    let boxes = 0;
    let tilesFromOthers = 0;
    for await (const r of stream.epoch(0)) {
      assert.deepEqual(r.shape, [3, 32, 32]);
      for (let k = 0; k < r.kept.length; k++) {
        const { rows, at } = sampleOf(r, k);
        for (const [c, x1, y1, x2, y2] of rows) {
          // The class-c pixels within the box (± 1 px) span the box: the same partner can appear twice.
          let [a, b, cc, d] = [Infinity, Infinity, -Infinity, -Infinity];
          for (let y = Math.max(0, Math.floor(y1!) - 1); y < Math.min(32, Math.ceil(y2!) + 1); y++) {
            for (let x = Math.max(0, Math.floor(x1!) - 1); x < Math.min(32, Math.ceil(x2!) + 1); x++) {
              if (at(x, y) === c) [a, b, cc, d] = [Math.min(a, x), Math.min(b, y), Math.max(cc, x + 1), Math.max(d, y + 1)];
            }
          }
          assert.ok([a - x1!, b - y1!, cc - x2!, d - y2!].every((v) => Math.abs(v) <= 1), `class ${c}: box ${[x1, y1, x2, y2]} vs mask ${[a, b, cc, d]}`);
          if (Math.floor((c! - 1) / 3) !== r.kept[k]) tilesFromOthers++;
          boxes++;
        }
        // Away from edges, a pixel is twice its mask value (114 where no tile is).
        for (let y = 2; y < 30; y++) {
          for (let x = 2; x < 30; x++) {
            const m = at(x, y);
            let flat = true;
            for (let dy = -2; dy <= 2 && flat; dy++) for (let dx = -2; dx <= 2 && flat; dx++) flat = at(x + dx, y + dy) === m;
            if (!flat) continue;
            const v = r.data[((k * 3 + 1) * 32 + y) * 32 + x]! * 255;
            assert.ok(Math.abs(v - (m === IGNORE ? 114 : 2 * m)) < 0.01, `sample ${r.kept[k]} (${x}, ${y}): pixel ${v}, mask ${m}`);
          }
        }
      }
    }
    assert.ok(boxes > 40 && tilesFromOthers > 20, `${boxes} boxes, ${tilesFromOthers} from partner tiles`);
  });

  it("crop: false keeps the 2·size canvas; a randomAffine onto size that neither scales nor moves frames its middle, the cropped mosaic", () => {
    const view: SourceView = { kind: 'memory', images: detectSource().images, height: H, width: W, channels: 3, boxes: detectSource().boxes!, masks: detectSource().masks! };
    const run = (transforms: TransformSpec[], indices: number[]): BatchResult => processMemoryBatch(view, { transforms, seed: 3, channels: 3 }, { epoch: 1, batch: 0, indices });
    const indices = [1, 2, 3, 5, 6, 7, 9, 10];
    const canvas = run([{ op: 'mosaic', size: 32, crop: false }, { op: 'toTensor' }], indices);
    assert.deepEqual(canvas.shape, [3, 64, 64]);
    const cropped = run([{ op: 'mosaic', size: 32 }, { op: 'toTensor' }], indices);
    const framed = run([{ op: 'mosaic', size: 32, crop: false }, { op: 'randomAffine', degrees: 0, translate: 0, scale: 0, shear: 0, size: 32 }, { op: 'toTensor' }], indices);
    assert.deepEqual(framed.shape, [3, 32, 32]);
    assert.deepEqual(framed.data, cropped.data);
    assert.deepEqual(framed.masks, cropped.masks);
    // Boxes through the affine map and through the crop's shift agree to float rounding.
    assert.equal(framed.boxes!.length, cropped.boxes!.length);
    framed.boxes!.forEach((v, i) => assert.ok(Math.abs(v - cropped.boxes![i]!) < 1e-4, `box entry ${i}: ${v} vs ${cropped.boxes![i]}`));
    // The canvas holds more boxes than its middle: a zoom out has them to show.
    assert.ok(canvas.boxes!.length > cropped.boxes!.length, `${canvas.boxes!.length / 6} boxes on the canvas, ${cropped.boxes!.length / 6} in its middle`);
  });

  it('with p = 0 it letterboxes the sample alone', () => {
    const view: SourceView = { kind: 'memory', images: detectSource().images, height: H, width: W, channels: 3, boxes: detectSource().boxes!, masks: detectSource().masks! };
    const cfg: PipelineConfig = { transforms: [{ op: 'mosaic', size: 32, p: 0 }], seed: 0, channels: 3 };
    const r = processMemoryBatch(view, cfg, { epoch: 0, batch: 0, indices: [5] });
    // 40×30 → 32×24 and 4 rows of padding above: sample 5's one box scaled by 0.8 and shifted down 4.
    const src = detectSource().boxes![5]!;
    const want = [0, 3 * 5 + 1, src.boxes[0]! * 0.8, src.boxes[1]! * 0.8 + 4, src.boxes[2]! * 0.8, src.boxes[3]! * 0.8 + 4];
    assert.deepEqual(Array.from(r.boxes!).map((v) => +v.toFixed(4)), want.map((v) => +Math.fround(v).toFixed(4)));
  });
});

const TRAIN: TransformSpec[] = [
  { op: 'mosaic', size: 32, p: 0.7 },
  { op: 'randomAffine', degrees: 10, translate: 0.1, scale: 0.3, shear: 4 },
  { op: 'hsv' },
  { op: 'hflip', p: 0.5 },
  { op: 'normalize', mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] },
];

describe('targets through the loader', () => {
  it('workers 0 and 2 give the same bytes, boxes and masks; an epoch repeats with the same seed', async () => {
    const runs: BatchResult[][] = [];
    for (const workers of [0, 2, 0]) {
      const stream = new BatchStream(detectSource(), { batchSize: 6, shuffle: true, seed: 11, workers, transforms: TRAIN });
      runs.push(await collect(stream, 2));
      await stream.close();
    }
    assert.equal(runs[0]!.length, 7);
    assert.ok(runs[0]!.reduce((n, r) => n + r.boxes!.length / 6, 0) > 20, 'boxes survive the pipeline');
    assert.deepEqual(runs[1], runs[0]);
    assert.deepEqual(runs[2], runs[0]);
    const other = new BatchStream(detectSource(), { batchSize: 6, shuffle: true, seed: 11, workers: 0, transforms: TRAIN });
    assert.notDeepEqual((await collect(other, 3))[0]!.boxes, runs[0]![0]!.boxes);
  });

  it('the fused tail moves targets as the ops one by one do', () => {
    const src = detectSource();
    const view: SourceView = { kind: 'memory', images: src.images, height: H, width: W, channels: 3, boxes: src.boxes!, masks: src.masks! };
    const transforms: TransformSpec[] = [{ op: 'resize', size: 50 }, { op: 'centerCrop', size: 44 }, { op: 'hflip' }, { op: 'normalize', mean: [0.5], std: [0.5] }];
    const job = { epoch: 1, batch: 0, indices: Array.from({ length: N }, (_, i) => i) };
    const fused = processMemoryBatch(view, { transforms, seed: 2, channels: 3, geometry: true }, job);
    const plain = processMemoryBatch(view, { transforms, seed: 2, channels: 3, geometry: true, fuse: false }, job);
    assert.deepEqual(fused.masks, plain.masks);
    assert.deepEqual(fused.geometry, plain.geometry);
    assert.equal(fused.boxes!.length, plain.boxes!.length);
    fused.boxes!.forEach((v, j) => assert.ok(Math.abs(v - plain.boxes![j]!) < 1e-4, `value ${j}: ${v} vs ${plain.boxes![j]}`));
    assert.ok(fused.geometry!.some((g) => g.scale[1] < 0), 'some samples flipped');
  });

  it('DataLoader batches carry boxes [M, 6], masks [B, H, W] uint8 and geometry, and dispose frees them all', async () => {
    const loader = new DataLoader(detectSource(), { batchSize: 8, workers: 0, transforms: [{ op: 'letterbox', size: 48 }, { op: 'toTensor' }] });
    const before = memory().tensors;
    let seen = 0;
    for await (const b of loader.epoch(0)) {
      assert.deepEqual([b.images.shape, b.masks!.shape, b.masks!.dtype, b.boxes!.dtype], [[8, 3, 48, 48], [8, 48, 48], 'uint8', 'float32']);
      const flat = b.boxes!.dataSync() as Float32Array;
      const rows = Array.from({ length: b.boxes!.shape[0]! }, (_, j) => Array.from(flat.subarray(6 * j, 6 * j + 6)));
      assert.equal(b.boxes!.shape[1], 6);
      // 40×30 → 48×36, 6 rows of padding above: every box is scaled by 1.2 and shifted down 6.
      for (const [k, c, x1, y1, x2, y2] of rows) {
        const i = b.indices[k!]!;
        const j = c! - 3 * i - 1;
        const src = detectSource().boxes![i]!.boxes.subarray(4 * j, 4 * j + 4);
        const want = [src[0]! * 1.2, src[1]! * 1.2 + 6, src[2]! * 1.2, src[3]! * 1.2 + 6];
        [x1, y1, x2, y2].forEach((v, q) => assert.ok(Math.abs(v! - want[q]!) < 1e-4, `sample ${i} box ${j}: ${[x1, y1, x2, y2]} vs ${want}`));
        seen++;
      }
      assert.deepEqual(b.geometry![0], { size: [30, 40], scale: [1.2, 1.2], pad: [6, 0] });
      assert.ok((b.masks!.dataSync() as Uint8Array).subarray(0, 6 * 48).every((v) => v === IGNORE), 'padding rows are IGNORE');
      b.dispose();
    }
    assert.equal(seen, Array.from({ length: N }, (_, i) => i % 4).reduce((a, v) => a + v, 0));
    assert.equal(memory().tensors, before);
  });

  it('background images (empty box entries) give a [0, 6] boxes tensor', async () => {
    const src = detectSource();
    src.boxes = src.boxes!.map(() => ({ boxes: new Float32Array(0), classes: new Int32Array(0) }));
    const loader = new DataLoader(src, { batchSize: 5, workers: 0, transforms: [{ op: 'hflip' }] });
    for await (const b of loader.epoch(0)) {
      assert.deepEqual([b.boxes!.shape, b.masks!.shape], [[0, 6], [5, 30, 40]]);
      b.dispose();
    }
  });

  it('a sample whose boxes cannot be read fails alone, in one line', async () => {
    const src = detectSource();
    src.boxes![3] = { boxes: new Float32Array(5), classes: Int32Array.of(1) };
    const skipped: string[] = [];
    const loader = new DataLoader(src, { batchSize: 8, workers: 0, transforms: [{ op: 'letterbox', size: 32 }], onSkip: (p, why) => skipped.push(`${p}: ${why}`) });
    const kept: number[] = [];
    for await (const b of loader.epoch(0)) {
      kept.push(...b.indices);
      b.dispose();
    }
    assert.deepEqual(skipped, ['d/3: boxes: 5 values for 1 classes (4 per box)']);
    assert.equal(kept.length, N - 1);
  });

  it('classification sources carry no targets, and each sample is what applyTransforms gives it', async () => {
    const { boxes: _b, masks: _m, ...plain } = detectSource();
    const transforms: TransformSpec[] = [{ op: 'randomCrop', size: 28, padding: 2 }, { op: 'hflip' }, { op: 'normalize', mean: [0.5, 0.4, 0.3], std: [0.5, 0.5, 0.5] }];
    const stream = new BatchStream(plain, { batchSize: 8, workers: 0, seed: 1, transforms });
    for await (const r of stream.epoch(0)) {
      assert.deepEqual([r.boxes, r.masks, r.geometry], [undefined, undefined, undefined]);
      r.kept.forEach((i, k) => {
        const img = { data: plain.images.subarray(i * H * W * 3, (i + 1) * H * W * 3), width: W, height: H, channels: 3 };
        const want = applyTransforms(img, transforms, Rng.forSample(1, 0, i)).data;
        assert.deepEqual(r.data.subarray(k * want.length, (k + 1) * want.length), want, `sample ${i}`);
      });
    }
  });

  it('refuses a mosaic that is not first, geometry through a rotation, and targets that do not match the samples', () => {
    const src = detectSource();
    assert.throws(() => new BatchStream(src, { batchSize: 4, transforms: [{ op: 'hflip' }, { op: 'mosaic', size: 32 }] }), /^PipelineError: transform 'mosaic' must be the first one/);
    assert.throws(() => new BatchStream(src, { batchSize: 4, geometry: true, transforms: [{ op: 'rotation', degrees: 5 }] }), /geometry needs axis-aligned transforms .*'rotation' is not/);
    assert.throws(() => new BatchStream({ ...src, boxes: src.boxes!.slice(1) }, { batchSize: 4 }), /^DataError: source has 39 box entries for 40 samples$/);
    assert.throws(() => new BatchStream({ ...src, masks: src.masks!.subarray(1) }, { batchSize: 4 }), /source masks hold 47999 bytes/);
  });
});
