/**
 * Seeded randomness for data pipelines, in plain JS so it runs the same in every worker thread:
 * xoshiro128** (Blackman & Vigna, 2018) seeded through a SplitMix32-style stream (Murmur3's fmix32
 * finaliser on a golden-ratio counter). Per-sample generators are derived from
 * (seed, epoch, sample index), so augmentation does not depend on how samples are spread over
 * workers or batches.
 */

const fmix32 = (h: number): number => {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
};

const rotl = (x: number, k: number): number => (x << k) | (x >>> (32 - k));

/** Hashes any number of non-negative integers (up to 2^53) to one 32-bit seed. */
export function mixSeed(...parts: number[]): number {
  let h = 0x243f6a88;
  for (const p of parts) {
    const lo = p >>> 0;
    const hi = Math.floor(p / 0x100000000) >>> 0;
    h = fmix32(h ^ fmix32(lo + 0x9e3779b9));
    h = fmix32(h ^ fmix32(hi + 0x7f4a7c15));
  }
  return h;
}

/**
 * A small, fast seeded generator (xoshiro128**, period 2^128 − 1).
 *
 * @example
 * const rng = new Rng(42);
 * rng.next();            // float in [0, 1)
 * rng.int(0, 10);        // integer in [0, 10)
 * Rng.forSample(42, 3, 1017).uniform(-30, 30); // reproducible per (seed, epoch, sample)
 */
export class Rng {
  #s0: number;
  #s1: number;
  #s2: number;
  #s3: number;

  constructor(seed: number) {
    let z = mixSeed(seed);
    const step = (): number => fmix32((z = (z + 0x9e3779b9) >>> 0));
    this.#s0 = step();
    this.#s1 = step();
    this.#s2 = step();
    this.#s3 = step();
    if ((this.#s0 | this.#s1 | this.#s2 | this.#s3) === 0) this.#s0 = 1;
  }

  /** Generator from an explicit state (tests compare with the reference C code). */
  static fromState(s: [number, number, number, number]): Rng {
    const r = new Rng(0);
    [r.#s0, r.#s1, r.#s2, r.#s3] = s.map((v) => v >>> 0) as [number, number, number, number];
    return r;
  }

  /** An Rng drawing from `uniform` (a function returning floats in [0, 1)), for callers that have their own. */
  static from(uniform: () => number): Rng {
    return new FnRng(uniform);
  }

  /** The generator for one sample of one epoch. */
  static forSample(seed: number, epoch: number, index: number): Rng {
    return new Rng(mixSeed(seed, epoch, index));
  }

  /** The next raw 32-bit output. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.#s1, 5), 7), 9) >>> 0;
    const t = this.#s1 << 9;
    this.#s2 ^= this.#s0;
    this.#s3 ^= this.#s1;
    this.#s1 ^= this.#s2;
    this.#s0 ^= this.#s3;
    this.#s2 ^= t;
    this.#s3 = rotl(this.#s3, 11);
    return result;
  }

  /** Uniform float in [0, 1) with 32 random bits. */
  next(): number {
    return this.nextUint32() / 0x100000000;
  }

  /** Uniform float in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Uniform integer in [lo, hi) (hi − lo ≤ 2^32). */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo));
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** Standard normal (Box–Muller). */
  normal(): number {
    const u = 1 - this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }

  /** Gamma(shape, 1) by Marsaglia–Tsang (shape < 1 through the boost u^(1/shape)). */
  gamma(shape: number): number {
    if (shape < 1) return this.gamma(shape + 1) * Math.pow(1 - this.next(), 1 / shape);
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number;
      let v: number;
      do {
        x = this.normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = 1 - this.next();
      if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
    }
  }

  /** Beta(a, b), as MixUp and CutMix draw their mixing weight. */
  beta(a: number, b: number): number {
    const x = this.gamma(a);
    const y = this.gamma(b);
    return x + y === 0 ? 0.5 : x / (x + y);
  }

  /** Shuffles `a` in place (Fisher–Yates) and returns it. */
  shuffle<T extends { length: number; [i: number]: unknown }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }
}

class FnRng extends Rng {
  readonly #uniform: () => number;
  constructor(uniform: () => number) {
    super(0);
    this.#uniform = uniform;
  }
  override nextUint32(): number {
    return Math.floor(this.#uniform() * 0x100000000) >>> 0;
  }
}

/** The seeded order of `n` samples for one epoch: a permutation of 0..n−1. */
export function epochPermutation(n: number, seed: number, epoch: number): Int32Array {
  const idx = new Int32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  return new Rng(mixSeed(seed, epoch)).shuffle(idx);
}
