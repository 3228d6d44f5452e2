/**
 * IEEE 754 binary16 ("half") bits from float32 and back. Node 20 has no Float16Array, so the
 * conversion is done on the bit patterns: round to nearest, ties to even, with fp16 subnormals,
 * overflow to infinity and NaN kept NaN (numpy's `astype(np.float16)` gives the same bits).
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The largest finite fp16 value. */
export const FLOAT16_MAX = 65504;

/** fp16 bits of a float32 bit pattern (the core of every conversion here). */
function halfFromBits(b: number): number {
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  const mant = b & 0x7fffff;
  if (exp === 0xff) return mant === 0 ? sign | 0x7c00 : sign | 0x7c00 | (mant >>> 13 || 1);
  const e = exp - 112; // rebias 127 → 15
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // fp16 subnormal (or zero): the value in units of 2^-24 is (1.mant × 2^23) >> (14 - e).
    if (e < -10) return sign;
    const full = mant | 0x800000;
    const shift = 14 - e;
    const half = full >>> shift;
    const rem = full & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    return sign | (half + (rem > mid || (rem === mid && (half & 1) === 1) ? 1 : 0));
  }
  // A carry out of the mantissa correctly bumps the exponent (up to infinity).
  const half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  return sign | (half + (rem > 0x1000 || (rem === 0x1000 && (half & 1) === 1) ? 1 : 0));
}

/** fp16 bits of `x` rounded to float32 first, then to fp16 (round to nearest even). */
export function toHalfBits(x: number): number {
  f32[0] = x;
  return halfFromBits(u32[0]!);
}

/** The value of fp16 bits `h` (exact in float32 and float64). */
export function fromHalfBits(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant === 0 ? sign * Infinity : NaN;
  return sign * (1024 + mant) * 2 ** (exp - 25);
}

/**
 * A float32 array as fp16 bits. Finite values beyond ±`maxFinite` (default 65504) are clamped to
 * it first, so large weights saturate instead of becoming infinite; ±Infinity and NaN stay as
 * they are.
 *
 * @example
 * toHalfArray(Float32Array.of(1, 1e-8, 1e6, -Infinity)); // Uint16Array [0x3c00, 0x0000, 0x7bff, 0xfc00]
 */
export function toHalfArray(src: Float32Array, maxFinite = FLOAT16_MAX): Uint16Array {
  const out = new Uint16Array(src.length);
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const limit = toHalfBits(maxFinite);
  for (let i = 0; i < src.length; i++) {
    const x = src[i]!;
    if (Number.isFinite(x) && Math.abs(x) > maxFinite) out[i] = limit | (x < 0 ? 0x8000 : 0);
    else out[i] = halfFromBits(bits[i]!);
  }
  return out;
}

/** fp16 bits as float32 values. */
export function fromHalfArray(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = fromHalfBits(src[i]!);
  return out;
}
