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
import { Classifier, ResettableLinear, type ForwardHeadOptions, type ModelConfig } from './model.js';

const conv3x3 = (inC: number, outC: number, stride = 1): Conv2d => new Conv2d(inC, outC, 3, { stride, padding: 1, bias: false });
const conv1x1 = (inC: number, outC: number, stride = 1): Conv2d => new Conv2d(inC, outC, 1, { stride, bias: false });

/** Two 3×3 convolutions and a shortcut (resnet18/34). */
export class BasicBlock extends Module {
  static readonly expansion = 1;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;

  /** `downsample` is built by the caller first, as torchvision does (it draws its init first). */
  constructor(inC: number, planes: number, stride: number, readonly downsample: Sequential | null) {
    super();
    this.conv1 = this.registerModule('conv1', conv3x3(inC, planes, stride));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(planes));
    this.registerModule('relu', new ReLU({ inplace: true }));
    this.conv2 = this.registerModule('conv2', conv3x3(planes, planes));
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

  constructor(inC: number, planes: number, stride: number, readonly downsample: Sequential | null) {
    super();
    this.conv1 = this.registerModule('conv1', conv1x1(inC, planes));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(planes));
    this.conv2 = this.registerModule('conv2', conv3x3(planes, planes, stride));
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

/**
 * torchvision's ResNet: stem conv1-bn1-relu-maxpool, layer1..4, avgpool, fc; module names and
 * init as torchvision (so `layer1.0.conv1.weight` etc. load from its checkpoints).
 */
export class ResNet extends Classifier {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly layers: Sequential[] = [];
  readonly fc: ResettableLinear;
  protected readonly classifierLayer: ResettableLinear;
  readonly dropRate: number;

  constructor(config: ModelConfig, block: BlockType, depths: [number, number, number, number]) {
    super(config);
    this.dropRate = config.dropRate ?? 0;
    this.conv1 = this.registerModule('conv1', new Conv2d(config.inChannels, 64, 7, { stride: 2, padding: 3, bias: false }));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(64));
    this.registerModule('relu', new ReLU({ inplace: true }));
    this.registerModule('maxpool', new MaxPool2d(3, { stride: 2, padding: 1 }));
    let inC = 64;
    depths.forEach((n, i) => {
      const planes = 64 << i;
      const stride = i === 0 ? 1 : 2;
      const out = planes * block.expansion;
      const blocks: Module[] = [];
      for (let b = 0; b < n; b++) {
        const downsample = b === 0 && (stride !== 1 || inC !== out) ? new Sequential(conv1x1(inC, out, stride), new BatchNorm2d(out)) : null;
        blocks.push(new block(b === 0 ? inC : out, planes, b === 0 ? stride : 1, downsample));
      }
      inC = out;
      this.layers.push(this.registerModule(`layer${i + 1}`, new Sequential(...(blocks as BasicBlock[]))));
    });
    this.registerModule('avgpool', new AdaptiveAvgPool2d(1));
    this.fc = this.classifierLayer = this.registerModule('fc', new ResettableLinear(inC, config.numClasses));
    initTorchvision(this);
  }

  forwardFeatures(x: Tensor): Tensor {
    const stem = tidy(() => F.maxPool2d(this.bn1.forward(this.conv1.forward(x)).relu_(), 3, { stride: 2, padding: 1 }));
    const out = runLayers(stem, this.layers.flatMap((l) => l.layers));
    if (out !== stem) stem.dispose();
    return out;
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

export const resnet18 = (c: ModelConfig): ResNet => new ResNet(c, BasicBlock, [2, 2, 2, 2]);
export const resnet34 = (c: ModelConfig): ResNet => new ResNet(c, BasicBlock, [3, 4, 6, 3]);
export const resnet50 = (c: ModelConfig): ResNet => new ResNet(c, Bottleneck, [3, 4, 6, 3]);
