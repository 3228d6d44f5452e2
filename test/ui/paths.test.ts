// Symbolic links out of the served folders: a link in unlabelled/, a class folder or a run folder
// that leads elsewhere is refused (403 outside_root) by every route that serves, reads or moves
// files, and nothing behind it reaches the client or a class folder.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { toCsv } from '../../src/engine/run-dir.js';
import { tempDir } from '../data/make-images.js';
import { json, makeLabelProject, makeRunsProject, post, serveUi } from './fixtures.js';

const tmp = tempDir('ui-paths');
const SECRET = 'root:x:0:0:top secret';
const outside = join(tmp.dir, 'outside');
after(() => tmp.remove());

before(() => {
  mkdirSync(outside, { recursive: true });
  writeFileSync(join(outside, 'passwd'), `${SECRET}\n`);
  // A CSV outside every run, shaped like results.csv: what a linked results.csv would leak as rows.
  writeFileSync(join(outside, 'secret.csv'), toCsv([{ epoch: 1, val_accuracy: 0.123456 }]));
});

describe('labelling routes', () => {
  const root = join(tmp.dir, 'photos');
  let app: FastifyInstance;
  let url: string;
  before(async () => {
    await makeLabelProject(root, 3);
    symlinkSync(join(outside, 'passwd'), join(root, 'unlabelled', 'x.png'));
    ({ app, url } = await serveUi({ label: { root } }));
  });
  after(async () => app.close());

  it('GET /v1/label/images/<link out> is 403 and sends nothing of the file', async () => {
    const r = await fetch(`${url}/v1/label/images/x.png`);
    const text = await r.text();
    assert.equal(r.status, 403);
    assert.deepEqual(JSON.parse(text), { error: { code: 'outside_root', message: '"x.png" leads outside unlabelled/' } });
    assert.ok(!text.includes('top secret'));
    assert.equal((await fetch(`${url}/v1/label/images/img1.png`)).status, 200, 'a real image is still served');
  });

  it('POST /v1/label of a link out is 403 and records nothing', async () => {
    const r = await json(`${url}/v1/label`, post({ image: 'x.png', class: 'cat' }));
    assert.deepEqual([r.status, r.body.error.code], [403, 'outside_root']);
    assert.equal((await json(`${url}/v1/label/progress`)).body.labelled, 0);
  });

  it('apply refuses a labelled file that became a link out, and a class folder that is one', async () => {
    for (const [image, cls] of [['img1.png', 'cat'], ['img2.png', 'dog'], ['img3.png', 'cat']]) {
      assert.equal((await json(`${url}/v1/label`, post({ image, class: cls }))).status, 200);
    }
    // After labelling: img1.png is swapped for a link to the secret, and dog/ for a link to a folder outside.
    rmSync(join(root, 'unlabelled', 'img1.png'));
    symlinkSync(join(outside, 'passwd'), join(root, 'unlabelled', 'img1.png'));
    rmSync(join(root, 'dog'), { recursive: true });
    const elsewhere = join(tmp.dir, 'elsewhere');
    mkdirSync(elsewhere);
    symlinkSync(elsewhere, join(root, 'dog'));
    const r = await json(`${url}/v1/label/apply`, post({ mode: 'copy' }));
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.applied, [{ image: 'img3.png', dest: 'cat/img3.png' }]);
    assert.deepEqual(r.body.failed, [
      { image: 'img1.png', reason: '"img1.png" leads outside unlabelled/' },
      { image: 'img2.png', reason: '"dog" leads outside the labelled folder' },
    ]);
    assert.deepEqual(readdirSync(join(root, 'cat')).sort(), ['img3.png', 'old.png'], 'no copy of the secret in cat/');
    assert.deepEqual(readdirSync(elsewhere), [], 'nothing written through the dog/ link');
    const moved = await json(`${url}/v1/label/apply`, post({ mode: 'move' }));
    assert.deepEqual(moved.body.failed.map((f: { image: string }) => f.image), ['img1.png', 'img2.png']);
    assert.ok(existsSync(join(root, 'unlabelled', 'img2.png')), 'img2.png stays where it was');
    assert.deepEqual(readdirSync(elsewhere), []);
  });
});

describe('runs routes', () => {
  let app: FastifyInstance;
  let url: string;
  let project: string;
  before(async () => {
    const p = await makeRunsProject(join(tmp.dir, 'r'));
    project = p.project;
    // A run whose results.csv links to a CSV outside it, and a "run" folder that is itself a link out.
    mkdirSync(join(project, 'classify', 'linked'));
    symlinkSync(join(outside, 'secret.csv'), join(project, 'classify', 'linked', 'results.csv'));
    writeFileSync(join(project, 'classify', 'linked', 'args.yaml'), 'model: smallcnn\n');
    mkdirSync(join(outside, 'run'));
    writeFileSync(join(outside, 'run', 'results.csv'), readFileSync(join(outside, 'secret.csv')));
    symlinkSync(join(outside, 'run'), join(project, 'classify', 'away'));
    ({ app, url } = await serveUi({ project }));
  });
  after(async () => app.close());

  it('a run\'s linked-out files read as missing in the list and in its details', async () => {
    const list = await json(`${url}/v1/runs`);
    const linked = list.body.runs.find((r: { id: string }) => r.id === 'classify/linked');
    assert.deepEqual(linked.final, {});
    assert.ok(!JSON.stringify(list.body).includes('0.123456'), 'no row of the outside CSV in the list');
    const one = await json(`${url}/v1/runs/${encodeURIComponent('classify/linked')}`);
    assert.equal(one.status, 200);
    assert.deepEqual(one.body.results, []);
    assert.equal(one.body.model, 'smallcnn');
  });

  it('a run folder that links out is 403, its files too', async () => {
    for (const path of [`/v1/runs/${encodeURIComponent('classify/away')}`, `/v1/runs/${encodeURIComponent('classify/away')}/files/results.csv`]) {
      const r = await json(`${url}${path}`);
      assert.deepEqual([r.status, r.body.error.code], [403, 'outside_root'], path);
      assert.ok(!JSON.stringify(r.body).includes('0.123456'), path);
    }
  });
});
