// MobileNetV2: https://arxiv.org/abs/1801.04381 · Searching for MobileNetV3: https://arxiv.org/abs/1905.02244
import { Dropout, Hardswish, ReLU, ReLU6 } from '../nn/activation.js';
import { Sequential } from '../nn/container.js';
import { Conv2d } from '../nn/conv.js';
import * as F from '../nn/functional.js';
import { normal_, zeros_ } from '../nn/init.js';
import { Linear } from '../nn/linear.js';
import { Module } from '../nn/module.js';
import { BatchNorm2d, type BatchNormOptions } from '../nn/norm.js';
import { AdaptiveAvgPool2d } from '../nn/pooling.js';
import type { OnnxGraph, OnnxValue } from '../onnx/graph.js';
import * as E from '../onnx/emit.js';
import { tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { convNormAct, initTorchvision, makeDivisible, runLayers, SqueezeExcitation } from './layers.js';
import { Classifier, ResettableLinear, type ForwardHeadOptions, type ModelConfig } from './model.js';

/** torchvision's classifier init for both MobileNets: N(0, 0.01) weights, zero bias. */
const linearInit = (l: Linear): void => {
  normal_(l.weight, 0, 0.01);
  if (l.bias !== null) zeros_(l.bias);
};

/** MobileNetV2's block: 1×1 expand (ReLU6), 3×3 depthwise (ReLU6), 1×1 linear projection. */
export class InvertedResidualV2 extends Module {
  readonly conv: Sequential;
  readonly useResConnect: boolean;

  constructor(inC: number, outC: number, stride: number, expandRatio: number) {
    super();
    const hidden = Math.round(inC * expandRatio);
    this.useResConnect = stride === 1 && inC === outC;
    const act = (): ReLU6 => new ReLU6({ inplace: true });
    const layers: Module[] = [];
    if (expandRatio !== 1) layers.push(convNormAct(inC, hidden, { kernel: 1, act }));
    layers.push(
      convNormAct(hidden, hidden, { stride, groups: hidden, act }),
      new Conv2d(hidden, outC, 1, { bias: false }),
      new BatchNorm2d(outC),
    );
    this.conv = this.registerModule('conv', new Sequential(...layers));
  }

  forward(x: Tensor): Tensor {
    return tidy(() => (this.useResConnect ? x.add(this.conv.forward(x)) : this.conv.forward(x)));
  }

  protected override onnx(g: OnnxGraph, x: OnnxValue): OnnxValue {
    return this.useResConnect ? g.op('Add', [x, this.conv.toOnnx(g, x)]) : this.conv.toOnnx(g, x);
  }
}

/** torchvision's mobilenet_v2 (width 1.0): `features.0..18`, `classifier.0` Dropout, `classifier.1` Linear. */
export class MobileNetV2 extends Classifier {
  readonly features: Sequential;
  readonly classifier: Sequential;
  protected readonly classifierLayer: ResettableLinear;

  constructor(config: ModelConfig) {
    super(config);
    // t (expansion), c (channels), n (blocks), s (first stride)
    const setting = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1]] as const;
    const act = (): ReLU6 => new ReLU6({ inplace: true });
    let inC = makeDivisible(32);
    const lastChannel = makeDivisible(1280);
    const layers: Module[] = [convNormAct(config.inChannels, inC, { stride: 2, act })];
    for (const [t, c, n, s] of setting) {
      const outC = makeDivisible(c);
      for (let i = 0; i < n; i++) {
        layers.push(new InvertedResidualV2(inC, outC, i === 0 ? s : 1, t));
        inC = outC;
      }
    }
    layers.push(convNormAct(inC, lastChannel, { kernel: 1, act }));
    this.features = this.registerModule('features', new Sequential(...layers));
    this.classifierLayer = new ResettableLinear(lastChannel, config.numClasses);
    this.classifier = this.registerModule('classifier', new Sequential(new Dropout(config.dropRate ?? 0.2), this.classifierLayer));
    initTorchvision(this, linearInit);
  }

  forwardFeatures(x: Tensor): Tensor {
    return runLayers(x, this.features.layers);
  }

  onnxFeatures(g: OnnxGraph, x: OnnxValue): OnnxValue {
    return this.features.toOnnx(g, x);
  }

  onnxHead(g: OnnxGraph, features: OnnxValue): OnnxValue {
    return this.classifier.toOnnx(g, E.flatten(g, E.adaptiveAvgPool2d(g, features, 1), 1));
  }

  forwardHead(features: Tensor, opts: ForwardHeadOptions = {}): Tensor {
    return tidy(() => {
      const x = this.classifier.at(0).forward(F.adaptiveAvgPool2d(features, 1).flatten(1));
      return opts.preLogits ? x : this.classifierLayer.forward(x);
    });
  }
}

interface V3Block {
  inC: number;
  kernel: number;
  expanded: number;
  outC: number;
  se: boolean;
  hardswish: boolean;
  stride: number;
}

/** MobileNetV3's BatchNorm: eps 0.001, momentum 0.01. */
const BN_V3: BatchNormOptions = { eps: 0.001, momentum: 0.01 };

