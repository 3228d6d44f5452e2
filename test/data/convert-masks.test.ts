import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { convertToMasks } from '../../src/data/convert-masks.js';
import { decodeMask } from '../../src/data/image.js';
import { resolveSegmentData } from '../../src/data/segment.js';
import { tempDir, writeImage } from './make-images.js';

/** A rectangle polygon on integer pixel edges: COCO fills x1..x2−1 × y1..y2−1 (pixel centres inside). */
const rect = (x1: number, y1: number, x2: number, y2: number): number[][] => [[x1, y1, x2, y1, x2, y2, x1, y2]];
const box = (x1: number, y1: number, x2: number, y2: number): number[] => [x1, y1, x2 - x1, y2 - y1];

/** Column-major runs (COCO's RLE order) of a row-major 0/1 mask. */
function runs(mask: Uint8Array, h: number, w: number): number[] {
  const out: number[] = [];
  let [cur, n] = [0, 0];
  for (let x = 0; x < w; x++) {
    for (let y = 0; y < h; y++) {
      const v = mask[y * w + x]!;
      if (v !== cur) [out[out.length], cur, n] = [n, v, 0];
      n++;
    }
  }
  return [...out, n];
}

describe('kestrel data convert --to masks', () => {
  const tmp = tempDir('to-masks');
  const src = join(tmp.dir, 'coco');
  const [W, H] = [24, 16];
  const crowd = new Uint8Array(W * H);
  for (let y = 10; y < 16; y++) for (let x = 0; x < 8; x++) crowd[y * W + x] = 1;
  before(async () => {
    await writeImage(join(src, 'images/train/a.png'), W, H, 1, 'png');
    await writeImage(join(src, 'images/train/b.jpg'), W, H, 2, 'jpeg');
    await writeImage(join(src, 'images/val/c.png'), 10, 8, 3, 'png');
    const categories = [{ id: 3, name: 'table' }, { id: 7, name: 'cup' }];
    const train = {
      images: [{ id: 1, file_name: 'a.png', width: W, height: H }, { id: 2, file_name: 'b.jpg', width: W, height: H }],
      annotations: [
        // The cup (small) is listed first, the table (large) after: the cup still ends on top.
        { id: 10, image_id: 1, category_id: 7, segmentation: rect(6, 4, 10, 8), bbox: box(6, 4, 10, 8), iscrowd: 0 },
        { id: 11, image_id: 1, category_id: 3, segmentation: rect(2, 2, 20, 12), bbox: box(2, 2, 20, 12), iscrowd: 0 },
        // A crowd of cups (RLE with a counts list): ignore, except where the table covers it.
        { id: 12, image_id: 1, category_id: 7, segmentation: { size: [H, W], counts: runs(crowd, H, W) }, bbox: box(0, 10, 8, 16), iscrowd: 1 },
        // No outline: its box becomes ignore. An RLE of the wrong size: the same.
        { id: 13, image_id: 2, category_id: 3, bbox: box(20, 0, 24, 3), iscrowd: 0 },
        { id: 14, image_id: 2, category_id: 3, segmentation: { size: [5, 5], counts: [25] }, bbox: box(0, 0, 2, 2), iscrowd: 0 },
        { id: 15, image_id: 99, category_id: 3, segmentation: rect(0, 0, 2, 2), bbox: box(0, 0, 2, 2), iscrowd: 0 },
      ],
      categories,
    };
    const val = { images: [{ id: 1, file_name: 'c.png', width: 10, height: 8 }], annotations: [], categories };
    mkdirSync(join(src, 'annotations'), { recursive: true });
    writeFileSync(join(src, 'annotations/instances_train.json'), JSON.stringify(train));
    writeFileSync(join(src, 'annotations/instances_val.json'), JSON.stringify(val));
    writeFileSync(join(src, 'data.yaml'), 'train: annotations/instances_train.json\nval: annotations/instances_val.json\n');
  });
  after(() => tmp.remove());

  it('paints smaller objects on top, crowds and outline-less objects as 255, and lists what it could not read', async () => {
    const out = join(tmp.dir, 'out');
    const r = await convertToMasks(src, out);
    assert.deepEqual([r.images, r.objects], [3, 2]);
    // Categories sorted by id after background: table = 1, cup = 2.
    const want = new Uint8Array(W * H);
    const fill = (x1: number, y1: number, x2: number, y2: number, v: number): void => {
      for (let y = y1; y < y2; y++) for (let x = x1; x < x2; x++) want[y * W + x] = v;
    };
    fill(0, 10, 8, 16, 255);
    fill(2, 2, 20, 12, 1);
    fill(6, 4, 10, 8, 2);
    const a = await decodeMask(join(out, 'masks/train/a.png'));
    assert.deepEqual([a.width, a.height], [W, H]);
    assert.deepEqual(Array.from(a.data), Array.from(want));
    want.fill(0);
    fill(20, 0, 24, 3, 255);
    fill(0, 0, 2, 2, 255);
    assert.deepEqual(Array.from((await decodeMask(join(out, 'masks/train/b.png'))).data), Array.from(want));
    assert.ok((await decodeMask(join(out, 'masks/val/c.png'))).data.every((v) => v === 0), 'no annotations: all background');
    assert.deepEqual(r.skipped.map((s) => s.reason), [
      'annotation 5: image_id 99 is not in images',
      'annotation id 13 (image b.jpg): no segmentation; its box is marked ignore (255)',
      'annotation id 14 (image b.jpg): RLE size 5×5 (h×w) is not its image\'s 16×24; its box is marked ignore (255)',
    ]);
    const d = await resolveSegmentData(out);
    assert.deepEqual(d.classes, ['background', 'table', 'cup']);
    assert.deepEqual(d.skipped, []);
    assert.deepEqual(d.splits.train.paths.map((p) => p.split('/').slice(-3).join('/')), ['images/train/a.png', 'images/train/b.jpg']);
  });

  it('refuses a split that is not COCO JSON, and a folder that is not empty', async () => {
    const yolo = join(tmp.dir, 'yolo');
    mkdirSync(yolo, { recursive: true });
    writeFileSync(join(yolo, 'data.yaml'), 'train: images/train\nval: images/val\nnames: [a]\n');
    await assert.rejects(convertToMasks(yolo, join(tmp.dir, 'o2')), /--to masks converts COCO instances JSON splits \(polygons or RLE\), and train is not a \.json file/);
    await assert.rejects(convertToMasks(src, src), /--out must be a new or empty folder/);
  });
});
