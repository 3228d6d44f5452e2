// The eval pipeline as run ends at the network's input size: fitPipeline adds a resize to [h, w]
// where a pipeline has no fixed-size end (an MNIST checkpoint's is just normalize), leaves one that
// has it alone, and the resize leaves images already at that size exactly as they were.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fitPipeline, pipelineOutputSize } from '../../src/data/input-size.js';
import { Rng } from '../../src/data/rng.js';
import { applyTransforms, type TransformSpec } from '../../src/data/transforms.js';

const NORM: TransformSpec = { op: 'normalize', mean: [0.5], std: [0.25] };

/** A grey w×h image whose bytes depend on the position. */
const grey = (w: number, h: number): { data: Uint8Array; width: number; height: number; channels: number } =>
  ({ data: Uint8Array.from({ length: w * h }, (_, i) => (i * 37 + (i % w) * 5) & 255), width: w, height: h, channels: 1 });

describe('pipelineOutputSize', () => {
  it('is set by the last fixed-size op and kept by the ops that keep the size', () => {
    assert.equal(pipelineOutputSize([]), null);
    assert.equal(pipelineOutputSize([NORM]), null);
    assert.equal(pipelineOutputSize([{ op: 'resize', size: 32 }, NORM]), null, 'the shorter side only');
    assert.deepEqual(pipelineOutputSize([{ op: 'resize', size: [20, 30] }, NORM]), [20, 30]);
    assert.deepEqual(pipelineOutputSize([{ op: 'resize', size: 36 }, { op: 'centerCrop', size: 32 }, { op: 'hflip', p: 1 }, NORM, { op: 'randomErasing' }]), [32, 32]);
    assert.deepEqual(pipelineOutputSize([{ op: 'randomResizedCrop', size: [24, 16] }, { op: 'rotation', degrees: 10 }, { op: 'trivialAugment' }]), [24, 16]);
    assert.deepEqual(pipelineOutputSize([{ op: 'randomCrop', size: 28, padding: 4 }, { op: 'randAugment' }, { op: 'colorJitter', brightness: 0.2 }]), [28, 28]);
    assert.equal(pipelineOutputSize([{ op: 'centerCrop', size: 28 }, { op: 'resize', size: 30 }]), null, 'a later shorter-side resize undoes it');
  });
});

describe('fitPipeline', () => {
  it('adds a resize to [h, w] before the trailing tensor ops when the pipeline has no fixed-size end', () => {
    assert.deepEqual(fitPipeline([NORM], 28), [{ op: 'resize', size: [28, 28] }, NORM]);
    assert.deepEqual(fitPipeline([], [20, 30]), [{ op: 'resize', size: [20, 30] }]);
    assert.deepEqual(fitPipeline([{ op: 'grayscale' }, NORM, { op: 'randomErasing' }], 8), [{ op: 'grayscale' }, { op: 'resize', size: [8, 8] }, NORM, { op: 'randomErasing' }]);
    assert.deepEqual(fitPipeline([{ op: 'resize', size: 32 }, { op: 'toTensor' }], 32), [{ op: 'resize', size: 32 }, { op: 'resize', size: [32, 32] }, { op: 'toTensor' }]);
  });

  it('leaves a pipeline that already ends at the size as it is, and fixes one that ends at another size', () => {
    const evalPreset: TransformSpec[] = [{ op: 'resize', size: 256 }, { op: 'centerCrop', size: 224 }, NORM];
    assert.deepEqual(fitPipeline(evalPreset, 224), evalPreset);
    assert.deepEqual(fitPipeline(evalPreset, [224, 224]), evalPreset);
    assert.deepEqual(fitPipeline(evalPreset, 192), [...evalPreset.slice(0, 2), { op: 'resize', size: [192, 192] }, NORM]);
    assert.equal(fitPipeline(evalPreset, 224) === evalPreset, false, 'a copy: the caller may keep it');
  });

  it('as run: an image of another size comes out at [h, w]; one already at it gives the same floats as before', () => {
    const rng = (): Rng => Rng.forSample(0, 0, 0);
    const odd = applyTransforms(grey(40, 32), fitPipeline([NORM], 28), rng());
    assert.deepEqual([odd.channels, odd.height, odd.width], [1, 28, 28]);
    const native = grey(28, 28);
    assert.deepEqual(applyTransforms(native, fitPipeline([NORM], 28), rng()).data, applyTransforms(native, [NORM], rng()).data);
  });
});