/** MobileNetV3's block: optional 1×1 expand, depthwise k×k, optional SE (hardsigmoid), 1×1 projection. */
export class InvertedResidualV3 extends Module {
  readonly block: Sequential;
  readonly useResConnect: boolean;

  constructor(c: V3Block) {
    super();
    this.useResConnect = c.stride === 1 && c.inC === c.outC;
    const act = c.hardswish ? (): Module => new Hardswish({ inplace: true }) : (): Module => new ReLU({ inplace: true });
    const layers: Module[] = [];
    if (c.expanded !== c.inC) layers.push(convNormAct(c.inC, c.expanded, { kernel: 1, act, bn: BN_V3 }));
    layers.push(convNormAct(c.expanded, c.expanded, { kernel: c.kernel, stride: c.stride, groups: c.expanded, act, bn: BN_V3 }));
    if (c.se) layers.push(new SqueezeExcitation(c.expanded, makeDivisible(Math.floor(c.expanded / 4)), () => new ReLU(), 'hardsigmoid'));
    layers.push(convNormAct(c.expanded, c.outC, { kernel: 1, act: null, bn: BN_V3 }));
    this.block = this.registerModule('block', new Sequential(...layers));
  }

  forward(x: Tensor): Tensor {
    return tidy(() => (this.useResConnect ? this.block.forward(x).add(x) : this.block.forward(x)));
  }

  protected override onnx(g: OnnxGraph, x: OnnxValue): OnnxValue {
    return this.useResConnect ? g.op('Add', [this.block.toOnnx(g, x), x]) : this.block.toOnnx(g, x);
  }
}

/**
 * torchvision's mobilenet_v3_small: `features.0..12`, avgpool, `classifier.0` Linear(576, 1024),
 * Hardswish, Dropout, `classifier.3` Linear(1024, numClasses). numFeatures is 1024.
 */
export class MobileNetV3 extends Classifier {
  readonly features: Sequential;
  readonly classifier: Sequential;
  protected readonly classifierLayer: ResettableLinear;

  constructor(config: ModelConfig) {
    super(config);
    // in, kernel, expanded, out, SE, hardswish, stride
    const rows: [number, number, number, number, boolean, boolean, number][] = [
      [16, 3, 16, 16, true, false, 2], [16, 3, 72, 24, false, false, 2], [24, 3, 88, 24, false, false, 1],
      [24, 5, 96, 40, true, true, 2], [40, 5, 240, 40, true, true, 1], [40, 5, 240, 40, true, true, 1],
      [40, 5, 120, 48, true, true, 1], [48, 5, 144, 48, true, true, 1], [48, 5, 288, 96, true, true, 2],
      [96, 5, 576, 96, true, true, 1], [96, 5, 576, 96, true, true, 1],
    ];
    const hs = (): Module => new Hardswish({ inplace: true });
    const layers: Module[] = [convNormAct(config.inChannels, 16, { stride: 2, act: hs, bn: BN_V3 })];
    for (const [inC, kernel, expanded, outC, se, hardswish, stride] of rows) {
      layers.push(new InvertedResidualV3({ inC, kernel, expanded, outC, se, hardswish, stride }));
    }
    const lastConv = 6 * 96;
    const lastChannel = makeDivisible(1024);
    layers.push(convNormAct(96, lastConv, { kernel: 1, act: hs, bn: BN_V3 }));
    this.features = this.registerModule('features', new Sequential(...layers));
    this.registerModule('avgpool', new AdaptiveAvgPool2d(1));
    const hidden = new Linear(lastConv, lastChannel); // built (and default-initialised) before the last Linear, as in torchvision
    this.classifierLayer = new ResettableLinear(lastChannel, config.numClasses);
    this.classifier = this.registerModule('classifier', new Sequential(hidden, new Hardswish({ inplace: true }), new Dropout(config.dropRate ?? 0.2), this.classifierLayer));
    initTorchvision(this, linearInit);
  }

  forwardFeatures(x: Tensor): Tensor {
    return runLayers(x, this.features.layers);
  }

  onnxFeatures(g: OnnxGraph, x: OnnxValue): OnnxValue {
    return this.features.toOnnx(g, x);
  }

  onnxHead(g: OnnxGraph, features: OnnxValue): OnnxValue {
    return this.classifier.toOnnx(g, E.flatten(g, E.adaptiveAvgPool2d(g, features, 1), 1));
  }

  forwardHead(features: Tensor, opts: ForwardHeadOptions = {}): Tensor {
    return tidy(() => {
      let x = F.adaptiveAvgPool2d(features, 1).flatten(1);
      for (let i = 0; i < 3; i++) x = this.classifier.at(i).forward(x);
      return opts.preLogits ? x : this.classifierLayer.forward(x);
    });
  }
}

export const mobilenetV2 = (c: ModelConfig): MobileNetV2 => new MobileNetV2(c);
export const mobilenetV3Small = (c: ModelConfig): MobileNetV3 => new MobileNetV3(c);
