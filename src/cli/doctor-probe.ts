/**
 * What `kestrel doctor` inspects: Node, libtorch (where scripts/libtorch.mjs finds it, and what the
 * addon reports once loaded) and ONNX Runtime. Plain data, so --json and the text view agree.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { addonPath, native } from '../native/index.js';
import type * as Session from '../runtime/session.js';
import { packageRoot } from '../paths.js';

/** What scripts/libtorch.mjs's findLibtorch returns (the file binding.gyp also uses). */
interface LibtorchLocation {
  root: string;
  include: string[];
  lib: string;
  source: string;
  cuda: boolean;
  cxx11Abi: number | null;
}

export interface DoctorReport {
  /** libtorch is usable from Kestrel: the addon loaded. */
  ok: boolean;
  node: { version: string; platform: string; abi: string };
  libtorch: {
    found: boolean;
    path: string | null;
    /** `debian` (libtorch-dev) or `LIBTORCH` (the environment variable). */
    source: string | null;
    /** Filled once the addon loads. */
    version: string | null;
    /** `build`: libtorch_cuda is present where libtorch was found (null when unknown). */
    cuda: { build: boolean | null; available: boolean; devices: number } | null;
    cudnn: boolean | null;
    mkldnn: boolean | null;
    openmp: boolean | null;
    threads: number | null;
    /** The BLAS library libtorch loaded (matrix multiplies: linear layers, attention), and whether it is the slow netlib reference. */
    blas: { path: string; reference: boolean; core?: string } | null;
    /** Whether tensor memory comes from the addon's caching allocator (KESTREL_CPU_CACHE=0 turns it off). */
    cpuCache: boolean | null;
    /** The cap the addon set on glibc's malloc arenas (0: glibc's default, or the environment's). */
    mallocArenas: number | null;
  };
  addon: { path: string; built: boolean; loaded: boolean; error: string | null };
  /**
   * `providers`: the execution providers `--provider` accepts here (of Kestrel's: cpu, cuda);
   * `missing`: Kestrel's others, and why they cannot run.
   */
  onnxruntime: { installed: boolean; version: string | null; providers: string[]; missing: { name: string; why: string }[]; error: string | null };
  /** Exact commands that would fix what is missing, most important first. */
  fixes: string[];
}

async function findLibtorch(): Promise<LibtorchLocation | null> {
  const url = pathToFileURL(join(packageRoot(), 'scripts/libtorch.mjs')).href;
  const mod = (await import(url)) as { findLibtorch: () => LibtorchLocation | null };
  return mod.findLibtorch();
}

function probeAddon(report: DoctorReport, where: LibtorchLocation | null): void {
  const { addon, libtorch } = report;
  if (!addon.built) return;
  try {
    const n = native();
    const info = n.buildInfo();
    const allocator = n.allocatorStats();
    const devices = n.cudaDeviceCount();
    addon.loaded = true;
    Object.assign(libtorch, {
      version: info.version,
      cuda: { build: where?.cuda ?? null, available: info.cudaAvailable && devices > 0, devices },
      cudnn: info.cudnnAvailable,
      mkldnn: info.mkldnn,
      openmp: info.openmp,
      threads: n.getNumThreads(),
      blas: withCore(loadedBlas(), n.blasInfo?.()?.core),
      cpuCache: allocator.enabled,
      mallocArenas: allocator.arenas,
    });
  } catch (e) {
    addon.error = (e as Error).message;
  }
}

const withCore = (blas: ReturnType<typeof loadedBlas>, core: string | undefined): DoctorReport['libtorch']['blas'] =>
  blas && core ? { ...blas, core } : blas;

