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
import { onnxTaps, runTaps, stageTaps, type LayerStride, type PyramidBackbone, type PyramidLevel } from './pyramid.js';

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
export class MobileNetV2 extends Classifier implements PyramidBackbone {
  readonly features: Sequential;
  readonly classifier: Sequential;
  protected readonly classifierLayer: ResettableLinear;
  readonly pyramidLevels: readonly PyramidLevel[];
  readonly #taps: number[];

  constructor(config: ModelConfig) {
    super(config);
    // t (expansion), c (channels), n (blocks), s (first stride)
    const setting = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1]] as const;
    const act = (): ReLU6 => new ReLU6({ inplace: true });
    let inC = makeDivisible(32);
    const lastChannel = makeDivisible(1280);
    const layers: Module[] = [convNormAct(config.inChannels, inC, { stride: 2, act })];
    const strides: LayerStride[] = [{ stride: 2, channels: inC }];
    for (const [t, c, n, s] of setting) {
      const outC = makeDivisible(c);
      for (let i = 0; i < n; i++) {
        layers.push(new InvertedResidualV2(inC, outC, i === 0 ? s : 1, t));
        strides.push({ stride: i === 0 ? s : 1, channels: outC });
        inC = outC;
      }
    }
    layers.push(convNormAct(inC, lastChannel, { kernel: 1, act }));
    strides.push({ stride: 1, channels: lastChannel });
    ({ taps: this.#taps, levels: this.pyramidLevels } = stageTaps(strides));
    this.features = this.registerModule('features', new Sequential(...layers));
    this.classifierLayer = new ResettableLinear(lastChannel, config.numClasses);
    this.classifier = this.registerModule('classifier', new Sequential(new Dropout(config.dropRate ?? 0.2), this.classifierLayer));
    initTorchvision(this, linearInit);
  }

  /** The last block of each stride stage (strides 4, 8, 16, 32; the stride-32 map after the 1×1 head conv). */
  forwardPyramid(x: Tensor): Tensor[] {
    return runTaps(x, this.features.layers, this.#taps);
  }

  onnxPyramid(g: OnnxGraph, x: OnnxValue): OnnxValue[] {
    return onnxTaps(g, x, this.features.layers, this.#taps);
  }

  pyramidModules(): [string, Module<never, unknown>][] {
    return [...this.features.namedChildren()];
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
  /** Dilation of the depthwise conv; above 1 it replaces the stride (torchvision's dilated C4 stage). */
  dilation?: number;
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
    const dilation = c.dilation ?? 1;
    const act = c.hardswish ? (): Module => new Hardswish({ inplace: true }) : (): Module => new ReLU({ inplace: true });
    const layers: Module[] = [];
    if (c.expanded !== c.inC) layers.push(convNormAct(c.inC, c.expanded, { kernel: 1, act, bn: BN_V3 }));
    layers.push(convNormAct(c.expanded, c.expanded, { kernel: c.kernel, stride: dilation > 1 ? 1 : c.stride, dilation, groups: c.expanded, act, bn: BN_V3 }));
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

type V3Row = [inC: number, kernel: number, expanded: number, outC: number, se: boolean, hardswish: boolean, stride: number];

// in, kernel, expanded, out, SE, hardswish, stride (torchvision's _mobilenet_v3_conf); the last
// three rows are the C4 stage that `dilated` dilates.
const V3_ROWS: Record<'small' | 'large', V3Row[]> = {
  small: [
    [16, 3, 16, 16, true, false, 2], [16, 3, 72, 24, false, false, 2], [24, 3, 88, 24, false, false, 1],
    [24, 5, 96, 40, true, true, 2], [40, 5, 240, 40, true, true, 1], [40, 5, 240, 40, true, true, 1],
    [40, 5, 120, 48, true, true, 1], [48, 5, 144, 48, true, true, 1], [48, 5, 288, 96, true, true, 2],
    [96, 5, 576, 96, true, true, 1], [96, 5, 576, 96, true, true, 1],
  ],
  large: [
    [16, 3, 16, 16, false, false, 1], [16, 3, 64, 24, false, false, 2], [24, 3, 72, 24, false, false, 1],
    [24, 5, 72, 40, true, false, 2], [40, 5, 120, 40, true, false, 1], [40, 5, 120, 40, true, false, 1],
    [40, 3, 240, 80, false, true, 2], [80, 3, 200, 80, false, true, 1], [80, 3, 184, 80, false, true, 1],
    [80, 3, 184, 80, false, true, 1], [80, 3, 480, 112, true, true, 1], [112, 3, 672, 112, true, true, 1],
    [112, 5, 672, 160, true, true, 2], [160, 5, 960, 160, true, true, 1], [160, 5, 960, 160, true, true, 1],
  ],
};

export interface MobileNetV3Options {
  arch?: 'small' | 'large';
  /** torchvision's `dilated`: the C4 stage dilates (rate 2) instead of striding, output stride 16. */
  dilated?: boolean;
}

/**
 * torchvision's mobilenet_v3_small / _large: `features.0..N`, avgpool, `classifier.0`
 * Linear(6·C4, 1024 or 1280), Hardswish, Dropout, `classifier.3` Linear(…, numClasses).
 * numFeatures is 1024 (small) or 1280 (large).
 */
export class MobileNetV3 extends Classifier implements PyramidBackbone {
  readonly features: Sequential;
  readonly classifier: Sequential;
  protected readonly classifierLayer: ResettableLinear;
  readonly pyramidLevels: readonly PyramidLevel[];
  readonly #taps: number[];
  /** Indices in `features` of the blocks that stride (torchvision's `_is_cn`), dilated ones included. */
  readonly stridedBlocks: readonly number[];
  /** Output channels of each layer of `features`. */
  readonly featureChannels: readonly number[];

  constructor(config: ModelConfig, opts: MobileNetV3Options = {}) {
    super(config);
    const rows = V3_ROWS[opts.arch ?? 'small'];
    const c4 = rows.length - 3;
    const hs = (): Module => new Hardswish({ inplace: true });
    const layers: Module[] = [convNormAct(config.inChannels, 16, { stride: 2, act: hs, bn: BN_V3 })];
    const strides: LayerStride[] = [{ stride: 2, channels: 16 }];
    rows.forEach(([inC, kernel, expanded, outC, se, hardswish, stride], i) => {
      const dilation = opts.dilated && i >= c4 ? 2 : 1;
      layers.push(new InvertedResidualV3({ inC, kernel, expanded, outC, se, hardswish, stride, dilation }));
      strides.push({ stride, channels: outC, dilated: dilation > 1 });
    });
    this.stridedBlocks = rows.flatMap((r, i) => (r[6] > 1 ? [i + 1] : []));
    const lastIn = rows[rows.length - 1]![3];
    const lastConv = 6 * lastIn;
    const lastChannel = makeDivisible(opts.arch === 'large' ? 1280 : 1024);
    layers.push(convNormAct(lastIn, lastConv, { kernel: 1, act: hs, bn: BN_V3 }));
    strides.push({ stride: 1, channels: lastConv });
    ({ taps: this.#taps, levels: this.pyramidLevels } = stageTaps(strides));
    this.featureChannels = strides.map((s) => s.channels);
    this.features = this.registerModule('features', new Sequential(...layers));
    this.registerModule('avgpool', new AdaptiveAvgPool2d(1));
    const hidden = new Linear(lastConv, lastChannel); // built (and default-initialised) before the last Linear, as in torchvision
    this.classifierLayer = new ResettableLinear(lastChannel, config.numClasses);
    this.classifier = this.registerModule('classifier', new Sequential(hidden, new Hardswish({ inplace: true }), new Dropout(config.dropRate ?? 0.2), this.classifierLayer));
    initTorchvision(this, linearInit);
  }

  /** The outputs of `features` at the given ascending indices (torchvision's IntermediateLayerGetter). */
  forwardTaps(x: Tensor, taps: readonly number[]): Tensor[] {
    return runTaps(x, this.features.layers, taps);
  }

  onnxTaps(g: OnnxGraph, x: OnnxValue, taps: readonly number[]): OnnxValue[] {
    return onnxTaps(g, x, this.features.layers, taps);
  }

  forwardPyramid(x: Tensor): Tensor[] {
    return runTaps(x, this.features.layers, this.#taps);
  }

  onnxPyramid(g: OnnxGraph, x: OnnxValue): OnnxValue[] {
    return onnxTaps(g, x, this.features.layers, this.#taps);
  }

  pyramidModules(): [string, Module<never, unknown>][] {
    return [...this.features.namedChildren()];
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
export const mobilenetV3Large = (c: ModelConfig, o: Omit<MobileNetV3Options, 'arch'> = {}): MobileNetV3 => new MobileNetV3(c, { ...o, arch: 'large' });
