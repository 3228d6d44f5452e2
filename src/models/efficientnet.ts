// EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks, https://arxiv.org/abs/1905.11946
import { Dropout, SiLU } from '../nn/activation.js';
import { Sequential } from '../nn/container.js';
import * as F from '../nn/functional.js';
import { uniform_, zeros_ } from '../nn/init.js';
import type { Linear } from '../nn/linear.js';
import { Module } from '../nn/module.js';
import { AdaptiveAvgPool2d } from '../nn/pooling.js';
import { StochasticDepth } from '../nn/stochastic-depth.js';
import type { OnnxGraph, OnnxValue } from '../onnx/graph.js';
import * as E from '../onnx/emit.js';
import { tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { convNormAct, initTorchvision, makeDivisible, runLayers, SqueezeExcitation } from './layers.js';
import { Classifier, ResettableLinear, type ForwardHeadOptions, type ModelConfig } from './model.js';
import { onnxTaps, runTaps, stageTaps, type LayerStride, type PyramidBackbone, type PyramidLevel } from './pyramid.js';

const silu = (): Module => new SiLU({ inplace: true });

/**
 * Mobile inverted bottleneck: 1×1 expand, k×k depthwise, squeeze-excitation (SiLU, sigmoid),
 * 1×1 projection, all SiLU; the residual branch goes through stochastic depth ('row' mode).
 */
export class MBConv extends Module {
  readonly block: Sequential;
  readonly stochasticDepth: StochasticDepth;
  readonly useResConnect: boolean;

  constructor(inC: number, outC: number, kernel: number, stride: number, expandRatio: number, dropPath: number) {
    super();
    this.useResConnect = stride === 1 && inC === outC;
    const expanded = makeDivisible(inC * expandRatio);
    const layers: Module[] = [];
    if (expanded !== inC) layers.push(convNormAct(inC, expanded, { kernel: 1, act: silu }));
    layers.push(
      convNormAct(expanded, expanded, { kernel, stride, groups: expanded, act: silu }),
      new SqueezeExcitation(expanded, Math.max(1, Math.floor(inC / 4)), silu, 'sigmoid'),
      convNormAct(expanded, outC, { kernel: 1, act: null }),
    );
    this.block = this.registerModule('block', new Sequential(...layers));
    this.stochasticDepth = this.registerModule('stochastic_depth', new StochasticDepth(dropPath, 'row'));
  }

  forward(x: Tensor): Tensor {
    return tidy(() => {
      const out = this.block.forward(x);
      return this.useResConnect ? this.stochasticDepth.forward(out).add(x) : out;
    });
  }

  protected override onnx(g: OnnxGraph, x: OnnxValue): OnnxValue {
    const out = this.block.toOnnx(g, x);
    return this.useResConnect ? g.op('Add', [this.stochasticDepth.toOnnx(g, out), x]) : out;
  }
}

/**
 * torchvision's efficientnet_b0: `features.0` stem, `features.1..7` stages of MBConv blocks
 * (`features.S.B.block.…`), `features.8` 1×1 head conv, avgpool, `classifier.0` Dropout,
 * `classifier.1` Linear. Stochastic depth rises linearly from 0 to 0.2·15/16 over the 16 blocks.
 */
export class EfficientNet extends Classifier implements PyramidBackbone {
  readonly features: Sequential;
  readonly classifier: Sequential;
  protected readonly classifierLayer: ResettableLinear;
  readonly pyramidLevels: readonly PyramidLevel[];
  readonly #taps: number[];

  constructor(config: ModelConfig, opts: { stochasticDepthProb?: number } = {}) {
    super(config);
    const sdProb = opts.stochasticDepthProb ?? 0.2;
    // expand ratio, kernel, stride, in, out, blocks (width and depth multipliers 1.0)
    const setting = [[1, 3, 1, 32, 16, 1], [6, 3, 2, 16, 24, 2], [6, 5, 2, 24, 40, 2], [6, 3, 2, 40, 80, 3],
      [6, 5, 1, 80, 112, 3], [6, 5, 2, 112, 192, 4], [6, 3, 1, 192, 320, 1]] as const;
    const total = setting.reduce((n, s) => n + s[5], 0);
    const layers: Module[] = [convNormAct(config.inChannels, makeDivisible(32), { stride: 2, act: silu })];
    const strides: LayerStride[] = [{ stride: 2, channels: makeDivisible(32) }];
    let id = 0;
    for (const [t, k, s, inC, outC, n] of setting) {
      strides.push({ stride: s, channels: makeDivisible(outC) });
      const stage: Module[] = [];
      for (let i = 0; i < n; i++) {
        stage.push(new MBConv(i === 0 ? makeDivisible(inC) : makeDivisible(outC), makeDivisible(outC), k, i === 0 ? s : 1, t, (sdProb * id) / total));
        id++;
      }
      layers.push(new Sequential(...stage));
    }
    const lastIn = makeDivisible(320);
    const lastConv = 4 * lastIn;
    layers.push(convNormAct(lastIn, lastConv, { kernel: 1, act: silu }));
    strides.push({ stride: 1, channels: lastConv });
    ({ taps: this.#taps, levels: this.pyramidLevels } = stageTaps(strides));
    this.features = this.registerModule('features', new Sequential(...layers));
    this.registerModule('avgpool', new AdaptiveAvgPool2d(1));
    this.classifierLayer = new ResettableLinear(lastConv, config.numClasses);
    this.classifier = this.registerModule('classifier', new Sequential(new Dropout(config.dropRate ?? 0.2), this.classifierLayer));
    initTorchvision(this, (l: Linear) => {
      const range = 1 / Math.sqrt(l.outFeatures);
      uniform_(l.weight, -range, range);
      if (l.bias !== null) zeros_(l.bias);
    });
  }

  forwardFeatures(x: Tensor): Tensor {
    const blocks = this.features.layers.flatMap((m) => (m instanceof Sequential && m.layers[0] instanceof MBConv ? m.layers : [m]));
    return runLayers(x, blocks);
  }

  /** The last stage of each stride (features.2, .3, .5 and the 1×1 head conv features.8). */
  forwardPyramid(x: Tensor): Tensor[] {
    return runTaps(x, this.features.layers, this.#taps);
  }

  onnxPyramid(g: OnnxGraph, x: OnnxValue): OnnxValue[] {
    return onnxTaps(g, x, this.features.layers, this.#taps);
  }

  pyramidModules(): [string, Module<never, unknown>][] {
    return [...this.features.namedChildren()];
  }

  forwardHead(features: Tensor, opts: ForwardHeadOptions = {}): Tensor {
    return tidy(() => {
      const x = this.classifier.at(0).forward(F.adaptiveAvgPool2d(features, 1).flatten(1));
      return opts.preLogits ? x : this.classifierLayer.forward(x);
    });
  }

  onnxFeatures(g: OnnxGraph, x: OnnxValue): OnnxValue {
    return this.features.toOnnx(g, x);
  }

  onnxHead(g: OnnxGraph, features: OnnxValue): OnnxValue {
    return this.classifier.toOnnx(g, E.flatten(g, E.adaptiveAvgPool2d(g, features, 1), 1));
  }
}

export const efficientnetB0 = (c: ModelConfig): EfficientNet => new EfficientNet(c);
