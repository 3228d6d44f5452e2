// The labelling routes on loopback: next/label/undo/progress, refusals (unknown class, bad names),
// CSV export, apply by copy and by move (idempotent, name clashes, an interrupted apply finished).
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { LabelProject } from '../../src/ui/index.js';
import { LabelStore } from '../../src/ui/label-store.js';
import { tempDir } from '../data/make-images.js';
import { json, makeLabelProject, post, serveUi } from './fixtures.js';

const tmp = tempDir('ui-label');
after(() => tmp.remove());

describe('labelling API', () => {
  const root = join(tmp.dir, 'copy');
  let app: FastifyInstance;
  let url: string;
  let names: string[];
  before(async () => {
    names = await makeLabelProject(root);
    ({ app, url } = await serveUi({ label: { root } }));
  });
  after(async () => app.close());

  it('starts at the first image with every count at zero', async () => {
    const { body } = await json(`${url}/v1/label`);
    assert.deepEqual(body.classes, ['cat', 'dog']);
    assert.deepEqual(body.progress, { labelled: 0, remaining: 5, total: 5, applied: 0, byClass: { cat: 0, dog: 0 } });
    assert.equal((await json(`${url}/v1/label/next`)).body.image, 'img1.png');
    const img = await fetch(`${url}/v1/label/images/img1.png`);
    assert.equal(img.headers.get('content-type'), 'image/png');
    assert.ok(Buffer.from(await img.arrayBuffer()).equals(readFileSync(join(root, 'unlabelled/img1.png'))));
  });

  it('a label is stored and the reply names the next image; undo brings the image back', async () => {
    const r = await json(`${url}/v1/label`, post({ image: 'img1.png', class: 'cat' }));
    assert.equal(r.status, 200);
    assert.equal(r.body.decision.image, 'img1.png');
    assert.equal(r.body.decision.class, 'cat');
    assert.equal(r.body.image, 'img2.png');
    assert.deepEqual(r.body.progress.byClass, { cat: 1, dog: 0 });
    const u = await json(`${url}/v1/label/undo`, { method: 'POST' });
    assert.equal(u.status, 200);
    assert.deepEqual([u.body.undone.image, u.body.undone.class], ['img1.png', 'cat']);
    assert.equal(u.body.progress.labelled, 0);
    assert.equal((await json(`${url}/v1/label/next`)).body.image, 'img1.png');
    const none = await json(`${url}/v1/label/undo`, { method: 'POST' });
    assert.equal(none.status, 409);
    assert.equal(none.body.error.code, 'nothing_to_undo');
  });

  it('a second label for an image wins; undoing it restores the first', async () => {
    await json(`${url}/v1/label`, post({ image: 'img2.png', class: 'dog' }));
    await json(`${url}/v1/label`, post({ image: 'img2.png', class: 'cat' }));
    assert.deepEqual((await json(`${url}/v1/label/progress`)).body.byClass, { cat: 1, dog: 0 });
    await json(`${url}/v1/label/undo`, { method: 'POST' });
    const p = (await json(`${url}/v1/label/progress`)).body;
    assert.deepEqual([p.labelled, p.byClass.dog, p.byClass.cat], [1, 1, 0]);
  });

  it('next?after= skips ahead and wraps round', async () => {
    assert.equal((await json(`${url}/v1/label/next?after=img3.png`)).body.image, 'img4.png');
    assert.equal((await json(`${url}/v1/label/next?after=img5.png`)).body.image, 'img1.png');
  });

  it('refuses unknown classes, unknown or unsafe image names and malformed bodies, storing nothing', async () => {
    const cases: [unknown, number, string][] = [
      [{ image: 'img1.png', class: 'horse' }, 400, 'unknown_class'],
      [{ image: 'nope.png', class: 'cat' }, 404, 'no_such_image'],
      [{ image: '../cat/old.png', class: 'cat' }, 400, 'bad_image'],
      [{ image: 'notes.txt', class: 'cat' }, 400, 'bad_image'],
      [{ image: 'img1.png' }, 400, 'invalid_request'],
      ['not json at all', 400, 'bad_request'],
    ];
    for (const [body, status, code] of cases) {
      const r = await json(`${url}/v1/label`, typeof body === 'string' ? { method: 'POST', headers: { 'content-type': 'application/json' }, body } : post(body));
      assert.equal(r.status, status, JSON.stringify(body));
      assert.equal(r.body.error.code, code, JSON.stringify(body));
    }
    assert.equal((await json(`${url}/v1/label/progress`)).body.labelled, 1);
    assert.equal((await json(`${url}/v1/label/images/${encodeURIComponent('../cat/old.png')}`)).status, 400);
    const mode = await json(`${url}/v1/label/apply`, post({ mode: 'teleport' }));
    assert.equal(mode.status, 400);
    assert.match(mode.body.error.message, /"mode"/);
  });

  it('exports the current labels as CSV', async () => {
    await json(`${url}/v1/label`, post({ image: 'img10.png', class: 'cat' })); // not there: refused
    await json(`${url}/v1/label`, post({ image: 'img3.png', class: 'cat' }));
    const r = await fetch(`${url}/v1/label/export.csv`);
    assert.match(r.headers.get('content-type') ?? '', /^text\/csv/);
    assert.equal(await r.text(), 'path,label\nunlabelled/img2.png,dog\nunlabelled/img3.png,cat\n');
  });

  it('apply copy puts copies in the class folders once; applied labels cannot change or be undone', async () => {
    const r = await json(`${url}/v1/label/apply`, post({ mode: 'copy' }));
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.applied, [{ image: 'img2.png', dest: 'dog/img2.png' }, { image: 'img3.png', dest: 'cat/img3.png' }]);
    assert.deepEqual(r.body.failed, []);
    for (const [f, cls] of [['img2.png', 'dog'], ['img3.png', 'cat']]) {
      assert.ok(readFileSync(join(root, cls!, f!)).equals(readFileSync(join(root, 'unlabelled', f!))), `${cls}/${f} is a copy`);
    }
    assert.equal(r.body.progress.applied, 2);
    const again = await json(`${url}/v1/label/apply`, post({ mode: 'copy' }));
    assert.deepEqual([again.body.applied.length, again.body.already], [0, 2]);
    const relabel = await json(`${url}/v1/label`, post({ image: 'img3.png', class: 'dog' }));
    assert.equal(relabel.status, 409);
    assert.equal(relabel.body.error.code, 'already_applied');
    const undo = await json(`${url}/v1/label/undo`, { method: 'POST' });
    assert.equal(undo.status, 409);
    assert.equal(undo.body.error.code, 'already_applied');
    assert.deepEqual(readdirSync(join(root, 'cat')).sort(), ['img3.png', 'old.png'], 'no temp files left');
    assert.equal((await json(`${url}/v1/label/next`)).body.image, 'img1.png');
    void names;
  });
});

