// A training loop's native memory stays flat: 20,000 forward/backward/step iterations.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Linear, ReLU, Sequential } from '../../src/nn/index.js';
import { SGD } from '../../src/optim/index.js';
import { manualSeed, memory, randint, randn } from '../../src/tensor/index.js';
import { trainingStep } from './step.js';

test('20,000 training iterations keep tensor count and RSS flat', () => {
  manualSeed(0);
  const model = new Sequential(new Linear(32, 64), new ReLU(), new Linear(64, 10));
  const opt = new SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
  const x = randn([16, 32]);
  const y = randint(0, 10, [16]);
  const step = trainingStep(model, opt, x, y);
  for (let i = 0; i < 1000; i++) step(); // warm-up: optimizer state, allocator pools
  global.gc?.();
  const tensorsBefore = memory().tensors;
  const rssBefore = process.memoryUsage.rss();
  let last = 0;
  for (let i = 0; i < 20_000; i++) last = step();
  global.gc?.();
  const rssAfter = process.memoryUsage.rss();
  assert.equal(memory().tensors, tensorsBefore, 'live tensor count grew');
  assert.ok(rssAfter - rssBefore < 48 * 1024 * 1024, `RSS grew by ${((rssAfter - rssBefore) / 2 ** 20).toFixed(1)} MiB`);
  assert.ok(last < 0.5, `the loop did train (final loss ${last})`);
  x.dispose();
  y.dispose();
  opt.dispose();
  model.dispose();
});
