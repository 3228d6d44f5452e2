/**
 * Post-processing graphs that turn a TF.js model's own outputs into what Kestrel's runtime reads
 * (src/onnx/contract.ts): a detector's [N, 4 + classes, anchors] (cx, cy, w, h in input pixels,
 * then class scores; NMS is the runtime's), a segmenter's [N, classes, H, W] scores, a classifier's
 * probabilities. Written in ONNX nodes, so the file alone predicts.
 */
import { DataType } from '../onnx/proto.js';
import type { OnnxGraph, OnnxValue } from '../onnx/graph.js';
import type { ConvertedGraph } from './convert-graph.js';
import { TfjsError } from './model-json.js';
import { identity, NCHW } from './tf-values.js';

function output(c: ConvertedGraph, name: string): OnnxValue {
  const v = c.outputs.get(name);
  if (!v) throw new TfjsError(`the model has no output '${name}' (it has ${[...c.outputs.keys()].join(', ')}); is it the model Kestrel knows by this name?`);
  return c.vals.as(v, identity(v.shape.length));
}

/** [1, A, k] → the slice of columns [from, to). */
const cols = (g: OnnxGraph, x: OnnxValue, from: number, to: number): OnnxValue => g.op('Slice', [x, g.ints([from]), g.ints([to]), g.ints([2])]);

/** x1, y1, x2, y2 columns ([1, A, 1] each) → [1, A, 4] of cx, cy, w, h. */
function xyxyToCxcywh(g: OnnxGraph, x1: OnnxValue, y1: OnnxValue, x2: OnnxValue, y2: OnnxValue): OnnxValue {
  const half = g.scalar(0.5);
  const cx = g.op('Mul', [g.op('Add', [x1, x2]), half]);
  const cy = g.op('Mul', [g.op('Add', [y1, y2]), half]);
  return g.op('Concat', [cx, cy, g.op('Sub', [x2, x1]), g.op('Sub', [y2, y1])], { axis: 2 });
}

/** [1, A, 4 + k] → the contract's [1, 4 + k, A]. */
const toContract = (g: OnnxGraph, rows: OnnxValue): OnnxValue => g.op('Transpose', [rows], { perm: [0, 2, 1] });

/**
 * CenterNet's `tower_0/detections`, [1, 100, 6] rows of x1, y1, x2, y2, score, class (the top 100
 * heatmap peaks, in input pixels) → [1, 4 + classes, 100] with the score in its class's row.
 */
export function centernetHead(c: ConvertedGraph, classes: number): OnnxValue {
  const { g } = c;
  const det = output(c, 'tower_0/detections');
  const box = xyxyToCxcywh(g, cols(g, det, 0, 1), cols(g, det, 1, 2), cols(g, det, 2, 3), cols(g, det, 3, 4));
  const hot = g.op('Cast', [g.op('Equal', [cols(g, det, 5, 6), g.floats(Array.from({ length: classes }, (_, i) => i), [classes], 'class_ids')], {}, { dtype: DataType.BOOL })], { to: DataType.FLOAT });
  const scores = g.op('Mul', [hot, cols(g, det, 4, 5)]);
  return toContract(g, g.op('Concat', [box, scores], { axis: 2 }));
}

/**
 * NanoDet-m (416): per stride 8, 16 and 32, class scores [1, A, 80] (sigmoid applied) and box
 * distributions [1, A, 44] (left, top, right, bottom, 11 bins each; distance = stride · E[bin]
 * under a softmax, GFL's integral) around anchor centres (x + 0.5, y + 0.5) · stride.
 */
export function nanodetHead(c: ConvertedGraph, size: number): OnnxValue {
  const { g } = c;
  const levels = [['Identity:0', 'Identity_3:0', 8], ['Identity_1:0', 'Identity_4:0', 16], ['Identity_2:0', 'Identity_5:0', 32]] as const;
  const rows = levels.map(([cls, reg, stride]) => {
    const side = size / stride;
    const a = side * side;
    const dist = g.op('Reshape', [output(c, reg), g.ints([1, a, 4, 11])]);
    const bins = g.floats(Array.from({ length: 11 }, (_, i) => i * stride), [11], 'bins');
    const d = g.op('ReduceSum', [g.op('Mul', [g.op('Softmax', [dist], { axis: 3 }), bins]), g.ints([3])], { keepdims: 0 }, { shape: [1, a, 4] });
    const centres = Array.from({ length: a }, (_, i) => [((i % side) + 0.5) * stride, (Math.floor(i / side) + 0.5) * stride]).flat();
    const ctr = g.floats(centres, [1, a, 2], 'centres');
    const x1y1 = g.op('Sub', [ctr, cols(g, d, 0, 2)]);
    const x2y2 = g.op('Add', [ctr, cols(g, d, 2, 4)]);
    const wh = g.op('Sub', [x2y2, x1y1]);
    const cxcy = g.op('Mul', [g.op('Add', [x1y1, x2y2]), g.scalar(0.5)]);
    return g.op('Concat', [cxcy, wh, output(c, cls)], { axis: 2 });
  });
  return toContract(g, g.op('Concat', rows, { axis: 1 }));
}

/**
 * BlazeFace (back model, 256): 512 anchors on a 16×16 grid (2 each) and 384 on 8×8 (6 each), unit
 * size; regressors [.., 16] give the box centre offset and size in input pixels (then 6 keypoints,
 * unused here); scores are logits. MediaPipe's SSD anchor scheme.
 */
export function blazefaceHead(c: ConvertedGraph, size: number): OnnxValue {
  const { g } = c;
  const levels = [['Identity_2:0', 'Identity:0', 16, 2], ['Identity_3:0', 'Identity_1:0', 8, 6]] as const;
  const rows = levels.map(([reg, score, grid, per]) => {
    const a = grid * grid * per;
    const centres = Array.from({ length: a }, (_, i) => {
      const cell = Math.floor(i / per);
      return [((cell % grid) + 0.5) * (size / grid), (Math.floor(cell / grid) + 0.5) * (size / grid)];
    }).flat();
    const r = output(c, reg);
    const cxcy = g.op('Add', [cols(g, r, 0, 2), g.floats(centres, [1, a, 2], 'anchors')]);
    return g.op('Concat', [cxcy, cols(g, r, 2, 4), g.op('Sigmoid', [output(c, score)])], { axis: 2 });
  });
  return toContract(g, g.op('Concat', rows, { axis: 1 }));
}

/** Selfie segmentation's person probability [1, H, W, 1] → [1, 2, H, W] scores (background, person). */
export function selfieHead(c: ConvertedGraph): OnnxValue {
  const { g } = c;
  const v = c.outputs.get('activation_10:0');
  if (!v) throw new TfjsError(`the model has no output 'activation_10:0'; is it human-models' selfie?`);
  const p = c.vals.as(v, NCHW);
  return g.op('Concat', [g.op('Sub', [g.scalar(1), p]), p], { axis: 1 });
}

/** A classifier's single output (already softmax probabilities). */
export function probsHead(c: ConvertedGraph): OnnxValue {
  if (c.outputs.size !== 1) throw new TfjsError(`a classifier has one output; this model has ${c.outputs.size}`);
  return output(c, [...c.outputs.keys()][0]!);
}
