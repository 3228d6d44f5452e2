/** Process-wide engine settings: grad mode, seeds, threads, memory accounting. */
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
}

/** malloc's view of the C heap, where libtorch's CPU tensors live (null where libc is not glibc). */
export function heapInfo(): HeapInfo | null {
  const h = native().heapStats();
  return h && { inUse: h.inUse, free: h.free, mmapped: h.mmapped };
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

/** Live tensors and bytes, for logging and leak tests. */
export function memory(): MemoryInfo {
  const s = native().memoryStats();
  return { tensors: s.handles, bytes: s.bytes, collectedByGc: collectedByGc() };
}
