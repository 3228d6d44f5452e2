// A small training set gets a batch that keeps most of it in every epoch, and a line saying so.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fitBatch } from '../../src/engine/batch-size.js';

describe('fitBatch', () => {
  it('180 images at batch 64: lowered to 45, four full steps, nothing dropped', () => {
    const r = fitBatch(180, undefined, 64, 5);
    assert.equal(r.batch, 45);
    assert.equal(180 - Math.floor(180 / r.batch) * r.batch, 0);
    assert.equal(r.notes[0], 'only 180 training images, fewer than 4 batches of 64: batch lowered to 45 (4 steps an epoch; --batch sets it)');
    assert.equal(r.notes[1], 'this run takes only 20 optimizer steps (4 an epoch × 5 epochs): more --epochs (or --time) will likely train better');
  });

  it('drops fewer than one image in four of a small set (the old rule dropped 52 of 180)', () => {
    for (const n of [9, 30, 101, 180, 255]) {
      const { batch } = fitBatch(n, undefined, 64, 100);
      const dropped = n - Math.floor(n / batch) * batch;
      assert.ok(dropped / n < 0.25 && Math.floor(n / batch) >= 4, `${n} images: batch ${batch}, ${dropped} dropped`);
    }
  });

  it('a --batch the user gave is kept, with the same warning', () => {
    const r = fitBatch(180, 64, 64, 50);
    assert.equal(r.batch, 64);
    assert.deepEqual(r.notes, ['only 180 training images, fewer than 4 batches of 64: 2 steps an epoch, 52 images left out of each (--batch 45 would keep nearly all)']);
  });

  it('a set of four batches or more keeps its batch and says nothing', () => {
    assert.deepEqual(fitBatch(60_000, undefined, 64, 5), { batch: 64, notes: [] });
    assert.deepEqual(fitBatch(256, 64, 64, 25), { batch: 64, notes: [] });
  });

  it('a time budget is not judged by its step count; fewer than 2 images is an error', () => {
    assert.deepEqual(fitBatch(256, undefined, 64, Infinity).notes, []);
    assert.throws(() => fitBatch(1, undefined, 64, 5), /has 1 usable image; training needs at least 2/);
  });
});
