// A small VGG-style CNN with batch norm: https://arxiv.org/abs/1409.1556 (VGG), https://arxiv.org/abs/1502.03167 (BN)
import { Dropout, ReLU } from '../nn/activation.js';
import { Sequential } from '../nn/container.js';
import { Conv2d } from '../nn/conv.js';
import * as F from '../nn/functional.js';
import { Flatten, Linear } from '../nn/linear.js';
import type { Module } from '../nn/module.js';
import { BatchNorm2d } from '../nn/norm.js';
import { AdaptiveAvgPool2d, MaxPool2d } from '../nn/pooling.js';
import type { OnnxGraph, OnnxValue } from '../onnx/graph.js';
import * as E from '../onnx/emit.js';
import { tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { runLayers } from './layers.js';
import { Classifier, ResettableLinear, type ForwardHeadOptions, type ModelConfig } from './model.js';
import { onnxTaps, runTaps, stageTaps, type LayerStride, type PyramidBackbone, type PyramidLevel } from './pyramid.js';

/** Side of the pooled grid the head sees: 7×7 at 28 px, so pooling to 4×4 keeps most of the layout. */
const GRID = 4;

const convBnRelu = (inC: number, outC: number): Module[] => [new Conv2d(inC, outC, 3, { padding: 1, bias: false }), new BatchNorm2d(outC), new ReLU({ inplace: true })];

/**
 * conv32-BN-ReLU ×2, maxpool, conv64-BN-ReLU ×2, maxpool (`features.0..13`), adaptive average
 * pool to 4×4, then dropout, Linear(1024, 128), ReLU, dropout, Linear(128, numClasses)
 * (`classifier.0..4`). About 198k parameters at 10 classes; any inChannels; any input of at least
 * 8 px (the adaptive pool makes the head independent of the input size). Dropout: `dropRate`
 * (default 0.25) before the hidden Linear and twice that before the last one. PyTorch's default init.
 */
export class SmallCNN extends Classifier implements PyramidBackbone {
  readonly features: Sequential;
  readonly classifier: Sequential;
  protected readonly classifierLayer: ResettableLinear;
  /** Two levels only, the network pools twice: strides 2 and 4, 64 channels each. */
  readonly pyramidLevels: readonly PyramidLevel[];
  readonly #taps: number[];

  constructor(config: ModelConfig) {
    super(config);
    const p = config.dropRate ?? 0.25;
    this.features = this.registerModule('features', new Sequential(
      ...convBnRelu(config.inChannels, 32), ...convBnRelu(32, 32), new MaxPool2d(2),
      ...convBnRelu(32, 64), ...convBnRelu(64, 64), new MaxPool2d(2),
    ));
    const strides = this.features.layers.map((m, i): LayerStride => ({ stride: m instanceof MaxPool2d ? 2 : 1, channels: i < 7 ? 32 : 64 }));
    ({ taps: this.#taps, levels: this.pyramidLevels } = stageTaps(strides, 2));
    this.registerModule('pool', new AdaptiveAvgPool2d(GRID));
    this.registerModule('flatten', new Flatten());
    const hidden = new Linear(64 * GRID * GRID, 128);
    this.classifierLayer = new ResettableLinear(128, config.numClasses);
    this.classifier = this.registerModule('classifier', new Sequential(
      new Dropout(p), hidden, new ReLU({ inplace: true }), new Dropout(Math.min(1, 2 * p)), this.classifierLayer,
    ));
  }

  forwardFeatures(x: Tensor): Tensor {
    const [, , h, w] = x.shape;
    if (h! < 8 || w! < 8) throw new RangeError(`smallcnn needs inputs of at least 8×8 pixels, got ${h}×${w}`);
    return runLayers(x, this.features.layers);
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

  forwardHead(features: Tensor, opts: ForwardHeadOptions = {}): Tensor {
    return tidy(() => {
      let x = F.adaptiveAvgPool2d(features, GRID).flatten(1);
      for (let i = 0; i < 4; i++) x = this.classifier.at(i).forward(x);
      return opts.preLogits ? x : this.classifierLayer.forward(x);
    });
  }

  onnxFeatures(g: OnnxGraph, x: OnnxValue): OnnxValue {
    return this.features.toOnnx(g, x);
  }

  onnxHead(g: OnnxGraph, features: OnnxValue): OnnxValue {
    return this.classifier.toOnnx(g, E.flatten(g, E.adaptiveAvgPool2d(g, features, GRID), 1));
  }
}

export const smallcnn = (c: ModelConfig): SmallCNN => new SmallCNN(c);
