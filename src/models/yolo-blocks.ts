/**
 * YOLOv8's building blocks, as Ultralytics writes them (ultralytics/nn/modules/conv.py and
 * block.py): same child names and construction order, so state-dict keys are theirs and a seeded
 * model draws its initial weights in their order.
 */
import { SiLU } from '../nn/activation.js';
import { Conv2d } from '../nn/conv.js';
import * as F from '../nn/functional.js';
import { ModuleList } from '../nn/container.js';
import { Module } from '../nn/module.js';
import { BatchNorm2d } from '../nn/norm.js';
import { MaxPool2d } from '../nn/pooling.js';
import * as E from '../onnx/emit.js';
import type { OnnxGraph, OnnxValue } from '../onnx/graph.js';
import { cat } from '../tensor/creation.js';
import { tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';

/** Ultralytics' BatchNorm settings (initialize_weights): eps 1e-3, momentum 0.03. */
export const YOLO_BN = { eps: 1e-3, momentum: 0.03 } as const;

/** Ultralytics' Conv: Conv2d without bias ("same" padding for odd kernels), BatchNorm2d, SiLU. */
export class Conv extends Module {
  readonly conv: Conv2d;
  readonly bn: BatchNorm2d;

  constructor(c1: number, c2: number, k = 1, s = 1, g = 1) {
    super();
    this.conv = this.registerModule('conv', new Conv2d(c1, c2, k, { stride: s, padding: k >> 1, groups: g, bias: false }));
    this.bn = this.registerModule('bn', new BatchNorm2d(c2, YOLO_BN));
    this.registerModule('act', new SiLU({ inplace: true }));
  }

  forward(x: Tensor): Tensor {
    // In place on the norm's output, which nothing else reads (Ultralytics sets inplace too).
    return tidy(() => F.silu_(this.bn.forward(this.conv.forward(x))));
  }

  protected override onnx(g: OnnxGraph, x: OnnxValue): OnnxValue {
    return E.silu(g, this.bn.toOnnx(g, this.conv.toOnnx(g, x)));
  }
}

/** Two convolutions (k×k each) with a residual when `shortcut` and the widths agree. */
export class Bottleneck extends Module {
  readonly cv1: Conv;
  readonly cv2: Conv;
  readonly add: boolean;

  constructor(c1: number, c2: number, shortcut = true, g = 1, k: [number, number] = [3, 3], e = 0.5) {
    super();
    const hidden = Math.trunc(c2 * e);
    this.cv1 = this.registerModule('cv1', new Conv(c1, hidden, k[0], 1));
    this.cv2 = this.registerModule('cv2', new Conv(hidden, c2, k[1], 1, g));
    this.add = shortcut && c1 === c2;
  }

  forward(x: Tensor): Tensor {
    return tidy(() => {
      const y = this.cv2.forward(this.cv1.forward(x));
      // Out of place: y is the output of an in-place SiLU, which autograd may still need.
      return this.add ? x.add(y) : y;
    });
  }

  protected override onnx(g: OnnxGraph, x: OnnxValue): OnnxValue {
    const y = this.cv2.toOnnx(g, this.cv1.toOnnx(g, x));
    return this.add ? g.op('Add', [x, y]) : y;
  }
}

/**
 * C2f, the CSP bottleneck with two convolutions: a 1×1 conv splits into two halves, `n`
 * bottlenecks run on the second half one after another, and a 1×1 conv fuses every half and
 * every bottleneck's output. cv2 is built before the bottlenecks, as in Ultralytics.
 */
export class C2f extends Module {
  readonly cv1: Conv;
  readonly cv2: Conv;
  readonly m: ModuleList<Bottleneck>;

  constructor(c1: number, c2: number, n = 1, shortcut = false, g = 1, e = 0.5) {
    super();
    const c = Math.trunc(c2 * e);
    this.cv1 = this.registerModule('cv1', new Conv(c1, 2 * c, 1, 1));
    this.cv2 = this.registerModule('cv2', new Conv((2 + n) * c, c2, 1));
    this.m = this.registerModule('m', new ModuleList(Array.from({ length: n }, () => new Bottleneck(c, c, shortcut, g, [3, 3], 1))));
  }

  forward(x: Tensor): Tensor {
    return tidy(() => {
      const y = this.cv1.forward(x).chunk(2, 1);
      for (const m of this.m) y.push(m.forward(y[y.length - 1]!));
      return this.cv2.forward(cat(y, 1));
    });
  }

  protected override onnx(g: OnnxGraph, x: OnnxValue): OnnxValue {
    const both = this.cv1.toOnnx(g, x);
    const half = (both.shape[1] as number) / 2;
    const y = [E.narrow(g, both, 1, 0, half), E.narrow(g, both, 1, half, half)];
    for (const m of this.m) y.push(m.toOnnx(g, y[y.length - 1]!));
    return this.cv2.toOnnx(g, E.cat(g, y, 1));
  }
}

/** Spatial pyramid pooling, fast: three chained k×k max pools (stride 1) concatenated with their input. */
export class SPPF extends Module {
  readonly cv1: Conv;
  readonly cv2: Conv;
  readonly m: MaxPool2d;

  constructor(c1: number, c2: number, k = 5) {
    super();
    const hidden = c1 >> 1;
    this.cv1 = this.registerModule('cv1', new Conv(c1, hidden, 1, 1));
    this.cv2 = this.registerModule('cv2', new Conv(hidden * 4, c2, 1, 1));
    this.m = this.registerModule('m', new MaxPool2d(k, { stride: 1, padding: k >> 1 }));
  }

  forward(x: Tensor): Tensor {
    return tidy(() => {
      const y = [this.cv1.forward(x)];
      for (let i = 0; i < 3; i++) y.push(this.m.forward(y[i]!));
      return this.cv2.forward(cat(y, 1));
    });
  }

  protected override onnx(g: OnnxGraph, x: OnnxValue): OnnxValue {
    const y = [this.cv1.toOnnx(g, x)];
    for (let i = 0; i < 3; i++) y.push(this.m.toOnnx(g, y[i]!));
    return this.cv2.toOnnx(g, E.cat(g, y, 1));
  }
}

/** nn.Upsample(scale_factor=2, mode='nearest'). */
export class Upsample extends Module {
  constructor(readonly scaleFactor = 2) {
    super();
  }

  forward(x: Tensor): Tensor {
    return F.interpolate(x, { scaleFactor: this.scaleFactor, mode: 'nearest' });
  }

  protected override onnx(g: OnnxGraph, x: OnnxValue): OnnxValue {
    return E.upsampleNearest(g, x, this.scaleFactor);
  }
}

/** Concatenates its inputs along channels. */
export class Concat extends Module<[Tensor[]], Tensor> {
  constructor(readonly dim = 1) {
    super();
  }

  forward(xs: Tensor[]): Tensor {
    return cat(xs, this.dim);
  }

  protected override onnx(g: OnnxGraph, ...xs: OnnxValue[]): OnnxValue {
    return E.cat(g, xs, this.dim);
  }
}
