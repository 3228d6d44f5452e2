// Typed arrays over a SharedArrayBuffer (how in-memory data sets are shared with loader workers)
// become tensors like any other typed array.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tensor, tidy } from '../../src/tensor/index.js';

test('a tensor from a SharedArrayBuffer view copies the viewed elements', () => tidy(() => {
  const shared = new Uint8Array(new SharedArrayBuffer(16));
  shared.forEach((_, i) => (shared[i] = i * 3));
  const t = tensor(shared.subarray(4, 10), { shape: [2, 3] });
  assert.deepEqual(t.toArray(), [12, 15, 18, 21, 24, 27]);
  shared[4] = 0;
  assert.equal(t.toArray()[0], 12, 'the tensor owns a copy');
}));
