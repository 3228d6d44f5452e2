/** Process-wide engine settings: grad mode, seeds, threads, memory accounting. */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { native } from '../native/index.js';
import { collectedByGc, Tensor } from './tensor.js';

/** Runs `fn` with gradient recording off (inference, optimizer updates). */
export function noGrad<T>(fn: () => T): T {
  return withGradMode(false, fn);
}

/** Runs `fn` with gradient recording on, even inside noGrad. */
export function enableGrad<T>(fn: () => T): T {
  return withGradMode(true, fn);
}

function withGradMode<T>(on: boolean, fn: () => T): T {
  const n = native();
  const prev = n.isGradEnabled();
  n.setGradEnabled(on);
  try {
    return fn();
  } finally {
    n.setGradEnabled(prev);
  }
}

export const isGradEnabled = (): boolean => native().isGradEnabled();

/** Seeds libtorch's generators (CPU and CUDA) for reproducible `rand`, `randn`, dropout, init. */
export const manualSeed = (seed: number): void => native().manualSeed(seed);

/** The CPU generator's state (uint8 tensor) and its restore, for exact resume. */
export const getRngState = (): Tensor => new Tensor(native().getRngState());
export const setRngState = (state: Tensor): void => native().setRngState(state.handle);

/** Intra-op threads (defaults to the number of cores; KESTREL_THREADS overrides). */
export const setNumThreads = (n: number): void => native().setNumThreads(n);
export const getNumThreads = (): number => native().getNumThreads();

export interface MemoryInfo {
  /** Native tensor handles alive now (a rising count in a loop is a leak). */
  tensors: number;
  /** Bytes those handles address (views count their own extent). */
  bytes: number;
  /** Tensors freed by the garbage collector rather than dispose()/tidy(). */
  collectedByGc: number;
}

/** The C heap (glibc malloc, all arenas) in bytes: in use, free but kept, and in mmapped chunks; null off glibc. */
export interface HeapInfo {
  inUse: number;
  free: number;
  mmapped: number;
  /**
   * The cap the addon set on malloc's arenas when it loaded (one per core, at least 2), so the
   * free space of many per-thread arenas does not fragment and creep up over epochs; 0 when not
   * set here (`KESTREL_MALLOC_ARENAS=0`, or `MALLOC_ARENA_MAX` / `glibc.malloc.arena_max` already
   * in the environment). `KESTREL_MALLOC_ARENAS=N` picks it.
   */
  arenaCap: number;
}

/** malloc's view of the C heap, where libtorch's CPU tensors live (null where libc is not glibc). */
export function heapInfo(): HeapInfo | null {
  const h = native().heapStats();
  return h && { inUse: h.inUse, free: h.free, mmapped: h.mmapped, arenaCap: native().allocatorStats().arenas };
}

/**
 * The addon's caching CPU allocator (tensor blocks of 16 KiB and up), in bytes. Freed blocks are
 * kept by size class and handed out again, so a training loop reuses the same warm memory every
 * step and resident memory stays flat over epochs (glibc's heaps fragment and creep up instead).
 * `KESTREL_CPU_CACHE=0` in the environment turns it off (`enabled: false`).
 */
export interface CacheInfo {
  enabled: boolean;
  /** Mapped from the system: blocks in use plus `cached`. */
  reserved: number;
  /** Freed blocks kept for reuse. */
  cached: number;
  /** The most bytes in use at once. */
  peak: number;
  /** Requests served from the cache / by mapping new memory. */
  hits: number;
  misses: number;
  /** The most `cached` may hold; least recently freed blocks beyond it are unmapped. */
  limit: number;
}

export function cacheInfo(): CacheInfo {
  const s = native().allocatorStats();
  return { enabled: s.enabled, reserved: s.mapped, cached: s.cached, peak: s.peak, hits: s.hits, misses: s.misses, limit: s.limit };
}

/** Returns every cached block to the system (blocks in use stay). */
export const emptyCache = (): void => native().emptyCache();

/**
 * Caps the cache at `bytes`; `null` restores the automatic limit: twice the peak bytes in use
 * (at least 256 MiB). A step's blocks summed over size classes come to more than its peak, so
 * a tighter cap unmaps and maps blocks again every step.
 */
export const setCacheLimit = (bytes: number | null): void => native().setCacheLimit(bytes);

let fullGc: (() => void) | undefined;

/**
 * V8's full collection: `gc` where node runs with --expose-gc, else the flag is set now and `gc`
 * taken from a fresh context (as jest-leak-detector does); the flag only adds that global.
 */
function exposeGc(): () => void {
  const global = (globalThis as { gc?: () => void }).gc;
  if (global) return global;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/**
 * Hands back memory the process holds but no longer uses, as Ultralytics' trainer does between
 * epochs with gc.collect(): a full garbage collection, so tensors dropped without dispose() and
 * other native memory owned by dead objects are freed now (V8 otherwise collects its old
 * generation only every few epochs of a training run), then glibc's malloc_trim, which returns the
 * free pages inside malloc's heaps to the system. Takes tens of milliseconds; `train` calls it
 * after each epoch. The caching allocator's blocks stay (see emptyCache).
 */
export async function releaseMemory(): Promise<void> {
  fullGc ??= exposeGc();
  fullGc();
  // Tensors the collection found dead are freed by FinalizationRegistry callbacks, which run as
  // tasks after it; V8 frees dead ArrayBuffers' memory on a background thread, and the next
  // collection starts by finishing that. Then nothing is left pending for the trim.
  await new Promise((resolve) => setImmediate(resolve));
  fullGc();
  native().trimHeap();
}

/** Live tensors and bytes, for logging and leak tests. */
export function memory(): MemoryInfo {
  const s = native().memoryStats();
  return { tensors: s.handles, bytes: s.bytes, collectedByGc: collectedByGc() };
}
