import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseCsv, RunDir, toCsv } from '../../src/engine/run-dir.js';

test('run folders are numbered when taken, reused with existOk, and keep results across open()', () => {
  const root = mkdtempSync(join(tmpdir(), 'kestrel-run-'));
  try {
    const a = RunDir.create(root, 'train');
    const b = RunDir.create(root, 'train');
    const c = RunDir.create(root, 'train', true);
    assert.deepEqual([a.path, b.path, c.path], [join(root, 'train'), join(root, 'train2'), join(root, 'train')]);
    assert.ok(!existsSync(join(a.path, 'weights')), 'weights/ only on first use');
    a.addResult({ epoch: 1, loss: 0.5 });
    a.addResult({ epoch: 2, loss: 0.25, top5: 0.9 });
    const reopened = RunDir.open(a.path);
    assert.deepEqual(reopened.rows, [{ epoch: 1, loss: 0.5, top5: '' }, { epoch: 2, loss: 0.25, top5: 0.9 }]);
    reopened.addResult({ epoch: 2, loss: 0.2 });
    assert.equal(readFileSync(join(a.path, 'results.csv'), 'utf8'), 'epoch,loss,top5\n1,0.5,\n2,0.2,\n');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('CSV quoting round-trips commas, quotes and newlines', () => {
  const rows = [{ path: 'a,b.png', label: 'say "hi"', n: 3 }, { path: 'x\ny', label: 'plain', n: 0.1234567891 }];
  const back = parseCsv(toCsv(rows));
  assert.deepEqual(back, [{ path: 'a,b.png', label: 'say "hi"', n: 3 }, { path: 'x\ny', label: 'plain', n: 0.1234568 }]);
});
