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

/**
 * Batched NMS, as `torchvision.ops.batched_nms` after a confidence filter: returns the indices of
 * the kept candidates, highest score first (equal scores: lower index first), at most `maxDet`.
 * Boxes are xyxy. IoUs are computed in float32 with torchvision's formula, so near-threshold
 * decisions match it bit for bit; a pair whose union has no area (two zero-area boxes) has IoU NaN
 * there and never suppresses. Options default to NMS_PREDICT.
 *
 * Cost: one sort of the candidates above `conf`; then each kept box is compared only with the
 * lower-scoring unsuppressed boxes of its own class, and the sweep stops at `maxDet` kept boxes
 * (those are final: a box is only ever suppressed by a higher-scoring one).
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

  // Per-class lists in score order, and where each candidate sits in its list.
  const lists = new Map<number, number[]>();
  const slot = new Int32Array(n);
  for (const i of order) {
    const c = agnostic ? 0 : classes[i]!;
    let list = lists.get(c);
    if (list === undefined) lists.set(c, (list = []));
    slot[i] = list.length;
    list.push(i);
  }

  const b = boxes instanceof Float32Array ? boxes : Float32Array.from(boxes);
  const area = new Float32Array(n);
  for (const i of order) area[i] = f32(b[4 * i + 2]! - b[4 * i]!) * f32(b[4 * i + 3]! - b[4 * i + 1]!);
  const suppressed = new Uint8Array(n);
  const keep: number[] = [];
  for (const i of order) {
    if (keep.length >= maxDet) break;
    if (suppressed[i]) continue;
    keep.push(i);
    const list = lists.get(agnostic ? 0 : classes[i]!)!;
    const ix1 = b[4 * i]!, iy1 = b[4 * i + 1]!, ix2 = b[4 * i + 2]!, iy2 = b[4 * i + 3]!;
    const iarea = area[i]!;
    for (let p = slot[i]! + 1; p < list.length; p++) {
      const j = list[p]!;
      if (suppressed[j]) continue;
      const w = Math.max(0, f32(Math.min(ix2, b[4 * j + 2]!) - Math.max(ix1, b[4 * j]!)));
      const h = Math.max(0, f32(Math.min(iy2, b[4 * j + 3]!) - Math.max(iy1, b[4 * j + 1]!)));
      const inter = f32(w * h);
      if (f32(inter / f32(f32(iarea + area[j]!) - inter)) > iou) suppressed[j] = 1;
    }
  }
  return Int32Array.from(keep);
}
