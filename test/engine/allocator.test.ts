// The addon's caching CPU allocator: freed tensor blocks are handed out again, the cache stays
// under its limit, and emptyCache gives the memory back to the system.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Conv2d, Flatten, Linear, ReLU, Sequential } from '../../src/nn/index.js';
import { Adam } from '../../src/optim/index.js';
import { cacheInfo, emptyCache, empty, heapInfo, manualSeed, ones, randint, randn, setCacheLimit, zeros } from '../../src/tensor/index.js';
import { trainingStep } from './step.js';

const MiB = 2 ** 20;

describe('caching CPU allocator', { skip: !cacheInfo().enabled && 'KESTREL_CPU_CACHE=0' }, () => {
  it('hands a freed block out again for the same size, holding the new values', () => {
    ones([256, 1024]).dispose(); // 1 MiB
    const freed = cacheInfo();
    assert.ok(freed.cached >= MiB, `the freed block is cached (${freed.cached} bytes)`);
    const t = zeros([256, 1024]);
    const reused = cacheInfo();
    assert.equal(reused.hits, freed.hits + 1);
    assert.equal(reused.misses, freed.misses);
    assert.equal(reused.reserved, freed.reserved, 'no new memory mapped');
    assert.equal(t.sum().item(), 0, 'zeros() over a reused block holds zeros, not the old ones');
    t.dispose();
  });

  it('shares a block between sizes in one size class (the last, smaller batch of an epoch)', () => {
    empty([64, 10_000]).dispose(); // 2,560,000 bytes
    const before = cacheInfo();
    const t = empty([63, 10_000]); // 2,520,000 bytes: the same 2.5 MiB class
    assert.equal(cacheInfo().hits, before.hits + 1);
    t.dispose();
  });

  it('keeps the cache under a fixed limit, unmapping what does not fit', () => {
    emptyCache();
    setCacheLimit(3 * MiB);
    try {
      const ts = Array.from({ length: 5 }, () => empty([MiB / 4])); // 5 × 1 MiB
      const reserved = cacheInfo().reserved;
      for (const t of ts) t.dispose();
      const after = cacheInfo();
      assert.ok(after.cached <= 3 * MiB && after.cached >= 2 * MiB, `cached ${after.cached / MiB} MiB under a 3 MiB limit`);
      assert.equal(reserved - after.reserved, 5 * MiB * 1.125 - after.cached, 'the evicted blocks were unmapped (1 MiB + header rounds to a 1.125 MiB class)');
    } finally {
      setCacheLimit(null);
    }
    const auto = cacheInfo();
    assert.equal(auto.limit, Math.max(256 * MiB, 2 * auto.peak), 'the automatic limit is back: twice the peak in use, at least 256 MiB');
  });

  it('gives memory back to the system on emptyCache', () => {
    const t = ones([16 * MiB]); // 64 MiB, touched
    t.dispose();
    const held = process.memoryUsage.rss();
    assert.ok(cacheInfo().cached >= 64 * MiB);
    emptyCache();
    assert.equal(cacheInfo().cached, 0);
    const dropped = (held - process.memoryUsage.rss()) / MiB;
    assert.ok(dropped >= 60, `RSS dropped by ${dropped.toFixed(1)} MiB`);
  });

  it('rejects a negative limit', () => {
    assert.throws(() => setCacheLimit(-1), /cache limit must be a finite number of bytes >= 0/);
  });
});

it('KESTREL_CPU_CACHE=0 leaves libtorch on its own allocator', () => {
  const tensorIndex = fileURLToPath(new URL('../../src/tensor/index.js', import.meta.url));
  const script = `import { cacheInfo, ones } from ${JSON.stringify(tensorIndex)};
const t = ones([1 << 20]);
console.log(JSON.stringify({ ...cacheInfo(), sum: t.sum().item() }));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, KESTREL_CPU_CACHE: '0' }, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const info = JSON.parse(r.stdout);
  assert.equal(info.enabled, false);
  assert.equal(info.reserved, 0, 'nothing went through the cache');
  assert.equal(info.sum, 2 ** 20);
});

/** heapInfo().arenaCap in a fresh process with `env` added to an environment without arena settings. */
function childArenaCap(env: Record<string, string>): number {
  const tensorIndex = fileURLToPath(new URL('../../src/tensor/index.js', import.meta.url));
  const script = `import { heapInfo } from ${JSON.stringify(tensorIndex)};
console.log(heapInfo().arenaCap);`;
  const clean = { ...process.env };
  for (const k of ['KESTREL_MALLOC_ARENAS', 'MALLOC_ARENA_MAX', 'GLIBC_TUNABLES']) delete clean[k];
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...clean, ...env }, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return Number(r.stdout);
}

describe('malloc arena cap', { skip: heapInfo() === null && 'not glibc' }, () => {
  it('caps arenas at one per core, at least 2, when the addon loads', () => {
    assert.equal(childArenaCap({}), Math.max(2, availableParallelism()));
  });

  it('takes KESTREL_MALLOC_ARENAS, and 0 leaves glibc alone', () => {
    assert.equal(childArenaCap({ KESTREL_MALLOC_ARENAS: '3' }), 3);
    assert.equal(childArenaCap({ KESTREL_MALLOC_ARENAS: '0' }), 0);
  });

  it("leaves a cap the user's environment sets to glibc", () => {
    assert.equal(childArenaCap({ MALLOC_ARENA_MAX: '4' }), 0);
    assert.equal(childArenaCap({ GLIBC_TUNABLES: 'glibc.malloc.arena_max=4' }), 0);
  });
});

it('a warm training loop maps no new memory: every step reuses the blocks of the one before', { skip: !cacheInfo().enabled && 'KESTREL_CPU_CACHE=0' }, () => {
  manualSeed(0);
  const model = new Sequential(new Conv2d(1, 8, 3, { padding: 1 }), new ReLU(), new Flatten(), new Linear(8 * 28 * 28, 10));
  const opt = new Adam(model.parameters(), { lr: 1e-3 });
  const x = randn([16, 1, 28, 28]);
  const y = randint(0, 10, [16]);
  const step = trainingStep(model, opt, x, y);
  for (let i = 0; i < 3; i++) step();
  const warm = cacheInfo();
  let last = 0;
  for (let i = 0; i < 30; i++) last = step();
  const after = cacheInfo();
  assert.equal(after.misses, warm.misses, 'blocks newly mapped after warm-up');
  assert.equal(after.reserved, warm.reserved);
  assert.ok(after.hits - warm.hits >= 30 * 4, `the steps' activations came from the cache (${after.hits - warm.hits} hits)`);
  assert.ok(last < 2.3, `the loop trained (loss ${last})`);
  for (const t of [x, y]) t.dispose();
  opt.dispose();
  model.dispose();
});
