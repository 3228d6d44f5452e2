/**
 * Typed interface of the libtorch addon (native/src) and its lazy loader. Nothing here runs at
 * import time: a deploy-only process (ONNX Runtime alone) never loads libtorch.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

declare const tensorBrand: unique symbol;
declare const opBrand: unique symbol;
/** An owned reference to one native at::Tensor: a number naming a slot in the addon's table. */
export type TensorHandle = number & { readonly [tensorBrand]: true };
/** A resolved ATen operator (schema looked up once). */
export type OpHandle = { readonly [opBrand]: true };

export interface BuildInfo {
  version: string;
  cudaAvailable: boolean;
  cudnnAvailable: boolean;
  mkldnn: boolean;
  openmp: boolean;
  parallelInfo: string;
  config: string;
}

export interface Addon {
  op(name: string, overload: string): OpHandle;
  schema(op: OpHandle): string;
  call(op: OpHandle, ...args: unknown[]): unknown;
  callVoid(op: OpHandle, ...args: unknown[]): void;

  fromBuffer(data: ArrayBufferView, shape: readonly number[], dtype: number): TensorHandle;
  adoptBuffer(data: ArrayBufferView, shape: readonly number[], dtype: number, recycle?: boolean): TensorHandle;
  takeReturned(): ArrayBufferView[];
  toBuffer(t: TensorHandle): ArrayBuffer;
  item(t: TensorHandle): number | boolean;
  shape(t: TensorHandle): number[];
  strides(t: TensorHandle): number[];
  dtype(t: TensorHandle): number;
  device(t: TensorHandle): string;
  numel(t: TensorHandle): number;
  isContiguous(t: TensorHandle): boolean;
  sameTensor(a: TensorHandle, b: TensorHandle): boolean;
  dispose(t: TensorHandle): void;
  isDisposed(t: TensorHandle): boolean;
  memoryStats(): { handles: number; bytes: number };

  backward(t: TensorHandle, grad: TensorHandle | null, retainGraph: boolean | null, createGraph: boolean): void;
  grad(t: TensorHandle): TensorHandle | null;
  setGrad(t: TensorHandle, g: TensorHandle | null): void;
  setData(t: TensorHandle, src: TensorHandle): void;
  requiresGrad(t: TensorHandle): boolean;
  setRequiresGrad(t: TensorHandle, on: boolean): void;
  isLeaf(t: TensorHandle): boolean;
  gradFn(t: TensorHandle): string | null;
  isGradEnabled(): boolean;
  setGradEnabled(on: boolean): void;

  setNumThreads(n: number): void;
  getNumThreads(): number;
  manualSeed(seed: number): void;
  getRngState(): TensorHandle;
  setRngState(state: TensorHandle): void;
  cudaDeviceCount(): number;
  buildInfo(): BuildInfo;
  heapStats(): { inUse: number; free: number; mmapped: number; arena: number } | null;
  trimHeap(): boolean;
  allocatorStats(): { enabled: boolean; arenas: number; mapped: number; cached: number; peak: number; hits: number; misses: number; limit: number };
  setCacheLimit(bytes: number | null): void;
  emptyCache(): void;

  /** Absent from addons built before it (see hasFusedAdam in src/tensor/fused.ts). */
  adamStep?(params: TensorHandle[], grads: TensorHandle[], expAvgs: TensorHandle[], expAvgSqs: TensorHandle[], maxExpAvgSqs: TensorHandle[] | null, scalars: object): void;
  /** Absent from addons built before it (see packedSelfAttention in src/nn/functional.ts). */
  packedAttention?(qkv: TensorHandle, heads: number, scale: number): TensorHandle;
  packedAttentionAvailable?(): boolean;
  /** The OpenBLAS in the process and the kernels it runs, or null without OpenBLAS (absent from older addons). */
  blasInfo?(): { library: 'OpenBLAS'; config: string; core: string; threads: number } | null;
}

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '../../..');

