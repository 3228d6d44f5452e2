// Deep Residual Learning for Image Recognition, https://arxiv.org/abs/1512.03385
import { ReLU } from '../nn/activation.js';
import { Sequential } from '../nn/container.js';
import { Conv2d } from '../nn/conv.js';
import * as F from '../nn/functional.js';
import { Module } from '../nn/module.js';
import { BatchNorm2d } from '../nn/norm.js';
import { AdaptiveAvgPool2d, MaxPool2d } from '../nn/pooling.js';
import type { OnnxGraph, OnnxValue } from '../onnx/graph.js';
import * as E from '../onnx/emit.js';
import { tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { initTorchvision, runLayers } from './layers.js';
import { onnxTaps, runTaps, type PyramidBackbone, type PyramidLevel } from './pyramid.js';
import { Classifier, ResettableLinear, type ForwardHeadOptions, type ModelConfig } from './model.js';

const conv3x3 = (inC: number, outC: number, stride = 1, dilation = 1): Conv2d =>
  new Conv2d(inC, outC, 3, { stride, padding: dilation, dilation, bias: false });
const conv1x1 = (inC: number, outC: number, stride = 1): Conv2d => new Conv2d(inC, outC, 1, { stride, bias: false });

/** Two 3×3 convolutions and a shortcut (resnet18/34). */
export class BasicBlock extends Module {
  static readonly expansion = 1;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;

  /**
   * `downsample` is built by the caller first, as torchvision does (it draws its init first).
   * Dilation (which torchvision refuses here) follows timm: `firstDilation` on conv1, `dilation` on conv2.
   */
  constructor(inC: number, planes: number, stride: number, readonly downsample: Sequential | null, dilation = 1, firstDilation = dilation) {
    super();
    this.conv1 = this.registerModule('conv1', conv3x3(inC, planes, stride, firstDilation));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(planes));
    this.registerModule('relu', new ReLU({ inplace: true }));
    this.conv2 = this.registerModule('conv2', conv3x3(planes, planes, 1, dilation));
    this.bn2 = this.registerModule('bn2', new BatchNorm2d(planes));
    if (downsample) this.registerModule('downsample', downsample);
  }

  forward(x: Tensor): Tensor {
    return tidy(() => {
      const out = this.bn2.forward(this.conv2.forward(this.bn1.forward(this.conv1.forward(x)).relu_()));
      return out.add_(this.downsample ? this.downsample.forward(x) : x).relu_();
    });
  }

  protected override onnx(g: OnnxGraph, x: OnnxValue): OnnxValue {
    const out = this.bn2.toOnnx(g, this.conv2.toOnnx(g, E.relu(g, this.bn1.toOnnx(g, this.conv1.toOnnx(g, x)))));
    return E.relu(g, g.op('Add', [out, this.downsample ? this.downsample.toOnnx(g, x) : x]));
  }
}

/** 1×1 reduce, 3×3 (stride here, torchvision's "ResNet v1.5"), 1×1 expand ×4, and a shortcut (resnet50). */
export class Bottleneck extends Module {
  static readonly expansion = 4;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly conv3: Conv2d;
  readonly bn3: BatchNorm2d;

  /** `dilation` of the 3×3 (torchvision gives a layer's first block the previous layer's). */
  constructor(inC: number, planes: number, stride: number, readonly downsample: Sequential | null, dilation = 1) {
    super();
    this.conv1 = this.registerModule('conv1', conv1x1(inC, planes));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(planes));
    this.conv2 = this.registerModule('conv2', conv3x3(planes, planes, stride, dilation));
    this.bn2 = this.registerModule('bn2', new BatchNorm2d(planes));
    this.conv3 = this.registerModule('conv3', conv1x1(planes, planes * Bottleneck.expansion));
    this.bn3 = this.registerModule('bn3', new BatchNorm2d(planes * Bottleneck.expansion));
    this.registerModule('relu', new ReLU({ inplace: true }));
    if (downsample) this.registerModule('downsample', downsample);
  }

  forward(x: Tensor): Tensor {
    return tidy(() => {
      let out = this.bn1.forward(this.conv1.forward(x)).relu_();
      out = this.bn2.forward(this.conv2.forward(out)).relu_();
      out = this.bn3.forward(this.conv3.forward(out));
      return out.add_(this.downsample ? this.downsample.forward(x) : x).relu_();
    });
  }

  protected override onnx(g: OnnxGraph, x: OnnxValue): OnnxValue {
    let out = E.relu(g, this.bn1.toOnnx(g, this.conv1.toOnnx(g, x)));
    out = E.relu(g, this.bn2.toOnnx(g, this.conv2.toOnnx(g, out)));
    out = this.bn3.toOnnx(g, this.conv3.toOnnx(g, out));
    return E.relu(g, g.op('Add', [out, this.downsample ? this.downsample.toOnnx(g, x) : x]));
  }
}

type BlockType = typeof BasicBlock | typeof Bottleneck;

export interface ResNetOptions {
  /**
   * torchvision's replace_stride_with_dilation for layer2..4: a dilated layer keeps its input's
   * resolution (DeepLab and FCN use [false, true, true], output stride 8).
   */
  replaceStrideWithDilation?: [boolean, boolean, boolean];
}

/**
 * torchvision's ResNet: stem conv1-bn1-relu-maxpool, layer1..4, avgpool, fc; module names and
 * init as torchvision (so `layer1.0.conv1.weight` etc. load from its checkpoints).
 */
