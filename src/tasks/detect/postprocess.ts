/**
 * From a detector's decoded output to boxes: per image, the candidates above a confidence
 * (every class above it with `multiLabel`, as Ultralytics validates; the best class otherwise, as it
 * predicts), class-aware NMS, and the boxes mapped back to the original image's pixels. Plain
 * arrays only and no Node built-ins: the libtorch path, the ONNX Runtime path and the browser (which
 * runs an exported `.onnx` in onnxruntime-web) share it, so all three print the same boxes.
 *
 * @example
 * // decoded: an exported detector's output0, [B, 4 + nc, A]; geometry: the letterbox of image b
 * const boxes = predictedBoxes(decoded, b, names, anchors, geometry, { conf: 0.25, iou: 0.7, maxDet: 300 });
 * // [{ label: 'cat', class: 0, score: 0.91, box: [x1, y1, x2, y2] }, …] in the original image's pixels
 */
import type { SampleGeometry } from '../../data/targets.js';
import { unletterboxBoxes } from '../../data/targets.js';
import { nms, type NmsOptions } from '../../metrics/nms.js';

export interface ImageDetections {
  /** x1, y1, x2, y2 per box. */
  boxes: Float32Array;
  scores: Float32Array;
  classes: Int32Array;
}

export interface PostprocessOptions extends NmsOptions {
  multiLabel?: boolean;
  /** Candidates kept for NMS, highest scores first (Ultralytics' max_nms). */
  maxCandidates?: number;
}

/**
 * Detections of image `b` from decoded output laid out [B, 4 + nc, A] (cx, cy, w, h in input
 * pixels, then class scores), in input pixels.
 */
export function detectionsOf(decoded: Float32Array, b: number, nc: number, anchors: number, o: PostprocessOptions): ImageDetections {
  const conf = o.conf ?? 0.25;
  const base = b * (4 + nc) * anchors;
  const at = (row: number, a: number): number => decoded[base + row * anchors + a]!;
  const cand: { a: number; c: number; s: number }[] = [];
  for (let a = 0; a < anchors; a++) {
    if (o.multiLabel) {
      for (let c = 0; c < nc; c++) if (at(4 + c, a) > conf) cand.push({ a, c, s: at(4 + c, a) });
    } else {
      let best = 0;
      for (let c = 1; c < nc; c++) if (at(4 + c, a) > at(4 + best, a)) best = c;
      if (at(4 + best, a) > conf) cand.push({ a, c: best, s: at(4 + best, a) });
    }
  }
  const max = o.maxCandidates ?? 30_000;
  if (cand.length > max) cand.sort((x, y) => y.s - x.s).length = max;
  const boxes = new Float32Array(cand.length * 4);
  const scores = new Float32Array(cand.length);
  const classes = new Int32Array(cand.length);
  cand.forEach(({ a, c, s }, i) => {
    const [cx, cy, w, h] = [at(0, a), at(1, a), at(2, a), at(3, a)];
    boxes.set([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], i * 4);
    scores[i] = s;
    classes[i] = c;
  });
  const keep = nms(boxes, scores, classes, o);
  return {
    boxes: Float32Array.from({ length: keep.length * 4 }, (_, i) => boxes[keep[i >> 2]! * 4 + (i & 3)]!),
    scores: Float32Array.from(keep, (k) => scores[k]!),
    classes: Int32Array.from(keep, (k) => classes[k]!),
  };
}

/** The same detections in the original image's pixels (clipped to it). */
export const toOriginal = (d: ImageDetections, g: SampleGeometry): ImageDetections => ({ ...d, boxes: unletterboxBoxes(d.boxes, g) });

/** One predicted box as `kestrel predict` prints it and `/v1/predict` answers it. */
export interface DetectBox {
  label: string;
  class: number;
  score: number;
  /** x1, y1, x2, y2 in the original image's pixels. */
  box: [number, number, number, number];
}

const round = (v: number, d: number): number => Number(v.toFixed(d));

/**
 * Image `b`'s boxes, best first, from decoded output [B, 4 + nc, A] (nc = names.length): the
 * best class per anchor above `conf`, class-aware NMS, undone letterbox; scores to 6 decimals and
 * coordinates to 2, as printed.
 */
export function predictedBoxes(decoded: Float32Array, b: number, names: readonly string[], anchors: number, geometry: SampleGeometry, o: PostprocessOptions = {}): DetectBox[] {
  const d = toOriginal(detectionsOf(decoded, b, names.length, anchors, o), geometry);
  return Array.from(d.scores, (score, j) => ({
    label: names[d.classes[j]!] ?? String(d.classes[j]!), class: d.classes[j]!, score: round(score, 6),
    box: [0, 1, 2, 3].map((k) => round(d.boxes[j * 4 + k]!, 2)) as [number, number, number, number],
  }));
}
