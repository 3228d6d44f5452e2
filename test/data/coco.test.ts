// COCO instances JSON as detection splits, and `kestrel data convert` between YOLO and COCO:
// a round trip keeps every box, and each kind of bad annotation is left out and listed.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { convertDetect } from '../../src/data/convert.js';
import { synthDetect } from '../../src/data/synth.js';
import { resolveDetectData, type DetectData } from '../../src/data/yolo.js';

let dir: string;
before(() => void (dir = mkdtempSync(join(tmpdir(), 'kestrel-coco-'))));
after(() => rmSync(dir, { recursive: true, force: true }));

const boxesOf = (d: DetectData): number[][] => [...d.splits.train.boxes!, ...d.splits.val.boxes!].map((t) => [...Array.from(t.boxes), ...Array.from(t.classes)]);
const close = (a: number[][], b: number[][], tol: number): void => {
  assert.equal(a.length, b.length);
  a.forEach((row, i) => {
    assert.equal(row.length, b[i]!.length, `image ${i}`);
    row.forEach((v, j) => assert.ok(Math.abs(v - b[i]![j]!) <= tol, `image ${i} value ${j}: ${v} vs ${b[i]![j]}`));
  });
};

describe('COCO and data convert', () => {
  it('YOLO → COCO → YOLO keeps every image, class and box', async () => {
    const yaml = await synthDetect({ out: join(dir, 'src'), train: 5, val: 2, imgsz: 80, seed: 2 });
    const original = await resolveDetectData(yaml);
    const c = await convertDetect(yaml, 'coco', join(dir, 'as-coco'));
    const coco = await resolveDetectData(c.yaml);
    assert.deepEqual(coco.classes, original.classes);
    assert.deepEqual(coco.skipped, []);
    close(boxesOf(coco), boxesOf(original), 2e-3);
    const y = await convertDetect(c.yaml, 'yolo', join(dir, 'back'));
    const back = await resolveDetectData(y.yaml);
    close(boxesOf(back), boxesOf(original), 1e-3);
    assert.equal(y.boxes, boxesOf(original).reduce((n, r) => n + r.length / 5, 0));
  });

  it('category ids with gaps map by name; bad annotations are left out and listed', async () => {
    const root = join(dir, 'hand');
    mkdirSync(join(root, 'pics'), { recursive: true });
    const png = await sharp({ create: { width: 50, height: 40, channels: 3, background: '#406080' } }).png().toBuffer();
    for (const f of ['a.png', 'b.png']) writeFileSync(join(root, 'pics', f), png);
    const json = {
      images: [{ id: 1, file_name: 'pics/a.png', width: 50, height: 40 }, { id: 2, file_name: 'pics/b.png', width: 50, height: 40 }, { id: 3, file_name: 'pics/gone.png', width: 50, height: 40 }],
      categories: [{ id: 7, name: 'car' }, { id: 3, name: 'bus' }],
      annotations: [
        { id: 1, image_id: 1, category_id: 7, bbox: [5, 6, 10, 8] },
        { id: 2, image_id: 1, category_id: 3, bbox: [20, 10, 5, 5] },
        { id: 3, image_id: 9, category_id: 3, bbox: [1, 1, 2, 2] },
        { id: 4, image_id: 2, category_id: 5, bbox: [1, 1, 2, 2] },
        { id: 5, image_id: 2, category_id: 3, bbox: [1, 1, 2, 2], iscrowd: 1 },
        { id: 6, image_id: 2, category_id: 3, bbox: [45, 30, 20, 20] },
      ],
    };
    writeFileSync(join(root, 'train.json'), JSON.stringify(json));
    writeFileSync(join(root, 'data.yaml'), 'train: train.json\nval: train.json\n');
    const d = await resolveDetectData(root);
    assert.deepEqual(d.classes, ['bus', 'car']);
    assert.deepEqual(Array.from(d.splits.train.boxes![0]!.boxes), [5, 6, 15, 14, 20, 10, 25, 15]);
    assert.deepEqual(Array.from(d.splits.train.boxes![0]!.classes), [1, 0]);
    assert.equal(d.splits.train.boxes![1]!.classes.length, 0);
    const reasons = d.skipped.slice(0, 5).map((s) => `${s.path.split(sep).at(-1)}: ${s.reason}`);
    assert.deepEqual(reasons, [
      'train.json: annotation 2 (id 3): image_id 9 is not in images',
      'train.json: annotation 3 (id 4): category_id 5 is not in categories',
      'train.json: annotation 4 (id 5): a crowd region (iscrowd 1) is not an object box; left out',
      'train.json: annotation 5 (id 6): the box lies outside its 50×40 image',
      'gone.png: image file not found',
    ]);
    await assert.rejects(resolveDetectData(root, { strict: true }), /annotation 2 \(id 3\): image_id 9 is not in images/);
    writeFileSync(join(root, 'bad.json'), '{"images": 3}');
    writeFileSync(join(root, 'data.yaml'), 'train: bad.json\nval: bad.json\nnames: [bus, car]\n');
    await assert.rejects(resolveDetectData(root), (e: Error) => /bad\.json: not COCO instances JSON: images: /.test(e.message) && !e.message.includes('\n'));
  });

  it('convert refuses an --out folder that has files', async () => {
    const out = join(dir, 'full');
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'keep.txt'), 'mine');
    await assert.rejects(convertDetect(join(dir, 'src', 'data.yaml'), 'yolo', out), /--out must be a new or empty folder/);
  });
});