/** Where the addon is looked for: $KESTREL_ADDON, else the package's build/Release. */
export function addonPath(): string {
  return process.env.KESTREL_ADDON ?? join(packageRoot, 'build/Release/kestrel.node');
}

let loaded: Addon | undefined;
/** The OPENBLAS_CORETYPE this process set for itself from the CPU's flags, if it did. */
export let openblasCoreSet: string | undefined;

/** The CPU's feature flags as the kernel reports them (/proc/cpuinfo); empty elsewhere. */
export function cpuFlags(cpuinfo = '/proc/cpuinfo'): Set<string> {
  try {
    const line = /^flags\s*:(.*)$/m.exec(readFileSync(cpuinfo, 'utf8'))?.[1];
    return new Set(line?.trim().split(/\s+/) ?? []);
  } catch {
    return new Set();
  }
}

/**
 * The OpenBLAS kernels to use on a CPU with these flags: 'SkylakeX' (AVX-512), 'Haswell' (AVX2 +
 * FMA), or undefined to leave OpenBLAS's own choice. OpenBLAS picks kernels by CPU model, and a
 * build older than the CPU falls back to SSE3: Debian 12's OpenBLAS 0.3.21 runs Sapphire Rapids
 * as 'Prescott', where matrix multiplies reach ~50 GFLOP/s on 2 cores against ~250 with its
 * SkylakeX kernels (ViT training 15 against 56 img/s). The flags come from the kernel, so they
 * only list AVX-512 where the OS saves its registers; on CPUs OpenBLAS knows, these are the
 * float32 kernels it would pick itself. A user's own OPENBLAS_CORETYPE wins.
 */
export function openblasCoreFor(flags: Set<string>): 'SkylakeX' | 'Haswell' | undefined {
  if (['avx512f', 'avx512cd', 'avx512bw', 'avx512dq', 'avx512vl'].every((f) => flags.has(f))) return 'SkylakeX';
  if (flags.has('avx2') && flags.has('fma')) return 'Haswell';
  return undefined;
}

/** Loads the addon on first use and sets intra-op threads to the number of cores. */
export function native(): Addon {
  if (loaded) return loaded;
  const path = addonPath();
  if (!existsSync(path)) {
    throw new Error(
      `the libtorch addon is not built (${path}). Install libtorch (apt-get install libtorch-dev, or set LIBTORCH) ` +
        'and run `npm run build:native`; `kestrel doctor` shows what is missing.',
    );
  }
  // libgomp's idle threads spin 300,000 rounds before they sleep. Alone on a machine that saves
  // wake-ups, but next to any other CPU-heavy process (a second run, a browser, a test suite) the
  // spinning threads fight it: smallcnn training against two busy processes on 2 cores ran at
  // 125 img/s with the default, 299 with OMP_WAIT_POLICY=PASSIVE and 281–368 with a spin count of
  // 1,000–10,000. PASSIVE costs 17 % on an idle machine (resnet18 32²: 533 vs 650 img/s), a spin
  // count of 10,000 about 1 % (644). The runtime reads these when it loads, so they are set before
  // the addon pulls libtorch in; a user's own OMP_WAIT_POLICY or GOMP_SPINCOUNT wins.
  if (process.env.OMP_WAIT_POLICY === undefined) process.env.GOMP_SPINCOUNT ??= '10000';
  // OpenBLAS reads OPENBLAS_CORETYPE when it loads, too (see openblasCoreFor).
  if (process.env.OPENBLAS_CORETYPE === undefined) {
    const core = openblasCoreFor(cpuFlags());
    if (core) process.env.OPENBLAS_CORETYPE = openblasCoreSet = core;
  }
  try {
    loaded = createRequire(import.meta.url)(path) as Addon;
  } catch (e) {
    throw new Error(`the libtorch addon failed to load (${path}): ${(e as Error).message}`);
  }
  const threads = Number(process.env.KESTREL_THREADS ?? availableParallelism());
  loaded.setNumThreads(threads > 0 ? threads : availableParallelism());
  return loaded;
}