/** The BLAS shared library mapped into this process (Linux /proc/self/maps), or null when none is seen. */
export function loadedBlas(maps = '/proc/self/maps'): { path: string; reference: boolean } | null {
  let text: string;
  try {
    text = readFileSync(maps, 'utf8');
  } catch {
    return null;
  }
  const path = /(\/\S*lib(?:open)?blas[^/\s]*\.so[^/\s]*)$/m.exec(text)?.[1];
  if (!path) return null;
  // Debian's netlib reference implementation: libblas3, in .../blas/libblas.so.3.
  return { path, reference: /\/blas\/libblas\.so/.test(path) };
}

/** The version in the package.json above a resolved entry file. */
function versionAbove(entry: string, name: string): string | null {
  for (let dir = dirname(entry); dir !== dirname(dir); dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
    if (pkg.name === name) return pkg.version ?? null;
  }
  return null;
}

async function probeOnnxRuntime(): Promise<DoctorReport['onnxruntime']> {
  const name = 'onnxruntime-node';
  let session: typeof Session;
  try {
    // The module that picks the provider for `--provider`: doctor reports exactly what it accepts.
    session = await import('../runtime/session.js');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const missing = err.code === 'ERR_MODULE_NOT_FOUND' && err.message.includes(`'${name}'`);
    return { installed: !missing, version: null, providers: [], missing: [], error: missing ? null : err.message };
  }
  let version: string | null = null;
  try {
    version = versionAbove(createRequire(import.meta.url).resolve(name), name);
  } catch {
    // An exports map may hide the entry file; the version is then unknown, not an error.
  }
  try {
    return { installed: true, version, providers: session.availableProviders(), missing: session.missingProviders(), error: null };
  } catch (e) {
    return { installed: true, version, providers: [], missing: [], error: (e as Error).message.split('\n')[0]! };
  }
}

function fixesFor(r: DoctorReport): string[] {
  const sudo = process.getuid?.() === 0 ? '' : 'sudo ';
  const fixes: string[] = [];
  if (!r.libtorch.found) {
    if (process.env.LIBTORCH) {
      // findLibtorch trusts $LIBTORCH alone, so Debian's copy is not looked at while it is set.
      fixes.push('export LIBTORCH=/path/to/libtorch   # a folder with include/torch and lib/libtorch_cpu.so', `unset LIBTORCH && ${sudo}apt-get install -y libtorch-dev`);
    } else {
      fixes.push(`${sudo}apt-get install -y libtorch-dev`, 'export LIBTORCH=/path/to/libtorch   # or: an official libtorch zip, or a pip torch/ folder');
    }
  }
  if (!r.addon.loaded) fixes.push('npm run build:native');
  if (r.libtorch.blas?.reference) fixes.push(`${sudo}apt-get install -y libopenblas0-openmp   # matrix multiplies on the reference BLAS are 10-50x slower`);
  if (!r.onnxruntime.installed) fixes.push('npm install onnxruntime-node   # optional: ONNX Runtime for export/serve');
  return fixes;
}

/** Inspects the environment; never throws for a missing piece, only records it. */
export async function probe(): Promise<DoctorReport> {
  const where = await findLibtorch();
  const path = addonPath();
  const report: DoctorReport = {
    ok: false,
    node: { version: process.version, platform: `${process.platform}-${process.arch}`, abi: process.versions.modules },
    libtorch: {
      found: where !== null,
      // A $LIBTORCH that holds no libtorch is reported as such, not silently skipped.
      path: where?.root ?? process.env.LIBTORCH ?? null,
      source: where?.source ?? (process.env.LIBTORCH ? 'LIBTORCH' : null),
      version: null,
      cuda: null,
      cudnn: null,
      mkldnn: null,
      openmp: null,
      threads: null,
      blas: null,
      cpuCache: null,
      mallocArenas: null,
    },
    addon: { path, built: existsSync(path), loaded: false, error: null },
    onnxruntime: await probeOnnxRuntime(),
    fixes: [],
  };
  probeAddon(report, where);
  report.ok = report.addon.loaded;
  report.fixes = fixesFor(report);
  return report;
}
