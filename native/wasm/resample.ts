// Antialiased bilinear resampling of 8-bit RGB images with WebAssembly SIMD, for the data loader's
// fused transform tail (src/data/resample-wasm.ts lays out the memory and computes the filter
// coefficients; see src/data/geometry.ts for the same passes in plain JS). AssemblyScript:
//   asc native/wasm/resample.ts (the options are in package.json's build:wasm)
// Every pointer is a byte offset into this module's memory. Loads and stores run up to 16 bytes
// past a pixel, so the caller leaves 16 bytes of slack after each buffer.

/**
 * The horizontal pass: `rows` rows of an HWC RGB image (`rowStride` bytes apart from `src`), each
 * resampled to `ow` pixels. For output pixel x, `start[x]` is the byte offset of its first input
 * pixel in the row, `count[x]` the number of taps and `weights[x·taps …]` their weights. Writes
 * rows of ow·3 floats (RGB interleaved) from `tmp`.
 */
export function hpass(src: usize, rowStride: i32, rows: i32, start: usize, count: usize, weights: usize, taps: i32, ow: i32, tmp: usize): void {
  let o = tmp;
  for (let y = 0; y < rows; y++) {
    const row = src + <usize>(y * rowStride);
    for (let x = 0; x < ow; x++) {
      let p = row + <usize>load<i32>(start + (<usize>x << 2));
      let wp = weights + (<usize>(x * taps) << 2);
      const n = load<i32>(count + (<usize>x << 2));
      let acc = f32x4.splat(0);
      for (let k = 0; k < n; k++) {
        // R, G, B and the next pixel's R as four floats; the fourth lane is overwritten below.
        const px = f32x4.convert_i32x4_u(i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(v128.load32_zero(p))));
        acc = f32x4.add(acc, f32x4.mul(px, f32x4.splat(load<f32>(wp))));
        p += 3;
        wp += 4;
      }
      v128.store(o, acc);
      o += 12;
    }
  }
}

/**
 * The vertical pass and the layout change: output rows y0 … y0+oh of the resampled image (row yy
 * reads tmp rows start[yy]−lo … with count[yy] weights from weights[yy·taps]), each written as
 * CHW planes of `ow × oh` floats from `out`, mirrored when `flip`, as v·scale[c] − shift[c].
 * `row` is scratch for one interleaved row.
 */
export function vpass(
  tmp: usize, ow: i32, start: usize, count: usize, weights: usize, taps: i32, lo: i32, y0: i32, oh: i32,
  out: usize, flip: bool, s0: f32, s1: f32, s2: f32, m0: f32, m1: f32, m2: f32, row: usize,
): void {
  const rowBytes = <usize>(ow * 12);
  const plane = <usize>(ow * oh) << 2;
  for (let y = 0; y < oh; y++) {
    const yy = y0 + y;
    const n = load<i32>(count + (<usize>yy << 2));
    const r0 = tmp + <usize>(load<i32>(start + (<usize>yy << 2)) - lo) * rowBytes;
    const wp = weights + (<usize>(yy * taps) << 2);
    for (let i: usize = 0; i < rowBytes; i += 16) {
      let q = r0 + i;
      let acc = f32x4.splat(0);
      for (let k = 0; k < n; k++) {
        acc = f32x4.add(acc, f32x4.mul(v128.load(q), f32x4.splat(load<f32>(wp + (<usize>k << 2)))));
        q += rowBytes;
      }
      v128.store(row + i, acc);
    }
    let o = out + (<usize>(y * ow) << 2);
    let step: isize = 4;
    if (flip) {
      o += <usize>(ow - 1) << 2;
      step = -4;
    }
    for (let x = 0; x < ow; x++) {
      const p = row + <usize>(x * 12);
      store<f32>(o, load<f32>(p) * s0 - m0);
      store<f32>(o + plane, load<f32>(p, 4) * s1 - m1);
      store<f32>(o + 2 * plane, load<f32>(p, 8) * s2 - m2);
      o += step;
    }
  }
}
