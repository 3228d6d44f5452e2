/**
 * Activation ranges for static quantization, from the float model run on calibration images.
 * Each calibrated tensor keeps its min, max and a histogram of |x|; the methods then choose the
 * range to quantize: `minmax` (the observed range), `percentile` (clip the largest |x| beyond the
 * given percentile) or `entropy` (the clipping threshold minimising the KL divergence between the
 * float and the quantized distribution, TensorRT's method as ONNX Runtime and NVIDIA's
 * pytorch-quantization implement it).
 */
import ort from 'onnxruntime-node';
import { DataType, encodeModel, toNumber, type ModelProto } from '../onnx/proto.js';

export type CalibrationMethod = 'minmax' | 'percentile' | 'entropy';

/** Histogram bins over [0, range) (the resolution TensorRT and ORT use). */
export const HISTOGRAM_BINS = 2048;

/**
 * min, max and a histogram of |x| for one tensor over many batches. The histogram's range is the
 * power of two at or above the first batch's max |x| and doubles (merging bin pairs, so counts
 * stay exact) whenever a batch goes beyond it: the data never needs a second pass.
 */
export class TensorStats {
  min = Infinity;
  max = -Infinity;
  count = 0;
  /** Upper edge of the histogram; 0 while every value seen was 0. */
  range = 0;
  readonly hist: Float64Array;

  constructor(readonly bins = HISTOGRAM_BINS) {
    this.hist = new Float64Array(bins);
  }

