// heapInfo: malloc's own count of the C heap that libtorch's CPU tensors live in.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { heapInfo, zeros, type Tensor } from '../../src/tensor/index.js';

test('heapInfo counts tensor memory in use and gives it back on dispose', { skip: heapInfo() === null && 'not glibc' }, () => {
  const MiB = 2 ** 20;
  const before = heapInfo()!;
  // 400 tensors of 24 KiB: under malloc's mmap threshold, so they live in its heaps.
  const ts: Tensor[] = Array.from({ length: 400 }, () => zeros([6144]));
  const during = heapInfo()!;
  for (const t of ts) t.dispose();
  const after = heapInfo()!;
  const grew = (during.inUse + during.mmapped - before.inUse - before.mmapped) / MiB;
  assert.ok(grew >= 9 && grew < 12, `in use grew by ${grew.toFixed(2)} MiB for 9.4 MiB of tensors`);
  const back = (during.inUse + during.mmapped - after.inUse - after.mmapped) / MiB;
  assert.ok(back >= 9, `dispose gave back ${back.toFixed(2)} MiB`);
  assert.ok(after.free >= 0 && Number.isFinite(after.free));
});
