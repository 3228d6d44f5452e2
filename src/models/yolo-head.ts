/**
 * YOLOv8's anchor-free detection head (Ultralytics' Detect and DFL, ultralytics/nn/modules/head.py
 * and block.py) and the functions that turn its maps into boxes (make_anchors and dist2bbox of
 * ultralytics/utils/tal.py), exported for the loss and NMS to reuse.
 *
 * Each level's map has 4·regMax + nc channels: for each box side (left, top, right, bottom) a
 * distribution over regMax distances 0…regMax-1 in grid cells (Distribution Focal Loss,
 * https://arxiv.org/abs/2006.04388), then one logit per class.
 */
import { Sequential, ModuleList } from '../nn/container.js';
import { Conv2d } from '../nn/conv.js';
import { Module } from '../nn/module.js';
import * as E from '../onnx/emit.js';
import type { OnnxGraph, OnnxValue } from '../onnx/graph.js';
import type { DType } from '../tensor/dtype.js';
import type { Device } from '../tensor/device.js';
import { arange, cat, full, stack } from '../tensor/creation.js';
import { noGrad } from '../tensor/runtime.js';
import { tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import type { DetectOutput } from './model.js';
import { Conv } from './yolo-blocks.js';

/** The strides of P3, P4 and P5, the levels YOLOv8 predicts on. */
export const YOLO_STRIDES: readonly number[] = [8, 16, 32];
/** Bins of each side's distance distribution. */
export const REG_MAX = 16;

export interface AnchorOptions {
  /** Where in its cell an anchor sits (Ultralytics: 0.5, the centre). */
  offset?: number;
  dtype?: DType;
  device?: Device;
}

/**
 * Ultralytics' make_anchors: for maps of the given [h, w] at the given strides, every cell's
 * centre in its own grid's units, `points` [A, 2] as (x, y), row by row and level by level
 * (the order of the decoded output), and each anchor's stride, `strides` [A, 1].
 *
 * @example
 * const { points, strides } = anchors([[80, 80], [40, 40], [20, 20]]);   // A = 8400 at 640 px
 */
export function anchors(shapes: readonly (readonly [number, number])[], strides: readonly number[] = YOLO_STRIDES, opts: AnchorOptions = {}): { points: Tensor; strides: Tensor } {
  if (shapes.length !== strides.length) throw new RangeError(`anchors(): ${shapes.length} map shapes but ${strides.length} strides`);
  const offset = opts.offset ?? 0.5;
  const o = { dtype: opts.dtype ?? 'float32', ...(opts.device ? { device: opts.device } : {}) } as const;
  return tidy(() => {
    const points = shapes.map(([h, w]) => {
      const sx = arange(0, w, 1, o).add(offset).view(1, w).expand(h, w);
      const sy = arange(0, h, 1, o).add(offset).view(h, 1).expand(h, w);
      return stack([sx, sy], -1).view(-1, 2);
    });
    const perAnchor = shapes.map(([h, w], i) => full([h * w, 1], strides[i]!, o));
    return { points: cat(points, 0), strides: cat(perAnchor, 0) };
  });
}

/** anchors() as plain arrays for the ONNX graph's constants: points [2, A] (x row, then y row) and strides [A]. */
function anchorTables(shapes: readonly (readonly [number, number])[], strides: readonly number[], offset = 0.5): { points: Float32Array; strides: Float32Array } {
  const total = shapes.reduce((s, [h, w]) => s + h * w, 0);
  const points = new Float32Array(2 * total);
  const perAnchor = new Float32Array(total);
  let i = 0;
  shapes.forEach(([h, w], level) => {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++, i++) {
        points[i] = x + offset;
        points[total + i] = y + offset;
        perAnchor[i] = strides[level]!;
      }
    }
  });
  return { points, strides: perAnchor };
}

/**
 * Ultralytics' dist2bbox: distances (left, top, right, bottom) from anchor points to box sides,
 * along `dim`, as boxes (cx, cy, w, h) or, with `xywh: false`, (x1, y1, x2, y2). `points` must
 * broadcast against each half of `distance`.
 */
export function dist2bbox(distance: Tensor, points: Tensor, opts: { xywh?: boolean; dim?: number } = {}): Tensor {
  const dim = opts.dim ?? -1;
  return tidy(() => {
    const [lt, rb] = distance.chunk(2, dim) as [Tensor, Tensor];
    const x1y1 = points.sub(lt);
    const x2y2 = points.add(rb);
    if (opts.xywh ?? true) return cat([x1y1.add(x2y2).div(2), x2y2.sub(x1y1)], dim);
    return cat([x1y1, x2y2], dim);
  });
}

