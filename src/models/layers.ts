/**
 * Building blocks shared by the torchvision-style families: torchvision.ops' Conv2dNormActivation
 * and SqueezeExcitation (same child names, so state-dict keys match), channel rounding, the common
 * weight init, and a runner that frees activations as soon as the next layer has used them.
 */
import { Hardsigmoid, ReLU, Sigmoid } from '../nn/activation.js';
import { Sequential } from '../nn/container.js';
import { Conv2d } from '../nn/conv.js';
import { kaimingNormal_, ones_, zeros_ } from '../nn/init.js';
import { Linear } from '../nn/linear.js';
import { Module } from '../nn/module.js';
import { BatchNorm2d, type BatchNormOptions } from '../nn/norm.js';
import { AdaptiveAvgPool2d } from '../nn/pooling.js';
import type { OnnxGraph, OnnxValue } from '../onnx/graph.js';
import { tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';

type Layer = Module<[Tensor], Tensor>;

/** torchvision's _make_divisible: rounds channels to a multiple of `divisor`, losing at most 10%. */
export function makeDivisible(v: number, divisor = 8, minValue = divisor): number {
  const rounded = Math.max(minValue, Math.floor((v + divisor / 2) / divisor) * divisor);
  return rounded < 0.9 * v ? rounded + divisor : rounded;
}

export interface ConvNormActOptions {
  kernel?: number;
  stride?: number;
  groups?: number;
  /** Dilation of the convolution (its padding grows with it, as torchvision's). */
  dilation?: number;
  /** Makes the activation (in place, as torchvision's); null for none (activation_layer=None). */
  act?: (() => Layer) | null;
  bn?: BatchNormOptions;
}

/** torchvision.ops.Conv2dNormActivation: Sequential(conv "0" without bias, bn "1", activation "2"). */
export function convNormAct(inC: number, outC: number, o: ConvNormActOptions = {}): Sequential {
  const k = o.kernel ?? 3;
  const d = o.dilation ?? 1;
  const layers: Layer[] = [
    new Conv2d(inC, outC, k, { stride: o.stride ?? 1, padding: ((k - 1) >> 1) * d, dilation: d, groups: o.groups ?? 1, bias: false }),
    new BatchNorm2d(outC, o.bn ?? {}),
  ];
  const act = o.act === undefined ? () => new ReLU({ inplace: true }) : o.act;
  if (act !== null) layers.push(act());
  return new Sequential(...layers);
}

/**
 * torchvision.ops.SqueezeExcitation (https://arxiv.org/abs/1709.01507): x · σ(fc2(δ(fc1(avgpool(x))))),
 * with 1×1 convolutions fc1 and fc2.
 */
export class SqueezeExcitation extends Module {
  readonly avgpool: AdaptiveAvgPool2d;
  readonly fc1: Conv2d;
  readonly fc2: Conv2d;
  readonly activation: Layer;
  readonly scaleActivation: Layer;

  constructor(channels: number, squeeze: number, act: () => Layer = () => new ReLU(), scale: 'sigmoid' | 'hardsigmoid' = 'sigmoid') {
    super();
    this.avgpool = this.registerModule('avgpool', new AdaptiveAvgPool2d(1));
    this.fc1 = this.registerModule('fc1', new Conv2d(channels, squeeze, 1));
    this.fc2 = this.registerModule('fc2', new Conv2d(squeeze, channels, 1));
    this.activation = this.registerModule('activation', act());
    this.scaleActivation = this.registerModule('scale_activation', scale === 'sigmoid' ? new Sigmoid() : new Hardsigmoid());
  }

  forward(x: Tensor): Tensor {
    return tidy(() => {
      const s = this.avgpool.forward(x);
      return x.mul(this.scaleActivation.forward(this.fc2.forward(this.activation.forward(this.fc1.forward(s)))));
    });
  }

  protected override onnx(g: OnnxGraph, x: OnnxValue): OnnxValue {
    const s = this.avgpool.toOnnx(g, x);
    return g.op('Mul', [x, this.scaleActivation.toOnnx(g, this.fc2.toOnnx(g, this.activation.toOnnx(g, this.fc1.toOnnx(g, s))))]);
  }
}

/**
 * torchvision's init loop over modules(), in registration order: convolutions
 * kaiming_normal_(mode='fan_out', gain √2) with zero bias, norms weight 1 bias 0, and every Linear
 * through `linear` (left at PyTorch's default when absent). Construction plus this loop draws
 * from the generator in torchvision's order, so a seeded model starts from torchvision's values.
 */
export function initTorchvision(model: Module, linear?: (l: Linear) => void): void {
  for (const [, m] of model.namedModules()) {
    if (m instanceof Conv2d) {
      kaimingNormal_(m.weight, { mode: 'fan_out', nonlinearity: 'relu' });
      if (m.bias !== null) zeros_(m.bias);
    } else if (m instanceof BatchNorm2d) {
      if (m.weight !== null) ones_(m.weight);
      if (m.bias !== null) zeros_(m.bias);
    } else if (m instanceof Linear && linear) {
      linear(m);
    }
  }
}

/**
 * Runs `layers` in order, each in its own scope, and disposes each intermediate result once the
 * next layer has consumed it (never `x` itself): in inference only one or two activations are
 * alive at a time instead of all of them. In training autograd keeps what backward needs.
 */
export function runLayers(x: Tensor, layers: Iterable<Layer>): Tensor {
  let y = x;
  for (const m of layers) {
    const prev = y;
    y = tidy(() => m.forward(prev));
    if (prev !== x && prev !== y) prev.dispose();
  }
  return y;
}
