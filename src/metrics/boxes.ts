/**
 * Axis-aligned boxes as flat arrays of 4 numbers per box: `xyxy` (corners x1, y1, x2, y2) or
 * `xywh` (COCO's top-left x, y, width, height). Flat arrays (a Float32Array straight from a model's
 * output, or a plain number[]) avoid one small object per box when there are tens of thousands.
 */

/** A flat list of boxes, 4 numbers per box. */
export type Boxes = ArrayLike<number>;

/** The number of boxes in a flat list; a length that is not a multiple of 4 is an error naming it. */
export function boxCount(boxes: Boxes, name: string): number {
  if (boxes.length % 4 !== 0) throw new RangeError(`${name} has ${boxes.length} numbers, not a multiple of 4 (x1, y1, x2, y2 per box)`);
  return boxes.length / 4;
}

/**
 * IoU of every box in `a` with every box in `b` (both xyxy): `iou[i * m + j]` for a's box i and b's
 * box j, with m = b's box count. Boxes that do not overlap, and pairs whose union has no area, have
 * IoU 0. Computed in doubles.
 *
 * @example
 * boxIou([0, 0, 2, 2], [1, 0, 3, 2, 5, 5, 6, 6]); // Float64Array [1/3, 0]
 */
export function boxIou(a: Boxes, b: Boxes): Float64Array {
  const n = boxCount(a, 'boxIou: a');
  const m = boxCount(b, 'boxIou: b');
  const out = new Float64Array(n * m);
  for (let i = 0; i < n; i++) {
    const ax1 = a[4 * i]!, ay1 = a[4 * i + 1]!, ax2 = a[4 * i + 2]!, ay2 = a[4 * i + 3]!;
    const areaA = (ax2 - ax1) * (ay2 - ay1);
    for (let j = 0; j < m; j++) {
      const bx1 = b[4 * j]!, by1 = b[4 * j + 1]!, bx2 = b[4 * j + 2]!, by2 = b[4 * j + 3]!;
      const w = Math.min(ax2, bx2) - Math.max(ax1, bx1);
      const h = Math.min(ay2, by2) - Math.max(ay1, by1);
      if (!(w > 0 && h > 0)) continue;
      const inter = w * h;
      const union = areaA + (bx2 - bx1) * (by2 - by1) - inter;
      out[i * m + j] = union > 0 ? inter / union : 0;
    }
  }
  return out;
}

/**
 * Corner boxes from COCO's [x, y, w, h] (top-left corner and size).
 *
 * @example
 * xywhToXyxy([10, 20, 5, 5]); // Float64Array [10, 20, 15, 25]
 */
export function xywhToXyxy(boxes: Boxes): Float64Array {
  const n = boxCount(boxes, 'xywhToXyxy: boxes');
  const out = new Float64Array(4 * n);
  for (let i = 0; i < 4 * n; i += 4) {
    out[i] = boxes[i]!;
    out[i + 1] = boxes[i + 1]!;
    out[i + 2] = boxes[i]! + boxes[i + 2]!;
    out[i + 3] = boxes[i + 1]! + boxes[i + 3]!;
  }
  return out;
}

/**
 * COCO's [x, y, w, h] (top-left corner and size) from corner boxes.
 *
 * @example
 * xyxyToXywh([10, 20, 15, 25]); // Float64Array [10, 20, 5, 5]
 */
export function xyxyToXywh(boxes: Boxes): Float64Array {
  const n = boxCount(boxes, 'xyxyToXywh: boxes');
  const out = new Float64Array(4 * n);
  for (let i = 0; i < 4 * n; i += 4) {
    out[i] = boxes[i]!;
    out[i + 1] = boxes[i + 1]!;
    out[i + 2] = boxes[i + 2]! - boxes[i]!;
    out[i + 3] = boxes[i + 3]! - boxes[i + 1]!;
  }
  return out;
}

/**
 * Corner boxes from centre boxes [cx, cy, w, h] (YOLO's label and head format).
 *
 * @example
 * cxcywhToXyxy([10, 10, 4, 2]); // Float64Array [8, 9, 12, 11]
 */
export function cxcywhToXyxy(boxes: Boxes): Float64Array {
  const n = boxCount(boxes, 'cxcywhToXyxy: boxes');
  const out = new Float64Array(4 * n);
  for (let i = 0; i < 4 * n; i += 4) {
    const hw = boxes[i + 2]! / 2;
    const hh = boxes[i + 3]! / 2;
    out[i] = boxes[i]! - hw;
    out[i + 1] = boxes[i + 1]! - hh;
    out[i + 2] = boxes[i]! + hw;
    out[i + 3] = boxes[i + 1]! + hh;
  }
  return out;
}
