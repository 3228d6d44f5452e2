// kestrel doctor names the BLAS libtorch loaded and flags Debian's slow reference implementation.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadedBlas } from '../../src/cli/doctor-probe.js';
import { tempDir } from '../data/make-images.js';

const line = (path: string): string => `7f0c1a200000-7f0c1a3f0000 r-xp 00022000 08:01 1234 ${path}`;

describe('doctor: BLAS', () => {
  it('tells the reference BLAS from OpenBLAS, and says when none is mapped', () => {
    const tmp = tempDir('maps');
    try {
      const cases: [string[], ReturnType<typeof loadedBlas>][] = [
        [['/usr/lib/x86_64-linux-gnu/libtorch_cpu.so.1.13', '/usr/lib/x86_64-linux-gnu/blas/libblas.so.3.11.0'], { path: '/usr/lib/x86_64-linux-gnu/blas/libblas.so.3.11.0', reference: true }],
        [['/usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblasp-r0.3.21.so'], { path: '/usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblasp-r0.3.21.so', reference: false }],
        [['/usr/lib/x86_64-linux-gnu/libc.so.6'], null],
      ];
      for (const [libs, want] of cases) {
        const maps = join(tmp.dir, 'maps');
        writeFileSync(maps, `${libs.map(line).join('\n')}\n`);
        assert.deepEqual(loadedBlas(maps), want);
      }
      assert.equal(loadedBlas(join(tmp.dir, 'missing')), null);
    } finally {
      tmp.remove();
    }
  });
});
