// The misclassified-images gallery a run keeps for the web UI: which images, in which order, what
// the PNGs hold, and that a later (better) epoch replaces the earlier set without leftovers.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import sharp from 'sharp';
import type { FileSource, MemorySource } from '../../src/data/source.js';
import { pickErrors, writeValErrors, type ValErrorsIndex } from '../../src/tasks/classify/val-errors.js';
import { tempDir, writeImage } from '../data/make-images.js';

const CLASSES = ['a', 'b', 'c'];
const tmp = tempDir('valerr');
after(() => tmp.remove());

/** Six 4×3 grey images, image k filled with the value 10·k. */
function memorySource(): MemorySource {
  const images = new Uint8Array(6 * 12);
  for (let k = 0; k < 6; k++) images.fill(10 * k, k * 12, (k + 1) * 12);
  return { kind: 'memory', images, height: 3, width: 4, channels: 1, labels: Int32Array.from([0, 1, 2, 0, 1, 2]), ids: [0, 1, 2, 3, 4, 5].map((k) => `val/${k}`) };
}

// Predictions over the samples in the order 5, 4, 3, 2, 1, 0 (as a shuffled loader could give them).
const preds = {
  indices: [5, 4, 3, 2, 1, 0],
  yTrue: [2, 1, 0, 2, 1, 0],
  yPred: [0, 1, 2, 1, 1, 1],
  scores: [[0.6, 0.2, 0.2], [0.1, 0.8, 0.1], [0.05, 0.05, 0.9], [0.3, 0.4, 0.3], [0, 1, 0], [0.2, 0.6, 0.2]],
};

describe('val errors', () => {
  it('pickErrors: only the wrong ones, most confident first, ties in sample order, capped', () => {
    // wrong: positions 0 (score .6, sample 5), 2 (.9, sample 3), 3 (.4, sample 2), 5 (.6, sample 0)
    assert.deepEqual(pickErrors(preds), [2, 5, 0, 3]);
    assert.deepEqual(pickErrors(preds, 2), [2, 5]);
    assert.deepEqual(pickErrors({ ...preds, yPred: preds.yTrue }), []);
  });

  it('memory source: index.json and PNGs with the sample\'s own pixels', async () => {
    const run = join(tmp.dir, 'mem');
    const idx = await writeValErrors(run, memorySource(), preds, CLASSES, 3);
    const onDisk = JSON.parse(readFileSync(join(run, 'val_errors/index.json'), 'utf8')) as ValErrorsIndex;
    assert.deepEqual(onDisk, idx);
    assert.equal(idx.epoch, 3);
    assert.equal(idx.wrong, 4);
    assert.equal(idx.total, 6);
    assert.deepEqual(idx.items.map((i) => [i.file, i.index, i.id, i.true, i.pred, i.score]), [
      ['e3-0.png', 3, 'val/3', 'a', 'c', 0.9],
      ['e3-1.png', 0, 'val/0', 'a', 'b', 0.6],
      ['e3-2.png', 5, 'val/5', 'c', 'a', 0.6],
      ['e3-3.png', 2, 'val/2', 'c', 'b', 0.4],
    ]);
    assert.ok(idx.items.every((i) => i.source === undefined), 'memory samples have no source file');
    const png = join(run, 'val_errors/e3-0.png');
    const meta = await sharp(png).metadata();
    assert.deepEqual([meta.width, meta.height, meta.channels], [4, 3, 1], 'a grey PNG of the sample\'s size');
    const data = await sharp(png).extractChannel(0).raw().toBuffer();
    assert.ok(data.every((v) => v === 30), 'sample 3 is filled with 30');
  });

  it('a later epoch replaces the set: old PNGs are removed, no temp files left', async () => {
    const run = join(tmp.dir, 'mem');
    const fewer = { ...preds, yPred: [2, 1, 0, 2, 1, 1] };
    const idx = await writeValErrors(run, memorySource(), fewer, CLASSES, 5);
    assert.deepEqual(idx.items.map((i) => i.file), ['e5-0.png']);
    assert.deepEqual(readdirSync(join(run, 'val_errors')).sort(), ['e5-0.png', 'index.json']);
  });

  it('file source: thumbnails no larger than 160 px, the source path kept, unreadable files left out', async () => {
    const dir = join(tmp.dir, 'files');
    const paths = [join(dir, 'big.png'), join(dir, 'small.jpg'), join(dir, 'gone.png')];
    await writeImage(paths[0]!, 400, 200, 1, 'png');
    await writeImage(paths[1]!, 30, 20, 2, 'jpeg');
    const source: FileSource = { kind: 'files', paths, labels: Int32Array.from([0, 1, 2]) };
    const p = { indices: [0, 1, 2], yTrue: [0, 1, 2], yPred: [1, 0, 0], scores: [[0.1, 0.9, 0], [0.8, 0.2, 0], [0.7, 0.2, 0.1]] };
    const idx = await writeValErrors(join(tmp.dir, 'frun'), source, p, CLASSES, 1);
    assert.equal(idx.wrong, 3);
    assert.deepEqual(idx.items.map((i) => [i.source, i.true, i.pred]), [[paths[0], 'a', 'b'], [paths[1], 'b', 'a']]);
    const big = await sharp(join(tmp.dir, 'frun/val_errors', idx.items[0]!.file)).metadata();
    assert.deepEqual([big.width, big.height], [160, 80]);
    const small = await sharp(join(tmp.dir, 'frun/val_errors', idx.items[1]!.file)).metadata();
    assert.deepEqual([small.width, small.height], [30, 20], 'small images are not enlarged');
    assert.ok(!existsSync(join(tmp.dir, 'frun/val_errors/e1-2.png')));
  });
});