export class ResNet extends Classifier implements PyramidBackbone {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly layers: Sequential[] = [];
  readonly fc: ResettableLinear;
  protected readonly classifierLayer: ResettableLinear;
  readonly dropRate: number;
  readonly pyramidLevels: readonly PyramidLevel[];
  /** Index of each layer's last block among all blocks. */
  readonly #taps: number[] = [];

  constructor(config: ModelConfig, block: BlockType, depths: [number, number, number, number], opts: ResNetOptions = {}) {
    super(config);
    const dilate = [false, ...(opts.replaceStrideWithDilation ?? [false, false, false])];
    this.dropRate = config.dropRate ?? 0;
    this.conv1 = this.registerModule('conv1', new Conv2d(config.inChannels, 64, 7, { stride: 2, padding: 3, bias: false }));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(64));
    this.registerModule('relu', new ReLU({ inplace: true }));
    this.registerModule('maxpool', new MaxPool2d(3, { stride: 2, padding: 1 }));
    let inC = 64;
    let dilation = 1;
    let stride = 4;
    const levels: PyramidLevel[] = [];
    depths.forEach((n, i) => {
      const planes = 64 << i;
      const previousDilation = dilation;
      let s = i === 0 ? 1 : 2;
      if (dilate[i]) [dilation, s] = [dilation * s, 1];
      const out = planes * block.expansion;
      const blocks: Module[] = [];
      for (let b = 0; b < n; b++) {
        const downsample = b === 0 && (s !== 1 || inC !== out) ? new Sequential(conv1x1(inC, out, s), new BatchNorm2d(out)) : null;
        // torchvision: a layer's first 3×3 keeps the previous layer's dilation, the later ones take the new one
        if (b > 0) blocks.push(new block(out, planes, 1, null, dilation));
        else if (block === Bottleneck) blocks.push(new Bottleneck(inC, planes, s, downsample, previousDilation));
        else blocks.push(new BasicBlock(inC, planes, s, downsample, dilation, previousDilation));
      }
      inC = out;
      stride *= s;
      levels.push({ stride, channels: out });
      this.#taps.push((this.#taps[this.#taps.length - 1] ?? -1) + n);
      this.layers.push(this.registerModule(`layer${i + 1}`, new Sequential(...(blocks as BasicBlock[]))));
    });
    this.pyramidLevels = levels;
    this.registerModule('avgpool', new AdaptiveAvgPool2d(1));
    this.fc = this.classifierLayer = this.registerModule('fc', new ResettableLinear(inC, config.numClasses));
    initTorchvision(this);
  }

  forwardFeatures(x: Tensor): Tensor {
    const stem = this.#stem(x);
    const out = runLayers(stem, this.layers.flatMap((l) => l.layers));
    if (out !== stem) stem.dispose();
    return out;
  }

  #stem(x: Tensor): Tensor {
    return tidy(() => F.maxPool2d(this.bn1.forward(this.conv1.forward(x)).relu_(), 3, { stride: 2, padding: 1 }));
  }

  /** layer1..4's outputs: strides 4, 8, 16, 32 (less where dilated), 64·e to 512·e channels. */
  forwardPyramid(x: Tensor): Tensor[] {
    const stem = this.#stem(x);
    const out = runTaps(stem, this.layers.flatMap((l) => l.layers), this.#taps);
    if (!out.includes(stem)) stem.dispose();
    return out;
  }

  onnxPyramid(g: OnnxGraph, x: OnnxValue): OnnxValue[] {
    const stem = E.maxPool2d(g, E.relu(g, this.bn1.toOnnx(g, this.conv1.toOnnx(g, x))), 3, { stride: 2, padding: 1 });
    return onnxTaps(g, stem, this.layers.flatMap((l) => l.layers), this.#taps);
  }

  pyramidModules(): [string, Module<never, unknown>][] {
    return [...this.namedChildren()].filter(([name]) => name !== 'avgpool' && name !== 'fc');
  }

  forwardHead(features: Tensor, opts: ForwardHeadOptions = {}): Tensor {
    return tidy(() => {
      let x = F.adaptiveAvgPool2d(features, 1).flatten(1);
      if (this.dropRate > 0) x = F.dropout(x, this.dropRate, this.training);
      return opts.preLogits ? x : this.fc.forward(x);
    });
  }

  onnxFeatures(g: OnnxGraph, x: OnnxValue): OnnxValue {
    let y = E.maxPool2d(g, E.relu(g, this.bn1.toOnnx(g, this.conv1.toOnnx(g, x))), 3, { stride: 2, padding: 1 });
    for (const layer of this.layers) y = layer.toOnnx(g, y);
    return y;
  }

  onnxHead(g: OnnxGraph, features: OnnxValue): OnnxValue {
    return this.fc.toOnnx(g, E.flatten(g, E.adaptiveAvgPool2d(g, features, 1), 1));
  }
}

export const resnet18 = (c: ModelConfig, o?: ResNetOptions): ResNet => new ResNet(c, BasicBlock, [2, 2, 2, 2], o);
export const resnet34 = (c: ModelConfig, o?: ResNetOptions): ResNet => new ResNet(c, BasicBlock, [3, 4, 6, 3], o);
export const resnet50 = (c: ModelConfig, o?: ResNetOptions): ResNet => new ResNet(c, Bottleneck, [3, 4, 6, 3], o);
