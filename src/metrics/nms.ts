/**
 * Class-aware non-maximum suppression over plain arrays, for a detector's raw candidates.
 *
 * Hand-written because nothing maintained on npm does this for plain arrays: the registry has no
 * `nms`, `non-max-suppression`, `non-maximum-suppression` or `batched-nms` package (checked with
 * `npm view`), and tfjs's `image.nonMaxSuppression` wants tfjs tensors, one class at a time, plus
 * the whole of tfjs-core. It is also small: one sort and a greedy sweep.
 */
import { boxCount, type Boxes } from './boxes.js';

export interface NmsOptions {
  /** Candidates whose score is not above this are dropped first (strictly greater, as Ultralytics). */
  conf?: number;
  /** A box is suppressed by a higher-scoring kept box of its class whose IoU with it is above this. */
  iou?: number;
  /** At most this many boxes are kept (the highest-scoring). */
  maxDet?: number;
  /** Suppress across classes too (one class for all). */
  agnostic?: boolean;
}

/** Ultralytics' settings for prediction (default.yaml: conf 0.25, iou 0.7, max_det 300). */
export const NMS_PREDICT: Required<NmsOptions> = Object.freeze({ conf: 0.25, iou: 0.7, maxDet: 300, agnostic: false });
/** Ultralytics' settings for validation (the validator lowers conf to 0.001 so PR curves reach far). */
export const NMS_VAL: Required<NmsOptions> = Object.freeze({ conf: 0.001, iou: 0.7, maxDet: 300, agnostic: false });

const f32 = Math.fround;
/** std::max(0, v) as the C++ kernel has it (NaN gives 0). */
const pos = (v: number): number => (0 < v ? v : 0);

/**
 * Batched NMS, as `torchvision.ops.batched_nms` after a confidence filter: returns the indices of
 * the kept candidates, highest score first (equal scores: lower index first), at most `maxDet`.
 * Boxes are xyxy. IoUs are computed in float32 with torchvision's formula, so near-threshold
 * decisions match it bit for bit; a pair whose union has no area (two zero-area boxes) has IoU NaN
 * there and never suppresses. Options default to NMS_PREDICT.
 *
 * Cost: one sort of the candidates above `conf`; then each candidate, best first, is compared with
 * the boxes already kept in its class until one overlaps it (torchvision suppresses forward from
 * each kept box, which decides the same: a box falls exactly when a kept better box of its class
 * overlaps it), and the sweep stops at `maxDet` kept boxes. So 30k candidates cost about
 * maxDet × (kept per class) IoUs, not 30k².
 *
 * @example
 * const boxes = new Float32Array([0, 0, 10, 10, 1, 1, 10, 10, 0, 0, 10, 10]);
 * nms(boxes, new Float32Array([0.9, 0.8, 0.7]), [0, 0, 1], { iou: 0.5 }); // Int32Array [0, 2]
 */
export function nms(boxes: Boxes, scores: ArrayLike<number>, classes: ArrayLike<number>, opts: NmsOptions = {}): Int32Array {
  const { conf, iou, maxDet, agnostic } = { ...NMS_PREDICT, ...opts };
  const n = boxCount(boxes, 'nms: boxes');
  if (scores.length !== n) throw new RangeError(`nms: ${n} boxes but ${scores.length} scores`);
  if (classes.length !== n) throw new RangeError(`nms: ${n} boxes but ${classes.length} classes`);
  if (!(iou >= 0 && iou <= 1)) throw new RangeError(`nms: iou must be in [0, 1], got ${iou}`);
  if (!Number.isInteger(maxDet) || maxDet < 0) throw new RangeError(`nms: maxDet must be a non-negative integer, got ${maxDet}`);

  const order: number[] = [];
  for (let i = 0; i < n; i++) if (scores[i]! > conf) order.push(i);
  order.sort((a, b) => scores[b]! - scores[a]! || a - b);

  const b = boxes instanceof Float32Array ? boxes : Float32Array.from(boxes);
  const area = (i: number): number => f32(f32(b[4 * i + 2]! - b[4 * i]!) * f32(b[4 * i + 3]! - b[4 * i + 1]!));
  /** torchvision's IoU in float32, `i` the better box, as its kernel orders the operations. */
  const overlaps = (i: number, j: number): boolean => {
    const w = pos(f32(Math.min(b[4 * i + 2]!, b[4 * j + 2]!) - Math.max(b[4 * i]!, b[4 * j]!)));
    const h = pos(f32(Math.min(b[4 * i + 3]!, b[4 * j + 3]!) - Math.max(b[4 * i + 1]!, b[4 * j + 1]!)));
    const inter = f32(w * h);
    return f32(inter / f32(f32(area(i) + area(j)) - inter)) > iou;
  };
  const keptByClass = new Map<number, number[]>();
  const keep: number[] = [];
  for (const j of order) {
    if (keep.length >= maxDet) break;
    const c = agnostic ? 0 : classes[j]!;
    let kept = keptByClass.get(c);
    if (kept === undefined) keptByClass.set(c, (kept = []));
    if (kept.some((i) => overlaps(i, j))) continue;
    kept.push(j);
    keep.push(j);
  }
  return Int32Array.from(keep);
}
