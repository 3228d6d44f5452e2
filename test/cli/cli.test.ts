import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

// dist/test/cli/cli.test.js → dist/src/cli/main.js
const main = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

function kestrel(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [main, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const STACK_LINE = /^\s+at /m;

describe('kestrel CLI', () => {
  it('doctor --json reports a usable libtorch', () => {
    const r = kestrel('doctor', '--json');
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.ok, true);
    assert.equal(report.node.version, process.version);
    assert.equal(report.libtorch.found, true);
    assert.match(report.libtorch.version, /^[12]\./);
    assert.ok(report.libtorch.threads >= 1, `threads = ${report.libtorch.threads}`);
    assert.equal(report.addon.loaded, true);
    assert.equal(typeof report.onnxruntime.installed, 'boolean');
    assert.ok(Array.isArray(report.fixes));
  });

  it('doctor prints a readable summary', () => {
    const r = kestrel('doctor');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^\s+libtorch\s+found: /m);
    assert.match(r.stdout, /^\s+threads\s+\d+ intra-op/m);
  });

  it('--help lists the commands', () => {
    const r = kestrel('--help');
    assert.equal(r.status, 0);
    assert.match(r.stdout, /^\s+doctor\b/m);
    assert.match(r.stdout, /^\s+demo\b/m);
    assert.match(r.stdout, /--verbose/);
  });

  it('each command has --help', () => {
    for (const cmd of ['doctor', 'demo']) {
      const r = kestrel(cmd, '--help');
      assert.equal(r.status, 0, cmd);
      assert.match(r.stdout, new RegExp(`^Usage: kestrel ${cmd}`, 'm'));
    }
  });

  it('an unknown command fails with one line and no stack', () => {
    const r = kestrel('no-such-command');
    assert.equal(r.status, 1);
    assert.equal(r.stdout, '');
    const lines = r.stderr.trimEnd().split('\n');
    assert.deepEqual(lines, ["kestrel: unknown command 'no-such-command'"]);
  });

  it('a bad option value fails with one line naming the option', () => {
    const r = kestrel('demo', '--epochs', 'abc');
    assert.equal(r.status, 1);
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /^kestrel: .*--epochs.*'abc'/);
    assert.doesNotMatch(r.stderr, STACK_LINE);
  });

  it('--verbose adds the stack trace', () => {
    for (const args of [['--verbose', 'no-such-command'], ['demo', '--epochs', 'abc', '--verbose']]) {
      const r = kestrel(...args);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /^kestrel: /);
      assert.match(r.stderr, STACK_LINE, `no stack for ${args.join(' ')}`);
    }
  });
});
