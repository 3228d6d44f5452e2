// The YOLO detection layout: data.yaml, images/ beside labels/, boxes in pixels, and each kind of
// bad label left out and listed (or a one-line error with strict).
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { labelPathOf, parseYoloLabels, resolveDetectData } from '../../src/data/yolo.js';

let root: string;
const png = (w: number, h: number): Promise<Buffer> => sharp({ create: { width: w, height: h, channels: 3, background: { r: 90, g: 120, b: 30 } } }).png().toBuffer();

async function image(split: string, name: string, w: number, h: number, label?: string | Buffer): Promise<void> {
  mkdirSync(join(root, 'images', split), { recursive: true });
  mkdirSync(join(root, 'labels', split), { recursive: true });
  writeFileSync(join(root, 'images', split, `${name}.png`), await png(w, h));
  if (label !== undefined) writeFileSync(join(root, 'labels', split, `${name}.txt`), label);
}

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'kestrel-yolo-'));
  await image('train', 'a', 40, 20, '0 0.5 0.5 0.5 0.5\n1 0.25 0.25 0.1 0.2\n');
  await image('train', 'bg-empty', 40, 20, '');
  await image('train', 'bg-missing', 40, 20);
  await image('train', 'bad-lines', 100, 50, '2 0.5 0.5 0.2 0.2\n7 0.5 0.5 0.2 0.2\n0 0.5 0.5 abc 0.1\n1 1.4 0.5 0.2 0.2\n0 0.5 0.5 0 0.1\n2 0.5 0.5 0.2 0.2\n');
  await image('train', 'corrupt', 40, 20, Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x9c]));
  await image('val', 'v', 64, 32, '1 0.1 0.2 0.3 0.5 0.2 0.4\n');
  writeFileSync(join(root, 'data.yaml'), 'train: images/train\nval: images/val\nnames:\n  0: cat\n  1: dog\n  2: bird\n');
});
after(() => rmSync(root, { recursive: true, force: true }));

describe('YOLO layout', () => {
  it('label paths follow Ultralytics: the last images/ becomes labels/', () => {
    assert.equal(labelPathOf(`${sep}d${sep}images${sep}x${sep}images${sep}train${sep}a.jpg`), `${sep}d${sep}images${sep}x${sep}labels${sep}train${sep}a.txt`);
  });

  it('reads boxes in pixels, backgrounds from empty or missing label files, polygons as their box', async () => {
    const d = await resolveDetectData(join(root, 'data.yaml'));
    assert.deepEqual(d.classes, ['cat', 'dog', 'bird']);
    const names = d.splits.train.paths.map((p) => p.split(sep).at(-1));
    assert.deepEqual(names, ['a.png', 'bad-lines.png', 'bg-empty.png', 'bg-missing.png']);
    const a = d.splits.train.boxes![0]!;
    // cx 0.5, w 0.5 of 40 px → x 10..30; cy 0.5, h 0.5 of 20 px → y 5..15.
    assert.deepEqual([...a.boxes], [10, 5, 30, 15, 8, 3, 12, 7]);
    assert.deepEqual([...a.classes], [0, 1]);
    assert.equal(d.splits.train.boxes![2]!.classes.length, 0);
    assert.equal(d.splits.train.boxes![3]!.classes.length, 0);
    // Polygon (0.1, 0.2) (0.3, 0.5) (0.2, 0.4) on 64×32 → x 6.4..19.2, y 6.4..16.
    const v = d.splits.val.boxes![0]!;
    assert.deepEqual([...v.boxes].map((x) => Number(x.toFixed(4))), [6.4, 6.4, 19.2, 16]);
  });

  it('bad lines are left out and listed; the good ones stay; a label file that is not text leaves its image out', async () => {
    const d = await resolveDetectData(root);
    const bad = d.splits.train.boxes![1]!;
    assert.deepEqual([...bad.classes], [2]);
    const reasons = d.skipped.map((s) => `${s.path.split(sep).at(-1)}: ${s.reason}`);
    assert.deepEqual(reasons, [
      'bad-lines.txt: line 2: class 7 is not one of the 3 classes (0–2)',
      "bad-lines.txt: line 3: expected 'class cx cy w h', got '0 0.5 0.5 abc 0.1'",
      'bad-lines.txt: line 4: the box lies outside the image (coordinates must be normalised to 0–1)',
      'bad-lines.txt: line 5: the box has no area',
      'bad-lines.txt: line 6: duplicate of an earlier line',
      'corrupt.txt: the label file is not text; its image is left out',
    ]);
  });

  it('strict stops at the first problem with one line', async () => {
    await assert.rejects(resolveDetectData(root, { strict: true }), (e: Error) => /bad-lines\.txt: line 2: class 7 is not one of the 3 classes/.test(e.message) && !e.message.includes('\n'));
  });

  it('a broken data.yaml gives one line naming the problem', async () => {
    const cases: [string, RegExp][] = [
      ['train: images/train\nnames: [a]\n', /no val split \(Kestrel validates every epoch/],
      ['tarin: images/train\nval: images/val\nnames: [a]\n', /no train split \(unknown key 'tarin': did you mean 'train'\?\)$/],
      ['train: images/train\nvalid: images/val\nnames: [a]\n', /no val split \(unknown key 'valid': did you mean 'val'\?\)$/],
      ['train: images/train\nval: images/val\n', /no names/],
      ['train: images/train\nval: images/val\nnc: 4\nnames: [a, b, c]\n', /nc is 4 but names lists 3 classes/],
      ['train: images/nope\nval: images/val\nnames: [a, b, c]\n', /train path does not exist/],
      ['train: [images/train\n', /not valid YAML/],
      ['names: {0: a, 2: b}\ntrain: images/train\nval: images/val\n', /without gaps/],
    ];
    for (const [text, re] of cases) {
      const p = join(root, 'broken.yaml');
      writeFileSync(p, text);
      await assert.rejects(resolveDetectData(p), (e: Error) => re.test(e.message) && !e.message.includes('\n'), String(re));
    }
  });

  it('parseYoloLabels tolerates exporters rounding just past the edge, and clips', () => {
    const r = parseYoloLabels('0 0.995 0.5 0.02 0.2\n', 100, 100, 1);
    assert.deepEqual(r.problems, []);
    assert.deepEqual([...r.targets.boxes].map((x) => Number(x.toFixed(3))), [98.5, 40, 100, 60]);
  });
});