/** Each side's expected distance under its softmax distribution: [N, 4·regMax, A] → [N, 4, A]. */
export function dflExpectation(box: Tensor, regMax = REG_MAX): Tensor {
  const [n, c, a] = box.shape as [number, number, number];
  if (c !== 4 * regMax) throw new RangeError(`dflExpectation(): ${c} box channels, expected 4·${regMax}`);
  return tidy(() => {
    const bins = arange(0, regMax, 1, { dtype: box.dtype, device: box.device }).view(1, 1, regMax, 1);
    return box.reshape(n, 4, regMax, a).softmax(2).mul(bins).sum(2);
  });
}

export interface DecodeOptions {
  numClasses: number;
  strides?: readonly number[];
  regMax?: number;
  /** The distance expectation [N, 4·regMax, A] → [N, 4, A] (default dflExpectation; Detect passes its DFL). */
  dfl?: (box: Tensor) => Tensor;
}

/**
 * The eval-mode output of Ultralytics' Detect from its per-level maps [N, 4·regMax + nc, h, w]:
 * [N, 4 + nc, A], boxes (cx, cy, w, h) in input pixels then sigmoid class scores, anchors in
 * anchors() order.
 */
export function decode(maps: readonly Tensor[], opts: DecodeOptions): Tensor {
  const regMax = opts.regMax ?? REG_MAX;
  const no = 4 * regMax + opts.numClasses;
  const n = maps[0]!.shape[0]!;
  for (const m of maps) {
    if (m.ndim !== 4 || m.shape[1] !== no) throw new RangeError(`decode(): a map of shape [${m.shape.join(', ')}], expected [N, ${no}, h, w]`);
  }
  return tidy(() => {
    const flat = cat(maps.map((m) => m.reshape(n, no, -1)), 2);
    const [box, cls] = flat.split([4 * regMax, opts.numClasses], 1) as [Tensor, Tensor];
    const a = anchors(maps.map((m) => [m.shape[2]!, m.shape[3]!] as const), opts.strides ?? YOLO_STRIDES, { dtype: flat.dtype, device: flat.device });
    const dist = (opts.dfl ?? ((b: Tensor) => dflExpectation(b, regMax)))(box);
    const xywh = dist2bbox(dist, a.points.t().unsqueeze(0), { xywh: true, dim: 1 }).mul(a.strides.t());
    return cat([xywh, cls.sigmoid()], 1);
  });
}

/** Ultralytics' DFL: the distance expectation as a fixed 1×1 convolution with weights 0…c1-1 (not trained). */
export class DFL extends Module {
  readonly conv: Conv2d;

  constructor(readonly c1 = REG_MAX) {
    super();
    this.conv = this.registerModule('conv', new Conv2d(c1, 1, 1, { bias: false }));
    noGrad(() => tidy(() => this.conv.weight.copy_(arange(0, c1, 1).view(1, c1, 1, 1))));
    this.conv.weight.requiresGrad_(false);
  }

  /** [N, 4·c1, A] → [N, 4, A]. */
  forward(x: Tensor): Tensor {
    const [b, , a] = x.shape as [number, number, number];
    return tidy(() => this.conv.forward(x.reshape(b, 4, this.c1, a).transpose(2, 1).softmax(1)).reshape(b, 4, a));
  }

  protected override onnx(g: OnnxGraph, x: OnnxValue): OnnxValue {
    const [b, , a] = x.shape;
    const probs = E.softmax(g, E.transpose(g, g.reshape(x, [b!, 4, this.c1, a!]), 2, 1), 1);
    return g.reshape(this.conv.toOnnx(g, probs), [b!, 4, a!]);
  }
}

/**
 * Ultralytics' Detect: per level a box branch cv2 (Conv 3×3, Conv 3×3, Conv2d 1×1 → 4·regMax)
 * and a class branch cv3 (Conv 3×3, Conv 3×3, Conv2d 1×1 → nc), concatenated. Train mode gives the
 * maps; eval mode also decodes them.
 */
export class Detect extends Module<[Tensor[]], DetectOutput> {
  readonly cv2: ModuleList<Sequential>;
  readonly cv3: ModuleList<Sequential>;
  readonly dfl: DFL;
  readonly regMax = REG_MAX;

