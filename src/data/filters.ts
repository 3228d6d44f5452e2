/**
 * PIL's resampling filters and their coefficients (libImaging/Resample.c: the filters and
 * precompute_coeffs), in double as PIL computes them. The float passes (geometry.ts, the
 * WebAssembly kernel) round the weights to float32; the PIL-exact pass (resample-pil.ts) to PIL's
 * fixed point. torchvision's antialiased tensor Resize uses the same coefficients.
 */

/** How a resize interpolates: PIL's triangle (bilinear) or Keys' cubic with a = −0.5 (bicubic), both antialiased. */
export type Interpolation = 'bilinear' | 'bicubic';

interface Filter {
  /** Half the kernel's width at scale 1. */
  support: number;
  f(x: number): number;
}

const FILTERS: Record<Interpolation, Filter> = {
  bilinear: {
    support: 1,
    f: (x) => {
      const t = Math.abs(x);
      return t < 1 ? 1 - t : 0;
    },
  },
  bicubic: {
    support: 2,
    f: (x) => {
      const a = -0.5;
      const t = Math.abs(x);
      if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
      return t < 2 ? (((t - 5) * t + 8) * t - 4) * a : 0;
    },
  },
};

/**
 * For each output sample, the first input sample it reads (`start`), how many (`count`), and
 * their weights (`weights[xx·taps …]`, summing to 1; zero past `count`).
 */
export interface FilterCoeffs {
  start: Int32Array;
  count: Int32Array;
  weights: Float64Array;
  taps: number;
}

/**
 * PIL's precompute_coeffs for resampling `inSize` samples to `outSize` (the box from 0 to
 * inSize): the filter stretched by the downscale factor, so shrinking averages every input
 * sample (antialiasing). The arithmetic follows PIL's to the operation (a multiplication by the
 * reciprocal scale, C's truncation of the bounds), so the fixed-point weights derived from these
 * are PIL's bit for bit.
 */
export function filterCoeffs(inSize: number, outSize: number, interpolation: Interpolation = 'bilinear'): FilterCoeffs {
  const filter = FILTERS[interpolation];
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filter.support * filterScale;
  const taps = Math.ceil(support) * 2 + 1;
  const ss = 1 / filterScale;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Float64Array(outSize * taps);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const n = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    const o = xx * taps;
    let sum = 0;
    for (let x = 0; x < n; x++) {
      const w = filter.f((x + xmin - center + 0.5) * ss);
      weights[o + x] = w;
      sum += w;
    }
    if (sum !== 0) for (let x = 0; x < n; x++) weights[o + x]! /= sum;
    start[xx] = xmin;
    count[xx] = n;
  }
  return { start, count, weights, taps };
}