  add(data: ArrayLike<number>): void {
    if (data.length === 0) return;
    let lo = Infinity, hi = -Infinity;
    for (let i = 0; i < data.length; i++) {
      const v = data[i]!;
      if (!(v > -Infinity && v < Infinity)) throw new Error(`calibration produced a non-finite activation (${v}); check the calibration images`);
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    this.min = Math.min(this.min, lo);
    this.max = Math.max(this.max, hi);
    this.count += data.length;
    this.grow(Math.max(-lo, hi));
    const k = this.range > 0 ? this.bins / this.range : 0;
    const last = this.bins - 1;
    for (let i = 0; i < data.length; i++) {
      const b = Math.floor(Math.abs(data[i]!) * k);
      this.hist[b > last ? last : b]!++;
    }
  }

  private grow(absMax: number): void {
    if (absMax <= this.range) return;
    if (this.range === 0) {
      // A power of two, so bins/range is one too and bin indices are exact (no rounding at edges
      // that a later merge would place differently). Earlier values were all zeros: bin 0.
      this.range = 2 ** Math.ceil(Math.log2(absMax));
      if (this.range < absMax) this.range *= 2;
      return;
    }
    let factor = 1;
    while (this.range * factor < absMax) factor *= 2;
    this.range *= factor;
    for (let j = 0; j < this.bins; j++) {
      let s = 0;
      for (let i = j * factor; i < (j + 1) * factor && i < this.bins; i++) s += this.hist[i]!;
      this.hist[j] = s;
    }
  }

  /** The range to quantize with this method. */
  threshold(method: CalibrationMethod, percentile = 99.999): [number, number] {
    if (this.count === 0) throw new Error('no calibration data reached this tensor');
    if (method === 'minmax' || this.range === 0) return [this.min, this.max];
    const t = method === 'percentile'
      ? percentileThreshold(this.hist, this.range, percentile)
      : entropyThreshold(this.hist, this.range, this.min >= 0 ? 256 : 128);
    return [Math.max(this.min, -t), Math.min(this.max, t)];
  }
}

/** The upper edge of the first bin where the cumulative share of |x| reaches `percentile` %. */
export function percentileThreshold(hist: ArrayLike<number>, range: number, percentile: number): number {
  if (!(percentile > 0 && percentile <= 100)) throw new RangeError(`percentile must be in (0, 100], got ${percentile}`);
  let total = 0;
  for (let i = 0; i < hist.length; i++) total += hist[i]!;
  const target = (percentile / 100) * total;
  let cum = 0;
  for (let i = 0; i < hist.length; i++) {
    cum += hist[i]!;
    if (cum >= target) return ((i + 1) * range) / hist.length;
  }
  return range;
}

/**
 * TensorRT's entropy calibration on a histogram of |x|: for each candidate threshold bin i (from
 * `quantBins` up), P = the histogram up to i with everything beyond folded into its last bin, Q =
 * P's first i bins merged into `quantBins` levels and spread back over their non-empty bins; the
 * threshold is the edge with the smallest KL(P‖Q) (the last one on ties), searched from bin
 * `startBin` up. Bin 0 takes bin 1's
 * count first, so ReLU's spike of exact zeros does not dominate (as pytorch-quantization does).
 * `quantBins` is 128 for signed tensors (half of int8's levels each side) and 256 for
 * non-negative ones.
 */
export function entropyThreshold(hist: ArrayLike<number>, range: number, quantBins = 128, startBin = 128): number {
  const n = hist.length;
  const bins = Float64Array.from(hist);
  if (n > 1) bins[0] = bins[1]!;
  const suffix = new Float64Array(n + 1);
  for (let i = n - 1; i >= 0; i--) suffix[i] = suffix[i + 1]! + bins[i]!;
  const sums = new Float64Array(quantBins);
  const nonzero = new Float64Array(quantBins);
  let best = Infinity;
  let bestI = n;
  for (let i = Math.min(startBin, n); i <= n; i++) {
    sums.fill(0);
    nonzero.fill(0);
    for (let idx = 0; idx < i; idx++) {
      if (bins[idx] === 0) continue;
      const j = Math.floor((idx * quantBins) / i);
      sums[j]! += bins[idx]!;
      nonzero[j]!++;
    }
    let pTotal = 0, qTotal = 0;
    for (let idx = 0; idx < i; idx++) {
      pTotal += bins[idx]!;
      if (bins[idx] !== 0) {
        const j = Math.floor((idx * quantBins) / i);
        qTotal += sums[j]! / nonzero[j]!;
      }
    }
    const outliers = suffix[i]!;
    pTotal += outliers;
    let kl = 0;
    for (let idx = 0; idx < i && kl < Infinity; idx++) {
      const p = (bins[idx]! + (idx === i - 1 ? outliers : 0)) / pTotal;
      if (p === 0) continue;
      const q = bins[idx] === 0 ? 0 : sums[Math.floor((idx * quantBins) / i)]! / nonzero[Math.floor((idx * quantBins) / i)]! / qTotal;
      kl += q === 0 ? Infinity : p * Math.log(p / q);
    }
    if (kl <= best) {
      best = kl;
      bestI = i;
    }
  }
  return (bestI * range) / n;
}

/** One batch of calibration images: float32 NCHW, already preprocessed like the model's input. */
export interface CalibrationBatch {
  data: Float32Array;
  dims: number[];
}

export type CalibrationData = Iterable<CalibrationBatch> | AsyncIterable<CalibrationBatch>;

/**
 * Runs the float model on the calibration batches with `tensors` added as graph outputs and
 * returns their statistics. Stops after `limit` images (the last batch is cut to fit).
 */
export async function collectStats(model: ModelProto, tensors: readonly string[], data: CalibrationData, limit: number): Promise<{ stats: Map<string, TensorStats>; images: number }> {
  const g = model.graph;
  const outputs = new Set(g.output.map((v) => v.name));
  const extra = tensors.filter((t) => !outputs.has(t)).map((name) => ({ name, type: { tensorType: { elemType: DataType.FLOAT } } }));
  const augmented: ModelProto = { ...model, graph: { ...g, output: [...g.output, ...extra] } };
  const inits = new Set((g.initializer ?? []).map((t) => t.name));
  const inputs = g.input.filter((v) => !inits.has(v.name));
  if (inputs.length !== 1) throw new Error(`static quantization needs a model with one input, this one has ${inputs.length} (${inputs.map((v) => v.name).join(', ')})`);
  const inputName = inputs[0]!.name;
  // null where the model leaves a dimension free (a symbolic batch size).
  const shape = inputs[0]!.type?.tensorType?.shape?.dim.map((d) => (d.dimValue === undefined ? null : toNumber(d.dimValue)));
  const fits = (dims: number[]): boolean => !shape || (shape.length === dims.length && shape.every((d, i) => d === null || d === dims[i]));

  const session = await ort.InferenceSession.create(encodeModel(augmented), { logSeverityLevel: 3 });
  const stats = new Map(tensors.map((t) => [t, new TensorStats()]));
  let images = 0;
  let k = 0;
  try {
    for await (const batch of data) {
      k++;
      const per = batch.dims.slice(1).reduce((a, b) => a * b, 1);
      if (batch.dims.length < 2 || batch.dims.some((d) => !Number.isInteger(d) || d < 1) || batch.data.length !== per * batch.dims[0]!) {
        throw new Error(`calibration batch ${k}: ${batch.data.length} values do not fill dims [${batch.dims.join(', ')}]`);
      }
      const n = Math.min(batch.dims[0]!, limit - images);
      if (!fits([n, ...batch.dims.slice(1)])) {
        const want = shape!.map((d) => d ?? '?').join(', ');
        throw new Error(`calibration batch ${k}: dims [${[n, ...batch.dims.slice(1)].join(', ')}] do not fit the model input "${inputName}" [${want}]`);
      }
      const feed = new ort.Tensor('float32', batch.data.subarray(0, n * per), [n, ...batch.dims.slice(1)]);
      let result: ort.InferenceSession.ReturnType;
      try {
        result = await session.run({ [inputName]: feed }, tensors as string[]);
      } catch (e) {
        throw new Error(`calibration batch ${k}: ${(e as Error).message.split('\n')[0]}`);
      }
      for (const t of tensors) stats.get(t)!.add(result[t]!.data as Float32Array);
      images += n;
      if (images >= limit) break;
    }
  } finally {
    await session.release();
  }
  if (images === 0) throw new Error('calibration data yielded no images');
  return { stats, images };
}
