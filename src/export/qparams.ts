/**
 * The arithmetic of int8 quantization as ONNX's QuantizeLinear / DequantizeLinear define it
 * (`q = saturate(round_half_even(x / scale) + zero_point)`, `x ≈ (q - zero_point) × scale`) and as
 * ONNX Runtime's quantizer chooses its parameters: activations per tensor, uint8 asymmetric with
 * zero exactly representable; weights per output channel, int8 symmetric (zero point 0, range
 * ±127); biases int32 with scale input_scale × weight_scale, which is what QLinearConv and QGemm
 * take.
 */

/** Round half to even (what QuantizeLinear and numpy's rint do). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export interface QParams {
  scale: number;
  zeroPoint: number;
}

/**
 * uint8 parameters for values in [lo, hi]: the range is widened to include 0 (so zero padding
 * and ReLU's zeros are exact), scale = (hi - lo) / 255, zero point = round(-lo / scale).
 * A range of zero width gives scale 1 (as ORT does), so dequantization stays finite.
 */
export function activationParams(lo: number, hi: number): QParams {
  const rmin = Math.min(lo, 0);
  const rmax = Math.max(hi, 0);
  const scale = Math.fround((rmax - rmin) / 255);
  if (!(scale > 0) || !Number.isFinite(scale)) return { scale: 1, zeroPoint: 0 };
  return { scale, zeroPoint: Math.min(255, Math.max(0, roundHalfEven(-rmin / scale))) };
}

export interface WeightQuant {
  /** int8 values, same layout as the float weights. */
  q: Int8Array;
  /** One scale per channel along `axis` (one in all for per-tensor). */
  scales: Float32Array;
}

/**
 * Symmetric int8 quantization of a weight tensor, per channel along `axis` (or per tensor when
 * `axis` is null): scale_c = max|w_c| / qmax, q = round_half_even(w / scale_c) in [-qmax, qmax].
 * qmax is 127, or 63 with `reduceRange` (7-bit weights, for CPUs without VNNI whose u8×s8 dot
 * product can saturate). An all-zero channel gets scale 1.
 *
 * @example
 * quantizeWeight(Float32Array.of(0.5, -1, 2, 4), [2, 2], 0).scales; // [1/127, 4/127]
 */
export function quantizeWeight(w: Float32Array, dims: readonly number[], axis: number | null, reduceRange = false): WeightQuant {
  const qmax = reduceRange ? 63 : 127;
  const channels = axis === null ? 1 : dims[axis]!;
  // Elements of channel c along axis sit in blocks of `inner` every `channels * inner` values.
  const inner = axis === null ? w.length : dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const channelOf = (i: number): number => (axis === null ? 0 : Math.floor(i / inner) % channels);
  const absMax = new Float64Array(channels);
  for (let i = 0; i < w.length; i++) absMax[channelOf(i)] = Math.max(absMax[channelOf(i)]!, Math.abs(w[i]!));
  const scales = Float32Array.from(absMax, (m) => (m > 0 ? m / qmax : 1));
  const q = new Int8Array(w.length);
  for (let i = 0; i < w.length; i++) {
    q[i] = Math.max(-qmax, Math.min(qmax, roundHalfEven(w[i]! / scales[channelOf(i)]!)));
  }
  return { q, scales };
}

/**
 * int32 bias for an int8 matmul/conv: scale_c = inputScale × weightScale_c, zero point 0,
 * saturated to the int32 range (reached only by degenerate scales).
 */
export function quantizeBias(bias: Float32Array, inputScale: number, weightScales: Float32Array): { q: Int32Array; scales: Float32Array } {
  const scales = Float32Array.from(bias, (_, c) => inputScale * weightScales[weightScales.length === 1 ? 0 : c]!);
  const q = Int32Array.from(bias, (b, c) => Math.max(-2147483648, Math.min(2147483647, roundHalfEven(b / scales[c]!))));
  return { q, scales };
}

/** QuantizeLinear then DequantizeLinear of one value (what the QDQ graph computes). */
export function fakeQuant(x: number, p: QParams, qmin = 0, qmax = 255): number {
  const q = Math.min(qmax, Math.max(qmin, roundHalfEven(x / p.scale) + p.zeroPoint));
  return (q - p.zeroPoint) * p.scale;
}
