// The UI's command-line side: kestrel ui --weights serves a model beside the pages, kestrel serve
// --no-ui leaves them out, and wrong flag combinations are one-line errors.
import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tempDir } from '../data/make-images.js';
import { tinyClassifier } from '../onnx/models.js';
import { json, KESTREL, killed, makeRunsProject, startCli } from './fixtures.js';

const tmp = tempDir('ui-cli');
const children: ChildProcess[] = [];
const model = join(tmp.dir, 'model.onnx');
let project: string;

before(async () => {
  writeFileSync(model, tinyClassifier({ contract: { names: ['a', 'b', 'c', 'd'] } }).bytes);
  ({ project } = await makeRunsProject(tmp.dir));
});
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  tmp.remove();
});

const run = (args: string[]): { code: number | null; err: string } => {
  const r = spawnSync(process.execPath, [KESTREL, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, err: r.stderr };
};

describe('kestrel ui / serve flags', () => {
  it('kestrel ui --weights serves the model\'s API beside the runs pages, and stops on SIGTERM', async () => {
    const { child, url } = await startCli(['ui', '--project', project, '--weights', model], children);
    try {
      const models = await json(`${url}/v1/models`);
      assert.deepEqual(models.body.models[0].names, ['a', 'b', 'c', 'd']);
      const runs = await json(`${url}/v1/runs`);
      assert.equal(runs.body.runs.length, 2);
    } finally {
      child.kill('SIGTERM');
      await killed(child);
    }
    assert.equal(child.exitCode, 0);
  });

  it('kestrel serve --no-ui has the API and no pages; by default it has the pages but no runs folder', async () => {
    const bare = await startCli(['serve', '--weights', model, '--workers', '0', '--no-ui'], children);
    const full = await startCli(['serve', '--weights', model, '--workers', '0'], children);
    try {
      assert.equal((await fetch(`${bare.url}/ui/`)).status, 404);
      assert.equal((await json(`${bare.url}/v1/runs`)).status, 404);
      assert.equal((await json(`${bare.url}/v1/models`)).status, 200);
      assert.notEqual((await fetch(`${full.url}/ui/`)).status, 404);
      assert.deepEqual((await json(`${full.url}/v1/ui`)).body, { project: null, label: null });
    } finally {
      bare.child.kill('SIGTERM');
      full.child.kill('SIGTERM');
      await Promise.all([killed(bare.child), killed(full.child)]);
    }
  });

  it('wrong combinations are one line and exit code 1', () => {
    const cases: [string[], RegExp][] = [
      [['serve', '--weights', model, '--no-ui', '--label', tmp.dir], /^kestrel: --project and --label are web UI options: leave out --no-ui\n$/],
      [['ui', '--classes', 'a,b'], /^kestrel: --classes needs --label <imagefolder>\n$/],
      [['ui', '--label', tmp.dir, '--port', '0'], /^kestrel: label: .* has no unlabelled\/ folder/],
    ];
    for (const [args, re] of cases) {
      const r = run(args);
      assert.equal(r.code, 1, args.join(' '));
      assert.match(r.err, re, args.join(' '));
    }
  });
});
