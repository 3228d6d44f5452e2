// heapInfo: malloc's own count of the C heap that libtorch's CPU tensors live in.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readFileSync } from 'node:fs';
import { heapInfo, memory, releaseMemory, zeros, type Tensor } from '../../src/tensor/index.js';

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

test('releaseMemory frees tensors dropped without dispose() and trims the C heap', { skip: heapInfo() === null && 'not glibc' }, async () => {
  const MiB = 2 ** 20;
  const rss = (): number => Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]) * 1024;
  const before = memory();
  const keep = [zeros([8])];
  // 2000 tensors of 8 KiB, unscoped and never disposed: only the GC backstop can free them.
  (() => {
    for (let i = 0; i < 2000; i++) zeros([2048]);
  })();
  const dropped = memory();
  assert.equal(dropped.tensors, before.tensors + 2001);
  const rssDropped = rss();
  await releaseMemory();
  const after = memory();
  assert.equal(after.tensors, before.tensors + 1, 'the dropped tensors are freed, the kept one is not');
  assert.equal(after.collectedByGc - dropped.collectedByGc, 2000);
  assert.ok(rssDropped - rss() >= 10 * MiB, `RSS fell by ${((rssDropped - rss()) / MiB).toFixed(1)} MiB of the 15.6 MiB freed`);
  assert.equal(keep[0]!.sum().item(), 0);
  keep[0]!.dispose();
});
