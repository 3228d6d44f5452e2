// kestrel doctor names the BLAS libtorch loaded and flags Debian's slow reference implementation;
// Kestrel picks OpenBLAS's kernels from the CPU's flags and sizes its threads.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadedBlas } from '../../src/cli/doctor-probe.js';
import { cpuFlags, openblasCoreFor } from '../../src/native/index.js';
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

describe('OpenBLAS kernels and threads', () => {
  const SAPPHIRE_RAPIDS = 'fpu sse sse2 ssse3 fma sse4_1 sse4_2 avx avx2 avx512f avx512dq avx512ifma avx512cd avx512bw avx512vl avx512_bf16 amx_tile';

  it('picks SkylakeX kernels for AVX-512, Haswell for AVX2 + FMA, and leaves older CPUs to OpenBLAS', () => {
    const core = (flags: string): string | undefined => openblasCoreFor(new Set(flags.split(' ')));
    assert.equal(core(SAPPHIRE_RAPIDS), 'SkylakeX');
    assert.equal(core('fpu sse sse2 fma avx avx2 bmi2'), 'Haswell');
    // AVX-512 foundation alone (Knights Landing has no BW/VL) is not what the SkylakeX kernels use
    assert.equal(core('fma avx avx2 avx512f avx512cd'), 'Haswell');
    assert.equal(core('sse sse2 ssse3 avx'), undefined);
    assert.equal(core(''), undefined);
  });

  it('reads the flags of /proc/cpuinfo, and none from a file it cannot read', () => {
    const tmp = tempDir('cpuinfo');
    try {
      const file = join(tmp.dir, 'cpuinfo');
      writeFileSync(file, `processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Processor\nflags\t\t: ${SAPPHIRE_RAPIDS}\nbugs\t\t: spectre_v1\n\nprocessor\t: 1\nflags\t\t: fpu\n`);
      const flags = cpuFlags(file);
      assert.ok(flags.has('avx512bw') && flags.has('fpu') && !flags.has('spectre_v1'));
      assert.equal(flags.size, SAPPHIRE_RAPIDS.split(' ').length);
      assert.equal(cpuFlags(join(tmp.dir, 'missing')).size, 0);
    } finally {
      tmp.remove();
    }
  });

  it('a Kestrel process runs the kernels its CPU flags call for, and sizes OpenBLAS\'s threads with its own', () => {
    // A child process: OpenBLAS picks its kernels once, when libtorch loads.
    const script = `
      const { native } = await import(${JSON.stringify(new URL('../../src/native/index.js', import.meta.url).href)});
      const n = native();
      const before = n.blasInfo();
      n.setNumThreads(1);
      const { loadedBlas } = await import(${JSON.stringify(new URL('../../src/cli/doctor-probe.js', import.meta.url).href)});
      console.log(JSON.stringify({ before, after: n.blasInfo(), mapped: loadedBlas() }));`;
    const env: NodeJS.ProcessEnv = { ...process.env, KESTREL_THREADS: '2' };
    delete env.OPENBLAS_CORETYPE;
    const out = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { env, encoding: 'utf8' })) as {
      before: { core: string; threads: number } | null; after: { threads: number } | null; mapped: { path: string } | null;
    };
    if (out.mapped?.path.includes('openblas') !== true) {
      assert.equal(out.before, null, 'no OpenBLAS mapped, so no OpenBLAS to report');
      return;
    }
    assert.ok(out.before && out.after, 'the addon reports the OpenBLAS libtorch loaded');
    const want = openblasCoreFor(cpuFlags());
    if (want) assert.equal(out.before.core, want);
    assert.equal(out.before.threads, 2);
    assert.equal(out.after.threads, 1);
  });
});
