import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { FASHION_MNIST_CLASSES, fashionMnistDir } from '../../src/data/named.js';
import { resolveClassifyData, type DataSource } from '../../src/data/sources.js';

function checkMemory(s: DataSource, n: number): void {
  assert.equal(s.kind, 'memory');
  if (s.kind !== 'memory') return;
  assert.deepEqual([s.height, s.width, s.channels], [28, 28, 1]);
  assert.equal(s.images.length, n * 28 * 28);
  assert.ok(s.images.buffer instanceof SharedArrayBuffer, 'pixels in shared memory');
  assert.equal(s.labels.length, n);
  assert.ok(s.labels.every((l) => l >= 0 && l < 10));
  assert.equal(new Set(s.labels).size, 10);
  assert.equal(s.ids.length, n);
}

describe('named data sets', () => {
  it('mnist: official train, val = official test, digit class names', async () => {
    const d = await resolveClassifyData('mnist');
    assert.deepEqual(d.classes, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    assert.deepEqual([d.inChannels, d.nativeSize], [1, [28, 28]]);
    checkMemory(d.splits.train, 60000);
    checkMemory(d.splits.val, 10000);
    assert.equal(d.splits.test, d.splits.val, 'test names the same official split, so --split test works');
    assert.equal(d.splits.val.kind === 'memory' && d.splits.val.ids[5], 'test/5');
  });

  it('mnist with valFraction: val from train, test = official test', async () => {
    const d = await resolveClassifyData('mnist', { valFraction: 0.1, seed: 3 });
    checkMemory(d.splits.train, 54000);
    checkMemory(d.splits.val, 6000);
    checkMemory(d.splits.test!, 10000);
    const ids = (s: DataSource): string[] => (s.kind === 'memory' ? s.ids : []);
    assert.ok(ids(d.splits.val).every((id) => id.startsWith('train/')));
    const seen = new Set(ids(d.splits.train));
    assert.ok(ids(d.splits.val).every((id) => !seen.has(id)));
  });

  it('fashion-mnist: official names and splits', { skip: !existsSync(fashionMnistDir()) && `${fashionMnistDir()} missing (apt-get install dataset-fashion-mnist)` }, async () => {
    const d = await resolveClassifyData('fashion-mnist');
    assert.deepEqual(d.classes, [...FASHION_MNIST_CLASSES]);
    assert.equal(d.classes[0], 'T-shirt/top');
    assert.equal(d.classes[9], 'Ankle boot');
    checkMemory(d.splits.train, 60000);
    checkMemory(d.splits.val, 10000);
  });
});
