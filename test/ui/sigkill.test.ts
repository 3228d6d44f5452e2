// Acceptance (4): kestrel serve (and kestrel ui) killed with SIGKILL in the middle of a labelling
// session: every label it acknowledged is there after a restart, and applying puts those files in
// their folders.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { tempDir } from '../data/make-images.js';
import { tinyClassifier } from '../onnx/models.js';
import { json, KESTREL, killed, makeLabelProject, post, startCli } from './fixtures.js';

const tmp = tempDir('ui-kill');
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  tmp.remove();
});


describe('the server survives SIGKILL during labelling', () => {
  const model = join(tmp.dir, 'model.onnx');
  writeFileSync(model, tinyClassifier().bytes);
  const commands: [string, string[]][] = [['kestrel serve', ['serve', '--weights', model, '--workers', '0']], ['kestrel ui', ['ui']]];

  for (const [name, command] of commands) {
    it(`${name}: labels acknowledged before kill -9 are kept, and apply moves their files`, async () => {
      const root = join(tmp.dir, name.replace(' ', '-'), 'photos');
      await makeLabelProject(root, 6);
      const first = await startCli([...command, '--label', root], children);
      const acked: [string, string][] = [['img1.png', 'cat'], ['img2.png', 'dog'], ['img3.png', 'cat']];
      for (const [image, cls] of acked) {
        const r = await json(`${first.url}/v1/label`, post({ image, class: cls }));
        assert.equal(r.status, 200);
      }
      // One more label in flight while the process dies: it may or may not have been stored, but
      // it must not disturb the acknowledged ones.
      const inFlight = fetch(`${first.url}/v1/label`, post({ image: 'img4.png', class: 'dog' })).catch(() => null);
      first.child.kill('SIGKILL');
      await Promise.all([killed(first.child), inFlight]);
      assert.equal(first.child.signalCode, 'SIGKILL');

      const second = await startCli([...command, '--label', root], children);
      try {
        const csv = await (await fetch(`${second.url}/v1/label/export.csv`)).text();
        for (const [image, cls] of acked) assert.ok(csv.includes(`unlabelled/${image},${cls}\n`), `${image} → ${cls} survived: ${csv}`);
        const p = (await json(`${second.url}/v1/label/progress`)).body;
        assert.ok(p.labelled === 3 || p.labelled === 4, `labelled ${p.labelled}`);
        assert.equal(p.total, 6);
        const applied = await json(`${second.url}/v1/label/apply`, post({ mode: 'move' }));
        assert.deepEqual(applied.body.failed, []);
        for (const [image, cls] of acked) {
          assert.ok(existsSync(join(root, cls, image)), `${cls}/${image} exists`);
          assert.ok(!existsSync(join(root, 'unlabelled', image)), `${image} left unlabelled/`);
        }
      } finally {
        second.child.kill('SIGTERM');
        await killed(second.child);
      }
      assert.equal(second.child.exitCode, 0, 'SIGTERM closes the server cleanly');
    });
  }

  it('a bad --label folder is one line on stderr and exit code 1, for both commands', async () => {
    for (const [, command] of commands) {
      const child = spawn(process.execPath, [KESTREL, ...command, '--port', '0', '--label', join(tmp.dir, 'nowhere')], { stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(child);
      let err = '';
      child.stderr!.on('data', (d: Buffer) => (err += d));
      await killed(child);
      assert.equal(child.exitCode, 1, command[0]);
      assert.match(err, /^kestrel: label: .*nowhere is not a folder\n$/, command[0]);
    }
  });
});
