import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DataError, resolveClassifyData, type ClassifyData, type DataSource } from '../../src/data/sources.js';
import { addBadFiles, CLASSES, makeImageFolder, tempDir, writeImage } from './make-images.js';

const tmp = tempDir('sources');
after(tmp.remove);

const paths = (s: DataSource): string[] => (s.kind === 'files' ? s.paths : s.ids);
const oneLine = (re: RegExp) => (e: unknown): boolean => e instanceof DataError && re.test(e.message) && !e.message.includes('\n');

describe('ImageFolder with train/ and val/', () => {
  const root = join(tmp.dir, 'split');
  let bad: Awaited<ReturnType<typeof addBadFiles>>;
  let data: ClassifyData;
  before(async () => {
    await makeImageFolder(root, { train: 4, val: 2 });
    bad = await addBadFiles(join(root, 'train'));
    data = await resolveClassifyData(root);
  });

  it('finds sorted classes, files per split, and RGB channels', () => {
    assert.deepEqual(data.classes, CLASSES);
    assert.equal(data.name, 'split');
    assert.equal(data.inChannels, 3);
    assert.equal(data.nativeSize, null);
    assert.equal(data.splits.train.kind, 'files');
    assert.equal(data.splits.train.labels.length, 12);
    assert.equal(data.splits.val.labels.length, 6);
    assert.equal(data.splits.test, undefined);
    assert.deepEqual(Array.from(data.splits.val.labels), [0, 0, 1, 1, 2, 2]);
    assert.ok(paths(data.splits.val).every((p, i) => p.includes(`/val/${CLASSES[data.splits.val.labels[i]!]}/`)));
  });

  it('lists the corrupt, truncated and non-image files in skipped, with reasons', () => {
    const reason = (p: string): string | undefined => data.skipped.find((s) => s.path === p)?.reason;
    assert.equal(reason(bad.corrupt), 'not an image (no image format Kestrel reads)');
    assert.equal(reason(bad.truncated), 'truncated file (the image data ends early)');
    assert.equal(reason(bad.text), 'not an image extension');
    assert.equal(data.skipped.length, 3);
    assert.ok(!paths(data.splits.train).includes(bad.corrupt));
  });

  it('strict: throws one DataError naming the bad images', async () => {
    await assert.rejects(resolveClassifyData(root, { strict: true }), oneLine(/2 bad image file\(s\) \(strict\):.*corrupt\.jpg.*truncated\.png/));
  });

  it("verify: 'header' misses the truncated file but still skips the corrupt one", async () => {
    const quick = await resolveClassifyData(root, { verify: 'header' });
    assert.deepEqual(quick.skipped.map((s) => s.path).sort(), [bad.corrupt, bad.text].sort());
  });
});

