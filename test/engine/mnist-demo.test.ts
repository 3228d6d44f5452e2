// The engine trains a real network: the MNIST demo's CNN with AdamW, from the TypeScript API.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runMnistDemo } from '../../src/demo/mnist.js';
import { memory } from '../../src/tensor/index.js';

const slow = process.env.KESTREL_SLOW === '1';

test('a short run on 4,000 MNIST images already classifies the test set', async () => {
  const before = memory().tensors;
  const lines: string[] = [];
  const r = await runMnistDemo({ epochs: 1, batch: 64, lr: 1e-3, limit: 4000, log: (l) => lines.push(l) });
  assert.ok(r.testAccuracy >= 0.9, `test accuracy ${r.testAccuracy}`);
  assert.ok(r.imgPerSec > 0);
  assert.match(lines[0]!, /MNIST: 4000 training images, 10000 test/);
  assert.equal(memory().tensors, before, 'the demo frees everything it made');
});

test('one epoch with AdamW reaches ≥ 98 % test accuracy (KESTREL_SLOW=1)', { skip: !slow && 'slow tier' }, async () => {
  const r = await runMnistDemo({ epochs: 1, batch: 64, lr: 1e-3, log: () => {} });
  assert.ok(r.testAccuracy >= 0.98, `test accuracy ${r.testAccuracy}`);
});
