// The detection run's data: mosaic batches with boxes inside the input, validation batches whose
// geometry maps boxes back to the original pixels, mosaic closing for the last epochs.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { synthDetect } from '../../src/data/synth.js';
import { unletterboxBoxes } from '../../src/data/targets.js';
import { optimizerDefaults } from '../../src/engine/optimizer.js';
import { parseDetectArgs } from '../../src/tasks/detect/config.js';
import { mosaicClosed, prepareDetect } from '../../src/tasks/detect/setup.js';

let dir: string;
let yaml: string;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kestrel-detect-setup-'));
  yaml = await synthDetect({ out: join(dir, 'digits'), train: 10, val: 5, imgsz: 96, seed: 1 });
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('detection setup', () => {
  it("the optimizer detection gets: AdamW at 2e-3 unless told, SGD at the engine's 0.01, a given lr kept", () => {
    assert.deepEqual(optimizerDefaults(parseDetectArgs({})), { lr: 0.002, weightDecay: 0.0005 });
    assert.deepEqual(optimizerDefaults(parseDetectArgs({ optimizer: 'sgd' })), { lr: 0.01, weightDecay: 0.0005 });
    assert.equal(parseDetectArgs({ lr: 0.0007 }).lr, 0.0007);
  });

  it('mosaic closes for the last closeMosaic epochs of the current plan', () => {
    assert.deepEqual([1, 2, 3, 4, 5].map((e) => mosaicClosed(e, 5, 2)), [false, false, false, true, true]);
    assert.deepEqual([1, 2].map((e) => mosaicClosed(e, 2, 0)), [false, false]);
  });

  it('training batches carry boxes inside the input; validation geometry maps them back to the originals', async () => {
    const s = await prepareDetect(parseDetectArgs({ data: yaml, imgsz: 64, batch: 4, workers: 0 }));
    try {
      for await (const b of s.trainLoader.epoch(1)) {
        assert.deepEqual(b.images.shape, [4, 3, 64, 64]);
        const rows = b.boxes!.toArray();
        assert.ok(rows.length > 0 && rows.length % 6 === 0);
        for (let i = 0; i < rows.length; i += 6) {
          assert.ok(rows[i]! >= 0 && rows[i]! < 4 && Number.isInteger(rows[i]));
          assert.ok(rows[i + 2]! >= 0 && rows[i + 3]! >= 0 && rows[i + 4]! <= 64 && rows[i + 5]! <= 64);
        }
        b.dispose();
        break;
      }
      let seen = 0;
      for await (const b of s.valLoader.epoch(0)) {
        const rows = b.boxes!.toArray();
        b.indices.forEach((index, k) => {
          const mine = [];
          for (let i = 0; i < rows.length; i += 6) if (rows[i] === k) mine.push(...rows.slice(i + 2, i + 6));
          const back = Array.from(unletterboxBoxes(mine, b.geometry![k]!));
          const original = Array.from(s.data.splits.val.boxes![index]!.boxes);
          assert.equal(back.length, original.length, `image ${index}`);
          back.forEach((v, j) => assert.ok(Math.abs(v - original[j]!) <= 0.5, `image ${index}: ${v} vs ${original[j]}`));
          seen++;
        });
        b.dispose();
      }
      assert.equal(seen, 5);
    } finally {
      await s.trainLoader.close();
      await s.closeLoader?.close();
      await s.valLoader.close();
    }
  });

  it('a set smaller than a few batches trains with a smaller batch, and says so', async () => {
    const s = await prepareDetect(parseDetectArgs({ data: yaml, imgsz: 64, workers: 0 }));
    assert.equal(s.batch, 2);
    assert.equal(s.trainLoader.length, 5);
    assert.match(s.notes[0]!, /^only 10 training images, fewer than 4 batches of 16: batch lowered to 2 \(5 steps an epoch; --batch sets it\)$/);
    await s.trainLoader.close();
    await s.closeLoader?.close();
    await s.valLoader.close();
  });
});
