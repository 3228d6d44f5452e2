/**
 * PIL's Image.resize for 8-bit images, bit for bit (libImaging/Resample.c, ImagingResample with
 * the default box and no reducing_gap, as torchvision's Resize calls it on PIL images): the filter
 * coefficients of filters.ts turned into fixed point with 22 fractional bits, a horizontal pass
 * then a vertical one, each rounding half up and clipping to 0–255. Publishers measure their
 * ImageNet weights through that rounding, which moves pixels by up to one grey level from a float
 * resize; a `resize` with `rounding: 'pil'` uses this pass to give their scores.
 *
 * Written by hand because nothing else reproduces it: sharp/libvips, canvas and wasm image
 * libraries all resample with other kernels, rounding or precision, and the float passes here
 * (geometry.ts) keep full precision on purpose. It runs once per image at evaluation, so plain
 * JS is fast enough; training keeps the float passes.
 */
import { PipelineError } from './errors.js';
import { filterCoeffs, type Interpolation } from './filters.js';
import { requireHwc, type Img } from './pixels.js';

/** PIL's PRECISION_BITS: 32 bits less 8 for the value and 2 for the overshoot of negative lobes. */
const BITS = 22;
const ONE = 2 ** BITS;
const HALF = 2 ** (BITS - 1);

interface FixedCoeffs {
  start: Int32Array;
  count: Int32Array;
  k: Int32Array;
  taps: number;
}

/** normalize_coeffs_8bpc: each weight × 2²², rounded half away from zero (C's (int) truncates). */
function fixedCoeffs(inSize: number, outSize: number, interpolation: Interpolation): FixedCoeffs {
  const c = filterCoeffs(inSize, outSize, interpolation);
  const k = new Int32Array(c.weights.length);
  for (let i = 0; i < k.length; i++) {
    const v = c.weights[i]! * ONE;
    k[i] = Math.trunc(v < 0 ? v - 0.5 : v + 0.5);
  }
  return { start: c.start, count: c.count, k, taps: c.taps };
}

/** clip8: the sum's integer part (an arithmetic shift floors), clipped to a byte. */
const clip8 = (ss: number): number => {
  const v = ss >> BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
};

/** Rows [y0, y0 + rows) of an HWC image, each resampled to the coefficients' width. */
function horizontal(src: Uint8Array, W: number, C: number, y0: number, rows: number, f: FixedCoeffs, outW: number): Uint8Array {
  const out = new Uint8Array(rows * outW * C);
  let o = 0;
  for (let y = 0; y < rows; y++) {
    const row = (y0 + y) * W * C;
    for (let xx = 0; xx < outW; xx++) {
      const p0 = row + f.start[xx]! * C;
      const n = f.count[xx]!;
      const kb = xx * f.taps;
      for (let c = 0; c < C; c++) {
        let ss = HALF;
        for (let x = 0, p = p0 + c; x < n; x++, p += C) ss += src[p]! * f.k[kb + x]!;
        out[o++] = clip8(ss);
      }
    }
  }
  return out;
}

/** Each output row from the rows of `src` (row 0 being input row `shift`) its coefficients name. */
function vertical(src: Uint8Array, W: number, C: number, shift: number, f: FixedCoeffs, outH: number): Uint8Array {
  const rowLen = W * C;
  const out = new Uint8Array(outH * rowLen);
  for (let yy = 0; yy < outH; yy++) {
    const r0 = (f.start[yy]! - shift) * rowLen;
    const n = f.count[yy]!;
    const kb = yy * f.taps;
    const ob = yy * rowLen;
    for (let i = 0; i < rowLen; i++) {
      let ss = HALF;
      for (let y = 0, p = r0 + i; y < n; y++, p += rowLen) ss += src[p]! * f.k[kb + y]!;
      out[ob + i] = clip8(ss);
    }
  }
  return out;
}

/**
 * Resizes an 8-bit HWC image to outW × outH exactly as PIL's `Image.resize` does with BILINEAR or
 * BICUBIC (any number of channels: PIL treats L and RGB bands alike). A pass whose size does not
 * change is skipped, as in PIL.
 *
 * @example
 * const out = resizePil({ data: rgb, width: 500, height: 375, channels: 3 }, 341, 256, 'bicubic');
 * out.data; // Uint8Array, the bytes of np.asarray(pil_image.resize((341, 256), Image.BICUBIC))
 */
export function resizePil(img: Img, outW: number, outH: number, interpolation: Interpolation): Img & { data: Uint8Array } {
  requireHwc(img, 'resize');
  if (!(img.data instanceof Uint8Array)) throw new PipelineError("transform 'resize' with rounding 'pil' takes 8-bit images: put it before any transform that makes floats");
  const { width: W, height: H, channels: C } = img;
  let data: Uint8Array = img.data;
  const fy = fixedCoeffs(H, outH, interpolation);
  let shift = 0;
  if (outW !== W) {
    // Only the rows the vertical pass reads, as ImagingResampleInner's ybox_first … ybox_last.
    const first = fy.start[0]!;
    const last = fy.start[outH - 1]! + fy.count[outH - 1]!;
    data = horizontal(data, W, C, first, last - first, fixedCoeffs(W, outW, interpolation), outW);
    shift = first;
  }
  if (outH !== H) data = vertical(data, outW, C, shift, fy, outH);
  else if (data === img.data) data = new Uint8Array(data);
  return { data, width: outW, height: outH, channels: C };
}