describe('apply move', () => {
  it('moves files, keeps a clashing name apart, and finishes an interrupted apply', async () => {
    const root = join(tmp.dir, 'move');
    await makeLabelProject(root);
    // dog/img2.png exists with other bytes: the moved one must not replace it.
    writeFileSync(join(root, 'dog', 'img2.png'), 'someone else\'s file');
    // A crash between the pending record and the rename (img4), and one after the rename (img5).
    const store = LabelStore.open(join(root, '.kestrel-labels.db'));
    store.record('img4.png', 'cat');
    store.record('img5.png', 'dog');
    store.beginApply({ image: 'img4.png', class: 'cat', mode: 'move', dest: 'cat/img4.png' });
    store.beginApply({ image: 'img5.png', class: 'dog', mode: 'move', dest: 'dog/img5.png' });
    renameSync(join(root, 'unlabelled/img5.png'), join(root, 'dog/img5.png'));
    store.close();
    const original = readFileSync(join(root, 'unlabelled/img2.png'));

    const { app, url } = await serveUi({ label: { root } });
    try {
      for (const [image, cls] of [['img1.png', 'cat'], ['img2.png', 'dog']]) assert.equal((await json(`${url}/v1/label`, post({ image, class: cls }))).status, 200);
      const r = await json(`${url}/v1/label/apply`, post({ mode: 'move' }));
      assert.deepEqual(r.body.failed, []);
      assert.deepEqual(r.body.applied.map((a: { dest: string }) => a.dest).sort(), ['cat/img1.png', 'cat/img4.png', 'dog/img2-2.png', 'dog/img5.png']);
      assert.deepEqual(readdirSync(join(root, 'unlabelled')).sort(), ['.DS_Store', 'img3.png', 'notes.txt']);
      assert.equal(readFileSync(join(root, 'dog/img2.png'), 'utf8'), 'someone else\'s file');
      assert.ok(readFileSync(join(root, 'dog/img2-2.png')).equals(original));
      assert.deepEqual((await json(`${url}/v1/label/progress`)).body, { labelled: 4, remaining: 1, total: 5, applied: 4, byClass: { cat: 2, dog: 2 } });
      const csv = await (await fetch(`${url}/v1/label/export.csv`)).text();
      assert.equal(csv, 'path,label\ncat/img1.png,cat\ndog/img2-2.png,dog\ncat/img4.png,cat\ndog/img5.png,dog\n');
      assert.ok(!existsSync(join(root, 'unlabelled/img1.png')));
    } finally {
      await app.close();
    }
  });
});

describe('opening a project', () => {
  it('fails with one line when the folder, unlabelled/ or the classes are missing, or a class name is unsafe', async () => {
    const root = join(tmp.dir, 'bad');
    assert.throws(() => LabelProject.open({ root }), /bad is not a folder/);
    await makeLabelProject(root, 1);
    assert.throws(() => LabelProject.open({ root: join(root, 'cat') }), /has no unlabelled\/ folder/);
    assert.throws(() => LabelProject.open({ root, classes: ['../up'] }), /"\.\.\/up" cannot be a class name/);
    assert.throws(() => LabelProject.open({ root, classes: ['unlabelled'] }), /cannot be a class name/);
    const given = LabelProject.open({ root, classes: ['bird', 'cat'] });
    assert.deepEqual(given.classes, ['bird', 'cat']);
    given.close();
    const empty = join(tmp.dir, 'empty');
    await makeLabelProject(empty, 1);
    renameSync(join(empty, 'cat'), join(empty, '.cat'));
    renameSync(join(empty, 'dog'), join(empty, '.dog'));
    assert.throws(() => LabelProject.open({ root: empty }), /no class folders in .*--classes/);
  });
});
