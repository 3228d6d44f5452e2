/** `kestrel doctor`: what is installed, what loads, and the exact command for each missing piece. */
import type { Command } from 'commander';
import { openblasCoreSet } from '../native/index.js';
import { probe, type DoctorReport } from './doctor-probe.js';
import { packageVersion } from '../paths.js';

const yesNo = (v: boolean | null): string => (v === null ? '?' : v ? 'yes' : 'no');

function libtorchLine(t: DoctorReport['libtorch']): string {
  const from = t.source === 'debian' ? 'Debian libtorch-dev' : `$LIBTORCH`;
  if (t.found) return `found: ${t.path} (${from})`;
  if (t.source === 'LIBTORCH') return `not found: LIBTORCH=${t.path} has no include/torch or lib/libtorch_cpu.so`;
  return 'not found';
}

function addonLine(a: DoctorReport['addon']): string {
  if (!a.built) return `not built (${a.path})`;
  return a.loaded ? `loaded: ${a.path}` : `built but fails to load: ${a.error ?? 'unknown error'}`;
}

function cudaLine(c: DoctorReport['libtorch']['cuda']): string {
  if (c?.available) return `yes, ${c.devices} device(s)`;
  return c?.build ? 'no: CUDA build of libtorch, but no device visible' : 'no (CPU build of libtorch)';
}

function ortLine(o: DoctorReport['onnxruntime']): string {
  if (!o.installed) return 'not installed (optional: export/serve)';
  if (o.error !== null) return `installed but fails to load: ${o.error}`;
  const missing = o.missing.map((m) => `${m.name}: ${m.why}`).join('; ');
  return `${o.version ?? 'version unknown'}, execution providers: ${o.providers.join(', ') || 'none'}${missing ? ` (${missing})` : ''}`;
}

function blasLine(b: DoctorReport['libtorch']['blas']): string {
  if (!b) return 'not seen';
  if (b.reference) return `${b.path} (netlib reference: slow matrix multiplies)`;
  const set = openblasCoreSet === b.core ? 'picked by Kestrel from the CPU flags; OPENBLAS_CORETYPE overrides'
    : process.env.OPENBLAS_CORETYPE ? 'OPENBLAS_CORETYPE' : 'chosen by OpenBLAS';
  return b.core ? `${b.path} (OpenBLAS, ${b.core} kernels: ${set})` : b.path;
}

/** The report as aligned `label  value` lines, then the fixes. */
export function formatDoctor(r: DoctorReport): string {
  const t = r.libtorch;
  const rows: [string, string][] = [
    ['Node', `${r.node.version} (${r.node.platform}, ABI ${r.node.abi})`],
    ['libtorch', libtorchLine(t)],
    ['addon', addonLine(r.addon)],
  ];
  if (r.addon.loaded) {
    rows.push(
      ['version', `libtorch ${t.version}`],
      ['CUDA', cudaLine(t.cuda)],
      ['cuDNN', yesNo(t.cudnn)],
      ['MKLDNN', yesNo(t.mkldnn)],
      ['OpenMP', yesNo(t.openmp)],
      ['threads', `${t.threads} intra-op (KESTREL_THREADS overrides)`],
      ['BLAS', blasLine(t.blas)],
      ['allocator', t.cpuCache ? 'caching (KESTREL_CPU_CACHE=0 turns it off)' : 'libtorch default (KESTREL_CPU_CACHE=0)'],
      ['malloc arenas', t.mallocArenas ? `capped at ${t.mallocArenas} (KESTREL_MALLOC_ARENAS overrides)` : "glibc's default or the environment's"],
    );
  }
  rows.push(['ONNX Runtime', ortLine(r.onnxruntime)]);
  const width = Math.max(...rows.map(([k]) => k.length));
  const lines = [`kestrel ${packageVersion()} doctor`, ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`)];
  lines.push('', r.ok ? 'libtorch is usable: training works.' : 'libtorch is not usable yet: training will fail.');
  if (r.fixes.length > 0) lines.push('To fix:', ...r.fixes.map((f) => `  ${f}`));
  return lines.join('\n');
}

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('check Node, libtorch, the native addon and ONNX Runtime; print a fix for each missing piece')
    .option('--json', 'print one JSON object instead of text')
    .action(async (opts: { json?: boolean }) => {
      const report = await probe();
      process.stdout.write(`${opts.json ? JSON.stringify(report, null, 2) : formatDoctor(report)}\n`);
      if (!report.ok) process.exitCode = 1;
    });
}