  constructor(readonly numClasses: number, channels: readonly number[], readonly strides: readonly number[] = YOLO_STRIDES) {
    super();
    if (channels.length !== strides.length) throw new RangeError(`Detect: ${channels.length} input levels but ${strides.length} strides`);
    const c2 = Math.max(16, channels[0]! >> 2, this.regMax * 4);
    const c3 = Math.max(channels[0]!, Math.min(numClasses, 100));
    this.cv2 = this.registerModule('cv2', new ModuleList(channels.map((x) => new Sequential(new Conv(x, c2, 3), new Conv(c2, c2, 3), new Conv2d(c2, 4 * this.regMax, 1)))));
    this.cv3 = this.registerModule('cv3', new ModuleList(channels.map((x) => new Sequential(new Conv(x, c3, 3), new Conv(c3, c3, 3), new Conv2d(c3, numClasses, 1)))));
    this.dfl = this.registerModule('dfl', new DFL(this.regMax));
    this.biasInit();
  }

  /** Channels of each map: 4·regMax box bins, then the classes. */
  get no(): number {
    return 4 * this.regMax + this.numClasses;
  }

  /**
   * Ultralytics' bias_init: box logits start at 1; class logits at log(5 / nc / (640 / stride)²),
   * a prior of about 5 objects per 640-px image spread over the level's cells and the classes.
   */
  biasInit(): void {
    noGrad(() => {
      this.strides.forEach((s, i) => {
        (this.cv2.items[i]!.at(-1) as Conv2d).bias!.fill_(1);
        (this.cv3.items[i]!.at(-1) as Conv2d).bias!.fill_(Math.log(5 / this.numClasses / (640 / s) ** 2));
      });
    });
  }

  forward(xs: Tensor[]): DetectOutput {
    if (xs.length !== this.strides.length) throw new RangeError(`Detect: ${xs.length} feature maps, expected ${this.strides.length}`);
    const maps = xs.map((x, i) => tidy(() => cat([this.cv2.items[i]!.forward(x), this.cv3.items[i]!.forward(x)], 1)));
    if (this.training) return { maps, decoded: null };
    const decoded = decode(maps, { numClasses: this.numClasses, strides: this.strides, regMax: this.regMax, dfl: (b) => this.dfl.forward(b) });
    return { maps, decoded };
  }

  /** The eval output, decoded in the graph as decode() does it: [N, 4 + nc, A] from the levels' features. */
  protected override onnx(g: OnnxGraph, ...xs: OnnxValue[]): OnnxValue {
    if (xs.length !== this.strides.length) throw new RangeError(`Detect: ${xs.length} feature maps, expected ${this.strides.length}`);
    const shapes = xs.map((x) => {
      const [h, w] = x.shape.slice(2);
      if (typeof h !== 'number' || typeof w !== 'number') throw new RangeError(`Detect needs feature maps of a static size, got [${x.shape.join(', ')}]`);
      return [h, w] as const;
    });
    const n = xs[0]!.shape[0]!;
    const flat = E.cat(g, xs.map((x, i) => {
      const map = E.cat(g, [this.cv2.items[i]!.toOnnx(g, x), this.cv3.items[i]!.toOnnx(g, x)], 1);
      return g.reshape(map, [n, this.no, shapes[i]![0] * shapes[i]![1]]);
    }), 2);
    const a = flat.shape[2] as number;
    const box = E.narrow(g, flat, 1, 0, 4 * this.regMax);
    const cls = E.narrow(g, flat, 1, 4 * this.regMax, this.numClasses);
    const dist = this.dfl.toOnnx(g, box);
    const { points, strides } = anchorTables(shapes, this.strides);
    const p = g.floats(points, [1, 2, a], 'anchor_points');
    const [lt, rb] = [E.narrow(g, dist, 1, 0, 2), E.narrow(g, dist, 1, 2, 2)];
    const [x1y1, x2y2] = [g.op('Sub', [p, lt]), g.op('Add', [p, rb])];
    const xywh = E.cat(g, [g.op('Div', [g.op('Add', [x1y1, x2y2]), g.scalar(2)]), g.op('Sub', [x2y2, x1y1])], 1);
    return E.cat(g, [g.op('Mul', [xywh, g.floats(strides, [1, a], 'anchor_strides')]), E.sigmoid(g, cls)], 1);
  }
}
