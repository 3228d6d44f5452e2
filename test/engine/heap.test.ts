// heapInfo: malloc's own count of the C heap that libtorch's CPU tensors live in.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { heapInfo, zeros, type Tensor } from '../../src/tensor/index.js';

test('heapInfo counts tensor memory in use and gives it back on dispose', { skip: heapInfo() === null && 'not glibc' }, () => {
  const MiB = 2 ** 20;
  const before = heapInfo()!;
  // 1200 tensors of 8 KiB: under the caching allocator's 16 KiB, so they live in malloc's heaps.
  const ts: Tensor[] = Array.from({ length: 1200 }, () => zeros([2048]));
  const during = heapInfo()!;
  for (const t of ts) t.dispose();
  const after = heapInfo()!;
  const grew = (during.inUse + during.mmapped - before.inUse - before.mmapped) / MiB;
  assert.ok(grew >= 9 && grew < 12, `in use grew by ${grew.toFixed(2)} MiB for 9.4 MiB of tensors`);
  const back = (during.inUse + during.mmapped - after.inUse - after.mmapped) / MiB;
  assert.ok(back >= 9, `dispose gave back ${back.toFixed(2)} MiB`);
  assert.ok(after.free >= 0 && Number.isFinite(after.free));
});
