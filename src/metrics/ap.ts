/**
 * Average precision from a ranked list of detections, the two ways the field computes it, plus the
 * numpy pieces they stand on (linspace, interp, trapz) with numpy's exact semantics so that values
 * agree with Python to the last bits where it matters (threshold grids, interpolation at knots).
 *
 * - cocoAp: pycocotools' 101-point AP: the precision envelope read at the first rank whose recall
 *   reaches each of 0, 0.01, …, 1 (0 past the last rank), averaged.
 * - ultralyticsAp: Ultralytics' compute_ap: the envelope over (0, 1) + the ranks + (1, 0),
 *   linearly interpolated at the same 101 recalls and integrated with the trapezoid rule. The
 *   linear pieces and the half-weight end points make it differ from cocoAp: a perfect detector
 *   scores 0.995 (the envelope drops to 0 at recall 1, so the last trapezoid is half).
 */

/** np.linspace(start, stop, num): i·step + start, the last exactly `stop` (so 0.35000000000000003). */
export function linspace(start: number, stop: number, num: number): number[] {
  const step = (stop - start) / (num - 1);
  return Array.from({ length: num }, (_, i) => (i === num - 1 && num > 1 ? stop : i * step + start));
}

/**
 * np.interp(x, xp, fp, left, right) for increasing xp (repeats allowed): at a knot the value of the
 * last equal knot, below xp[0] `left` (default fp[0]), above the last `right` (default its fp).
 */
export function interp(x: readonly number[], xp: ArrayLike<number>, fp: ArrayLike<number>, left?: number, right?: number): Float64Array {
  const n = xp.length;
  if (n === 0 || fp.length !== n) throw new RangeError(`interp: xp has ${n} points and fp ${fp.length}; both need the same non-zero length`);
  const lo = left ?? fp[0]!;
  const hi = right ?? fp[n - 1]!;
  return Float64Array.from(x, (v) => {
    if (Number.isNaN(v)) return v;
    if (v < xp[0]!) return lo;
    if (v > xp[n - 1]!) return hi;
    // j = the last knot ≤ v
    let a = 0;
    let b = n;
    while (a < b) {
      const mid = (a + b) >>> 1;
      if (xp[mid]! <= v) a = mid + 1;
      else b = mid;
    }
    const j = a - 1;
    if (j === n - 1 || xp[j] === v) return fp[j]!;
    const slope = (fp[j + 1]! - fp[j]!) / (xp[j + 1]! - xp[j]!);
    let y = slope * (v - xp[j]!) + fp[j]!;
    if (Number.isNaN(y)) {
      y = slope * (v - xp[j + 1]!) + fp[j + 1]!;
      if (Number.isNaN(y) && fp[j] === fp[j + 1]) y = fp[j]!;
    }
    return y;
  });
}

/** np.trapz(y, x). */
export function trapz(y: ArrayLike<number>, x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i + 1 < y.length; i++) s += ((x[i + 1]! - x[i]!) * (y[i + 1]! + y[i]!)) / 2;
  return s;
}

/** Python's round() and np.round to an integer: halves go to the even neighbour. */
export function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Ultralytics' smooth(y, f): np.convolve(mode 'valid') of y, padded at each end with nf // 2 copies
 * of its end value, with a box of nf = round(len·f·2) // 2 + 1 points. nf is odd for the lengths
 * Ultralytics uses (1000 points: nf 101) and then the output has y's length.
 */
export function smooth(y: ArrayLike<number>, f = 0.05): Float64Array {
  const n = y.length;
  if (n === 0) return new Float64Array(0);
  const nf = Math.floor(roundHalfEven(n * f * 2) / 2) + 1;
  const half = Math.floor(nf / 2);
  const at = (i: number): number => y[Math.min(n - 1, Math.max(0, i - half))]!;
  const w = 1 / nf;
  const out = new Float64Array(n + 2 * half - nf + 1);
  for (let k = 0; k < out.length; k++) {
    let s = 0;
    for (let i = 0; i < nf; i++) s += at(k + i) * w;
    out[k] = s;
  }
  return out;
}

/** In place: each value becomes the maximum of itself and everything after it. */
function envelope(p: Float64Array): Float64Array {
  for (let i = p.length - 2; i >= 0; i--) if (p[i + 1]! > p[i]!) p[i] = p[i + 1]!;
  return p;
}

/** COCO's recall thresholds, np.linspace(0, 1, 101): ten differ from i / 100 (0.35000000000000003). */
export const RECALL_THRESHOLDS: readonly number[] = linspace(0, 1, 101);
/** COCO's IoU thresholds, np.linspace(0.5, 0.95, 10): the grid of AP50-95. */
export const IOU_THRESHOLDS: readonly number[] = linspace(0.5, 0.95, 10);

function checkCurve(recall: ArrayLike<number>, precision: ArrayLike<number>, who: string): void {
  if (recall.length !== precision.length) throw new RangeError(`${who}: ${recall.length} recalls but ${precision.length} precisions`);
}

/**
 * pycocotools' 101-point AP of one class at one IoU threshold, from recall and precision after
 * each detection in score order (recall non-decreasing).
 *
 * @example
 * cocoAp([0.5, 0.5, 1], [1, 0.5, 2 / 3]); // (51·1 + 50·(2/3)) / 101 ≈ 0.8350
 */
export function cocoAp(recall: ArrayLike<number>, precision: ArrayLike<number>): number {
  checkCurve(recall, precision, 'cocoAp');
  const pr = envelope(Float64Array.from(precision));
  let sum = 0;
  let i = 0;
  for (const r of RECALL_THRESHOLDS) {
    while (i < recall.length && recall[i]! < r) i++;
    sum += i < recall.length ? pr[i]! : 0;
  }
  return sum / RECALL_THRESHOLDS.length;
}

/**
 * Ultralytics' compute_ap: AP and the envelope it integrated (with its sentinel points), from
 * recall and precision after each detection in score order.
 *
 * @example
 * ultralyticsAp([1], [1]).ap; // 0.995: the envelope falls from 1 to 0 at recall 1
 */
export function ultralyticsAp(recall: ArrayLike<number>, precision: ArrayLike<number>): { ap: number; mrec: Float64Array; mpre: Float64Array } {
  checkCurve(recall, precision, 'ultralyticsAp');
  const n = recall.length;
  const mrec = new Float64Array(n + 2);
  const mpre = new Float64Array(n + 2);
  mrec.set(recall, 1);
  mrec[n + 1] = 1;
  mpre.set(precision, 1);
  mpre[0] = 1;
  envelope(mpre);
  return { ap: trapz(interp(RECALL_THRESHOLDS, mrec, mpre), RECALL_THRESHOLDS), mrec, mpre };
}
