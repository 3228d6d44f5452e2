/**
 * torchvision's segmentation heads, with its module names (so `classifier.0.convs.1.0.weight`
 * loads from its checkpoints): FCNHead (https://arxiv.org/abs/1411.4038), DeepLabV3's ASPP head
 * (https://arxiv.org/abs/1706.05587) and LR-ASPP (https://arxiv.org/abs/1905.02244).
 * Each takes backbone maps and gives class logits at the map's resolution; the model upsamples.
 */
import { Dropout, ReLU, Sigmoid } from '../nn/activation.js';
import { ModuleList, Sequential } from '../nn/container.js';
import { Conv2d } from '../nn/conv.js';
import * as F from '../nn/functional.js';
import { Module } from '../nn/module.js';
import { BatchNorm2d } from '../nn/norm.js';
import { AdaptiveAvgPool2d } from '../nn/pooling.js';
import type { OnnxGraph, OnnxValue } from '../onnx/graph.js';
import * as E from '../onnx/emit.js';
import { cat } from '../tensor/creation.js';
import { tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';

const convBnRelu = (inC: number, outC: number, kernel: number, dilation = 1): Module[] => [
  new Conv2d(inC, outC, kernel, { padding: kernel === 1 ? 0 : dilation, dilation, bias: false }),
  new BatchNorm2d(outC),
  new ReLU(),
];

const spatialSize = (v: OnnxValue): [number, number] => v.shape.slice(2) as [number, number];

/** 3×3 conv to in/4 channels, BN, ReLU, dropout 0.1, 1×1 conv to the classes. */
export class FCNHead extends Sequential {
  constructor(inC: number, numClasses: number) {
    const mid = Math.floor(inC / 4);
    super(...(convBnRelu(inC, mid, 3)), new Dropout(0.1), new Conv2d(mid, numClasses, 1));
  }
}

/** Global average pool, 1×1 conv, BN, ReLU, then (bilinear) back to the input's size: image-level context. */
export class ASPPPooling extends Sequential {
  constructor(inC: number, outC: number) {
    super(new AdaptiveAvgPool2d(1), ...(convBnRelu(inC, outC, 1)));
  }

  override forward(x: Tensor): Tensor {
    const [h, w] = x.shape.slice(2) as [number, number];
    return tidy(() => F.interpolate(super.forward(x), { size: [h, w], mode: 'bilinear', alignCorners: false }));
  }

  protected override onnx(g: OnnxGraph, x: OnnxValue): OnnxValue {
    return E.interpolate(g, super.onnx(g, x), spatialSize(x), { mode: 'bilinear' });
  }
}

/**
 * Atrous spatial pyramid pooling: a 1×1 branch, one 3×3 branch per rate, image pooling, all
 * concatenated and projected to `outC` (`convs.0..`, `project.0..3`).
 */
export class ASPP extends Module {
  readonly convs: ModuleList<Module<[Tensor], Tensor>>;
  readonly project: Sequential;

  constructor(inC: number, rates: readonly number[], outC = 256) {
    super();
    const branches: Module<[Tensor], Tensor>[] = [new Sequential(...(convBnRelu(inC, outC, 1)))];
    for (const r of rates) branches.push(new Sequential(...(convBnRelu(inC, outC, 3, r))));
    branches.push(new ASPPPooling(inC, outC));
    this.convs = this.registerModule('convs', new ModuleList(branches));
    this.project = this.registerModule('project', new Sequential(...(convBnRelu(branches.length * outC, outC, 1)), new Dropout(0.5)));
  }

  forward(x: Tensor): Tensor {
    return tidy(() => this.project.forward(cat(this.convs.items.map((m) => m.forward(x)), 1)));
  }

  protected override onnx(g: OnnxGraph, x: OnnxValue): OnnxValue {
    return this.project.toOnnx(g, g.op('Concat', this.convs.items.map((m) => m.toOnnx(g, x)), { axis: 1 }));
  }
}

/** DeepLabV3's head: ASPP (rates 12, 24, 36 as torchvision's), 3×3 conv, BN, ReLU, 1×1 conv to the classes. */
export class DeepLabHead extends Sequential {
  constructor(inC: number, numClasses: number, rates: readonly number[] = [12, 24, 36]) {
    super(new ASPP(inC, rates), ...(convBnRelu(256, 256, 3)), new Conv2d(256, numClasses, 1));
  }
}

/**
 * Lite R-ASPP: the high-level map through a 1×1 conv (`cbr`) gated by its pooled sigmoid (`scale`),
 * upsampled to the low-level map, then both classified by 1×1 convs and summed.
 */
export class LRASPPHead extends Module<[Tensor, Tensor]> {
  readonly cbr: Sequential;
  readonly scale: Sequential;
  readonly lowClassifier: Conv2d;
  readonly highClassifier: Conv2d;

  constructor(lowC: number, highC: number, numClasses: number, interC = 128) {
    super();
    this.cbr = this.registerModule('cbr', new Sequential(...(convBnRelu(highC, interC, 1))));
    this.scale = this.registerModule('scale', new Sequential(new AdaptiveAvgPool2d(1), new Conv2d(highC, interC, 1, { bias: false }), new Sigmoid()));
    this.lowClassifier = this.registerModule('low_classifier', new Conv2d(lowC, numClasses, 1));
    this.highClassifier = this.registerModule('high_classifier', new Conv2d(interC, numClasses, 1));
  }

  forward(low: Tensor, high: Tensor): Tensor {
    return tidy(() => {
      const x = this.cbr.forward(high).mul(this.scale.forward(high));
      const up = F.interpolate(x, { size: low.shape.slice(2) as [number, number], mode: 'bilinear', alignCorners: false });
      return this.lowClassifier.forward(low).add(this.highClassifier.forward(up));
    });
  }

  protected override onnx(g: OnnxGraph, low: OnnxValue, high: OnnxValue): OnnxValue {
    const x = g.op('Mul', [this.cbr.toOnnx(g, high), this.scale.toOnnx(g, high)]);
    const up = E.interpolate(g, x, spatialSize(low), { mode: 'bilinear' });
    return g.op('Add', [this.lowClassifier.toOnnx(g, low), this.highClassifier.toOnnx(g, up)]);
  }
}
