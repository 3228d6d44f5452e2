// The fused tail (resample + flip + normalize in one pass into the batch buffer) gives exactly the
// floats of applying the same transforms one by one, and draws the same random numbers.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { processBatch, processMemoryBatch, type PipelineConfig, type SourceView } from '../../src/data/batch.js';
import { planTransforms } from '../../src/data/fused.js';
import { buildTransforms, type TransformSpec } from '../../src/data/transforms.js';
import { tempDir, writeImage } from './make-images.js';

const NORM: TransformSpec = { op: 'normalize', mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

/** Pipelines with a fusable tail, and the ops that must remain in the head. */
const PIPELINES: Record<string, { specs: TransformSpec[]; head: string[]; exact?: boolean }> = {
  'randomResizedCrop + hflip + normalize': { specs: [{ op: 'randomResizedCrop', size: 24 }, { op: 'hflip', p: 0.5 }, NORM], head: [] },
  'eval preset (resize + centerCrop + normalize)': { specs: buildTransforms('eval', { imgsz: 64, channels: 3 }), head: [] },
  'resize to [h, w] + always flip + toTensor': { specs: [{ op: 'resize', size: [20, 30] }, { op: 'hflip', p: 1 }, { op: 'toTensor' }], head: [] },
  'centerCrop larger than some images (those pad, one by one)': { specs: [{ op: 'centerCrop', size: 36 }, NORM], head: [], exact: true },
  'colour head (float pixels, JS pass), rrc with a [h, w] size': { specs: [{ op: 'colorJitter', brightness: 0.4 }, { op: 'randomResizedCrop', size: [16, 12], scale: [0.3, 1] }, NORM], head: ['colorJitter'], exact: true },
  'light train preset (rrc + hflip + normalize)': { specs: buildTransforms('train', { imgsz: 64, channels: 3, augment: 'light' }), head: [] },
  'nothing but the implied toTensor': { specs: [], head: [], exact: true },
  'bicubic resize + centerCrop + normalize': { specs: [{ op: 'resize', size: 40, interpolation: 'bicubic' }, { op: 'centerCrop', size: 32 }, NORM], head: [] },
  "PIL-rounded resize (a step of its own) + centerCrop + normalize": { specs: [{ op: 'resize', size: 40, rounding: 'pil' }, { op: 'centerCrop', size: 32 }, NORM], head: ['resize'], exact: true },
};

const job = { epoch: 2, batch: 0, indices: [3, 0, 5, 1, 4, 2] };
const cfg = (transforms: TransformSpec[], fuse: boolean, channels: 1 | 3 = 3): PipelineConfig => ({ transforms, seed: 7, channels, fuse });

/**
 * Equal floats, or within `atol` where the fused pass ran in WebAssembly (8-bit RGB, resized:
 * float32 accumulation there, double in the JS passes).
 */
function assertSame(a: { data: Float32Array; shape: number[] }, b: { data: Float32Array; shape: number[] }, atol = 0): void {
  assert.deepEqual(a.shape, b.shape);
  assert.equal(a.data.length, b.data.length);
  const i = a.data.findIndex((v, k) => (atol === 0 ? !Object.is(v, b.data[k]) : !(Math.abs(v - b.data[k]!) <= atol)));
  assert.equal(i, -1, `fused and one-by-one differ at ${i}: ${a.data[i]} vs ${b.data[i]}`);
}

describe('fused transform tail', () => {
  let tmp: ReturnType<typeof tempDir>;
  const files: SourceView = { kind: 'files', paths: [] };
  before(async () => {
    tmp = tempDir('fused');
    // Sizes on both sides of the crops, landscape and portrait, JPEG and PNG.
    const sizes: [number, number][] = [[40, 30], [30, 44], [36, 36], [64, 20], [25, 50], [48, 33]];
    for (const [k, [w, h]] of sizes.entries()) {
      const p = join(tmp.dir, `${k}.${k % 2 ? 'png' : 'jpg'}`);
      await writeImage(p, w, h, k, k % 2 ? 'png' : 'jpeg');
      (files.paths as string[]).push(p);
    }
  });
  after(() => tmp.remove());

  for (const [name, { specs, head, exact }] of Object.entries(PIPELINES)) {
    it(`${name}: same floats as one by one`, async () => {
      assert.deepEqual(planTransforms(specs).head.map((t) => t.op), head);
      assert.notEqual(planTransforms(specs).tail, null);
      const sized = specs.some((t) => ['randomResizedCrop', 'centerCrop', 'resize'].includes(t.op));
      // Without a resize only same-size images batch: the square one, three times.
      const indices = sized ? job.indices : [0, 1, 2];
      const view: SourceView = sized ? files : { kind: 'files', paths: indices.map(() => files.paths[2]!) };
      const [fused, plain] = [await processBatch(view, cfg(specs, true), { ...job, indices }), await processBatch(view, cfg(specs, false), { ...job, indices })];
      assert.equal(fused.kept.length, indices.length);
      assertSame(fused, plain, exact ? 0 : 2e-5);
    });
  }

  it('one channel, from memory: same floats', () => {
    const [H, W, n] = [20, 26, 6];
    const images = Uint8Array.from({ length: n * H * W }, (_, i) => (i * 37) % 251);
    const view: SourceView = { kind: 'memory', images, height: H, width: W, channels: 1 };
    for (const specs of [[{ op: 'randomResizedCrop', size: 16 }, { op: 'hflip' }, { op: 'normalize', mean: [0.13], std: [0.31] }], [{ op: 'normalize', mean: [0.5], std: [0.5] }]] as TransformSpec[][]) {
      assertSame(processMemoryBatch(view, cfg(specs, true, 1), job), processMemoryBatch(view, cfg(specs, false, 1), job));
    }
  });

  it('flip and normalize land where they should', () => {
    // A 2×1 grey image [10, 200], flipped and scaled: CHW [200, 10] / 255.
    const view: SourceView = { kind: 'memory', images: Uint8Array.from([10, 200]), height: 1, width: 2, channels: 1 };
    const r = processMemoryBatch(view, cfg([{ op: 'hflip', p: 1 }, { op: 'toTensor' }], true, 1), { epoch: 0, batch: 0, indices: [0] });
    assert.deepEqual(Array.from(r.data), [200 / 255, 10 / 255].map(Math.fround));
  });

  it('leaves pipelines it cannot fuse to the one-by-one path', () => {
    assert.equal(planTransforms([{ op: 'toTensor' }, NORM]).tail, null);
    assert.equal(planTransforms([NORM, { op: 'randomErasing' }]).tail, null);
    const strong = planTransforms(buildTransforms('train', { imgsz: 224, channels: 3, augment: 'standard' }));
    assert.deepEqual(strong.head.map((t) => t.op), ['randomResizedCrop', 'hflip', 'trivialAugment']);
    assert.deepEqual(planTransforms([{ op: 'randomCrop', size: 8, padding: 2 }, NORM]).head.map((t) => t.op), ['randomCrop']);
  });
});