describe('other layouts', () => {
  it('flat root/<class>/* is split into train/val by a seeded stratified split', async () => {
    const root = join(tmp.dir, 'flat');
    await makeImageFolder(root, { '': 8 });
    const a = await resolveClassifyData(root, { seed: 1, valFraction: 0.25 });
    const b = await resolveClassifyData(root, { seed: 1, valFraction: 0.25 });
    const c = await resolveClassifyData(root, { seed: 2, valFraction: 0.25 });
    assert.equal(a.splits.train.labels.length, 18);
    assert.deepEqual(Array.from(a.splits.val.labels), [0, 0, 1, 1, 2, 2]);
    assert.deepEqual(paths(a.splits.val), paths(b.splits.val));
    assert.notDeepEqual(paths(a.splits.val), paths(c.splits.val));
    assert.equal(new Set([...paths(a.splits.train), ...paths(a.splits.val)]).size, 24);
  });

  it('an unlabelled/ folder (the labelling page\'s inbox) is not a class, flat or with splits', async () => {
    const flat = join(tmp.dir, 'inbox');
    await makeImageFolder(flat, { '': 4 });
    await writeImage(join(flat, 'unlabelled', 'new.png'), 12, 12, 1, 'png');
    const d = await resolveClassifyData(flat, { valFraction: 0.25 });
    assert.deepEqual(d.classes, CLASSES);
    assert.equal(d.splits.train.labels.length + d.splits.val.labels.length, 12);
    const split = join(tmp.dir, 'inbox-split');
    await makeImageFolder(split, { train: 2, val: 1 });
    await writeImage(join(split, 'train', 'unlabelled', 'new.png'), 12, 12, 1, 'png');
    await writeImage(join(split, 'unlabelled', 'new.png'), 12, 12, 1, 'png');
    assert.deepEqual((await resolveClassifyData(split)).classes, CLASSES);
  });

  it('train/ + test/ without val/ splits val off train and keeps test', async () => {
    const root = join(tmp.dir, 'traintest');
    await makeImageFolder(root, { train: 10, test: 2 });
    const d = await resolveClassifyData(root, { seed: 0 });
    assert.deepEqual([d.splits.train.labels.length, d.splits.val.labels.length, d.splits.test?.labels.length], [27, 3, 6]);
  });

  it('a folder of grey images has inChannels 1', async () => {
    const root = join(tmp.dir, 'grey');
    await Promise.all(['a', 'b'].flatMap((cls) => [0, 1, 2].map((k) => writeImage(join(root, cls, `${k}.png`), 12, 12, k, 'png', 1))));
    const d = await resolveClassifyData(root, { valFraction: 0.34 });
    assert.equal(d.inChannels, 1);
    assert.deepEqual(d.classes, ['a', 'b']);
  });

  it('nativeSize: the [h, w] all usable images share, over every split; null when one differs', async () => {
    const root = join(tmp.dir, 'same-size');
    const write = (split: string, cls: string, k: number, w = 24, h = 20): Promise<void> => writeImage(join(root, split, cls, `${k}.png`), w, h, k, 'png', 1);
    await Promise.all(['a', 'b'].flatMap((cls) => [write('train', cls, 0), write('train', cls, 1), write('val', cls, 0)]));
    writeFileSync(join(root, 'train', 'a', 'broken.png'), 'not a png');
    const d = await resolveClassifyData(root);
    assert.deepEqual(d.nativeSize, [20, 24], 'height first; the unreadable file does not count');
    await write('val', 'b', 1, 24, 21);
    assert.equal((await resolveClassifyData(root)).nativeSize, null);
  });

  it('CSV manifest with a split column, paths relative to the CSV', async () => {
    const root = join(tmp.dir, 'csv');
    await makeImageFolder(join(root, 'img'), { '': 3 });
    const rows = CLASSES.flatMap((cls) => [0, 1, 2].map((k) => `img/${cls}/${k}.${k % 2 ? 'jpg' : 'png'},${cls},${k === 2 ? 'val' : 'train'}`));
    writeFileSync(join(root, 'labels.csv'), ['path,label,split', ...rows, 'img/cat/readme.md,cat,train', ''].join('\n'));
    const d = await resolveClassifyData(join(root, 'labels.csv'));
    assert.equal(d.name, 'labels');
    assert.deepEqual(d.classes, CLASSES);
    assert.deepEqual([d.splits.train.labels.length, d.splits.val.labels.length], [6, 3]);
    assert.deepEqual(d.skipped.map((s) => s.reason), ['not an image extension']);
  });

  it('CSV manifest without split: seeded split; numeric labels sort as numbers', async () => {
    const root = join(tmp.dir, 'csv2');
    await makeImageFolder(join(root, 'img'), { '': 4 });
    const label = (cls: string): string => String([2, 10, 1][CLASSES.indexOf(cls)]);
    const rows = CLASSES.flatMap((cls) => [0, 1, 2, 3].map((k) => `"img/${cls}/${k}.${k % 2 ? 'jpg' : 'png'}",${label(cls)}`));
    writeFileSync(join(root, 'm.csv'), ['label,path', ...rows].map((r) => (r === 'label,path' ? r : r.split(',').reverse().join(','))).join('\n'));
    const d = await resolveClassifyData(join(root, 'm.csv'), { valFraction: 0.25 });
    assert.deepEqual(d.classes, ['1', '2', '10']);
    assert.deepEqual([d.splits.train.labels.length, d.splits.val.labels.length], [9, 3]);
  });

  it('malformed CSV: DataError with the line number', async () => {
    const csv = join(tmp.dir, 'bad.csv');
    writeFileSync(csv, 'path,label\na.png,cat\nb.png\n');
    await assert.rejects(resolveClassifyData(csv), oneLine(/bad\.csv line 3: expected 2 fields/));
    writeFileSync(csv, 'file,class\na.png,cat\n');
    await assert.rejects(resolveClassifyData(csv), oneLine(/line 1: the header must name 'path' and 'label'/));
    writeFileSync(csv, 'path,label,split\na.png,cat,holdout\n');
    await assert.rejects(resolveClassifyData(csv), oneLine(/line 2: unknown split 'holdout'/));
  });
});

describe('one-line DataErrors', () => {
  it('data path does not exist', async () => {
    await assert.rejects(resolveClassifyData(join(tmp.dir, 'nope')), oneLine(/^data path does not exist: .*nope$/));
  });

  it('unknown data set name lists the known ones', async () => {
    await assert.rejects(resolveClassifyData('mnits'), oneLine(/unknown data set 'mnits' \(known: mnist, fashion-mnist/));
  });

  it('empty class folder is named', async () => {
    const root = join(tmp.dir, 'empty');
    await makeImageFolder(root, { train: 2 });
    mkdirSync(join(root, 'train', 'zebra'));
    await assert.rejects(resolveClassifyData(root), oneLine(/empty class folder: .*train\/zebra/));
  });

  it('a split missing a class names the class and the split', async () => {
    const root = join(tmp.dir, 'missing');
    await makeImageFolder(root, { train: 2, val: 1 });
    await makeImageFolder(join(root, 'test'), {});
    await writeImage(join(root, 'test', 'cat', '0.png'), 8, 8, 0, 'png');
    await assert.rejects(resolveClassifyData(root), oneLine(/split 'test' is missing class 'dog' \(present in train\) and 1 more/));
  });

  it('a split with an extra class names it', async () => {
    const root = join(tmp.dir, 'extra');
    await makeImageFolder(root, { train: 2, val: 1 });
    await writeImage(join(root, 'val', 'cow', '0.png'), 8, 8, 0, 'png');
    await assert.rejects(resolveClassifyData(root), oneLine(/split 'val' has class 'cow' that train does not have/));
  });

  it('valFraction out of range', async () => {
    await assert.rejects(resolveClassifyData('mnist', { valFraction: 1.5 }), oneLine(/valFraction must be in \(0, 1\)/));
  });
});
