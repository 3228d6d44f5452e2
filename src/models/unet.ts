// U-Net: Convolutional Networks for Biomedical Image Segmentation, https://arxiv.org/abs/1505.04597
import { ReLU } from '../nn/activation.js';
import { Sequential } from '../nn/container.js';
import { Conv2d, ConvTranspose2d } from '../nn/conv.js';
import * as F from '../nn/functional.js';
import { Module } from '../nn/module.js';
import { BatchNorm2d } from '../nn/norm.js';
import { MaxPool2d } from '../nn/pooling.js';
import type { OnnxGraph, OnnxValue } from '../onnx/graph.js';
import { cat } from '../tensor/creation.js';
import { tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { graphGflops } from './flops.js';
import { checkPositiveInt, type ModelConfig, type SegmentationModel } from './model.js';

/** (3×3 conv without bias, BN, ReLU) twice, padded so the size stays (`double_conv.0..5`). */
export class DoubleConv extends Module {
  readonly doubleConv: Sequential;

  constructor(inC: number, outC: number) {
    super();
    this.doubleConv = this.registerModule('double_conv', new Sequential(
      new Conv2d(inC, outC, 3, { padding: 1, bias: false }), new BatchNorm2d(outC), new ReLU({ inplace: true }),
      new Conv2d(outC, outC, 3, { padding: 1, bias: false }), new BatchNorm2d(outC), new ReLU({ inplace: true }),
    ));
  }

  forward(x: Tensor): Tensor {
    return tidy(() => this.doubleConv.forward(x));
  }

  protected override onnx(g: OnnxGraph, x: OnnxValue): OnnxValue {
    return this.doubleConv.toOnnx(g, x);
  }
}

/** 2×2 max pooling, then a DoubleConv (`maxpool_conv.0..1`). */
export class Down extends Module {
  readonly maxpoolConv: Sequential;

  constructor(inC: number, outC: number) {
    super();
    this.maxpoolConv = this.registerModule('maxpool_conv', new Sequential(new MaxPool2d(2), new DoubleConv(inC, outC)));
  }

  forward(x: Tensor): Tensor {
    return tidy(() => this.maxpoolConv.forward(x));
  }

  protected override onnx(g: OnnxGraph, x: OnnxValue): OnnxValue {
    return this.maxpoolConv.toOnnx(g, x);
  }
}

/** [top, bottom, left, right] that pad `small` ([h, w]) to `big`, the odd pixel at the end. */
const centrePad = (small: readonly number[], big: readonly number[]): [number, number, number, number] => {
  const [dy, dx] = [big[0]! - small[0]!, big[1]! - small[1]!];
  return [dy >> 1, dy - (dy >> 1), dx >> 1, dx - (dx >> 1)];
};

/**
 * 2×2 transposed conv halving the channels (`up`), padded to the skip map's size when pooling
 * dropped an odd row or column, concatenated after the skip map, then a DoubleConv (`conv`).
 */
export class Up extends Module<[Tensor, Tensor]> {
  readonly up: ConvTranspose2d;
  readonly conv: DoubleConv;

  constructor(inC: number, outC: number) {
    super();
    this.up = this.registerModule('up', new ConvTranspose2d(inC, inC >> 1, 2, { stride: 2 }));
    this.conv = this.registerModule('conv', new DoubleConv(inC, outC));
  }

  forward(x: Tensor, skip: Tensor): Tensor {
    return tidy(() => {
      let y = this.up.forward(x);
      const [t, b, l, r] = centrePad(y.shape.slice(2), skip.shape.slice(2));
      if (t + b + l + r > 0) y = F.pad(y, [l, r, t, b]);
      return this.conv.forward(cat([skip, y], 1));
    });
  }

  protected override onnx(g: OnnxGraph, x: OnnxValue, skip: OnnxValue): OnnxValue {
    let y = this.up.toOnnx(g, x);
    const [t, b, l, r] = centrePad(y.shape.slice(2) as number[], skip.shape.slice(2) as number[]);
    if (t + b + l + r > 0) {
      const shape = [y.shape[0]!, y.shape[1]!, ...(skip.shape.slice(2) as number[])];
      y = g.op('Pad', [y, g.ints([0, 0, t, l, 0, 0, b, r])], { mode: 'constant' }, { shape });
    }
    return this.conv.toOnnx(g, g.op('Concat', [skip, y], { axis: 1 }));
  }
}

/** The final 1×1 conv to the classes (milesial's OutConv: `outc.conv`). */
export class OutConv extends Module {
  readonly conv: Conv2d;

  constructor(inC: number, numClasses: number) {
    super();
    this.conv = this.registerModule('conv', new Conv2d(inC, numClasses, 1));
  }

  forward(x: Tensor): Tensor {
    return this.conv.forward(x);
  }

  protected override onnx(g: OnnxGraph, x: OnnxValue): OnnxValue {
    return this.conv.toOnnx(g, x);
  }
}

/** Defaults fit for 128×128 images on a small CPU: 4 poolings (a 16-pixel bottleneck grid at 128), 16 channels at full resolution. */
export const UNET_DEFAULTS = { depth: 4, width: 16 } as const;

/**
 * The classic U-Net with batch norm and padded convolutions (the layout and names of the widely used
 * milesial/Pytorch-UNet): `inc`, `down1..D`, `up1..D`, `outc`. Channels double at each of the
 * `depth` poolings from `width`; any number of input channels; the output [N, numClasses, H, W]
 * has the input's size for any H and W (odd sizes are padded back on the way up).
 */
export class UNet extends Module implements SegmentationModel {
  readonly #config: ModelConfig;
  readonly inc: DoubleConv;
  readonly downs: Down[] = [];
  readonly ups: Up[] = [];
  readonly outc: OutConv;
  /** Deep supervision (config.auxHeads): class logits from the bottleneck and the first up stage. */
  readonly aux: Conv2d[] = [];

  constructor(config: ModelConfig) {
    super();
    const depth = checkPositiveInt('depth', config.depth ?? UNET_DEFAULTS.depth);
    const width = checkPositiveInt('width', config.width ?? UNET_DEFAULTS.width);
    this.#config = { ...config, depth, width };
    this.inc = this.registerModule('inc', new DoubleConv(config.inChannels, width));
    for (let i = 1; i <= depth; i++) this.downs.push(this.registerModule(`down${i}`, new Down(width << (i - 1), width << i)));
    for (let i = 1; i <= depth; i++) this.ups.push(this.registerModule(`up${i}`, new Up(width << (depth - i + 1), width << (depth - i))));
    this.outc = this.registerModule('outc', new OutConv(width, config.numClasses));
    if (config.auxHeads) {
      for (const [i, level] of [depth, depth - 1].entries()) this.aux.push(this.registerModule(`aux${i}`, new Conv2d(width << level, config.numClasses, 1)));
    }
  }

  /** `outc`, with the deep-supervision heads when there are any (a view: they stay this model's modules). */
  headModule(): Module<never[], unknown> {
    return this.aux.length === 0 ? this.outc : new Sequential(this.outc, ...this.aux) as unknown as Module<never[], unknown>;
  }

  /** The encoder: the input block and the downsampling path. */
  backboneModules(): [string, Module<never[], unknown>][] {
    return [['inc', this.inc], ...this.downs.map((d, i): [string, Module<never[], unknown>] => [`down${i + 1}`, d])];
  }

  get config(): ModelConfig {
    return { ...this.#config };
  }

  forward(x: Tensor): Tensor {
    return tidy(() => this.forwardAux(x).out);
  }

  /**
   * The logits, and with aux heads also coarse logits of the bottleneck (stride 2^depth) and of the
   * first up stage: a direct gradient to the deep levels, which must learn what an object is
   * (a 3 from an 8) while the skips alone already place its outline.
   */
  forwardAux(x: Tensor): { out: Tensor; aux: Tensor[] } {
    return tidy(() => {
      const skips = [this.inc.forward(x)];
      for (const d of this.downs) skips.push(d.forward(skips[skips.length - 1]!));
      let y = skips.pop()!;
      const aux: Tensor[] = [];
      if (this.aux[0] && this.training) aux.push(this.aux[0].forward(y));
      for (const [i, u] of this.ups.entries()) {
        y = u.forward(y, skips.pop()!);
        if (i === 0 && this.aux[1] && this.training) aux.push(this.aux[1].forward(y));
      }
      return { out: this.outc.forward(y), aux };
    });
  }

  protected override onnx(g: OnnxGraph, x: OnnxValue): OnnxValue {
    const skips = [this.inc.toOnnx(g, x)];
    for (const d of this.downs) skips.push(d.toOnnx(g, skips[skips.length - 1]!));
    let y = skips.pop()!;
    for (const u of this.ups) y = u.toOnnx(g, y, skips.pop()!);
    return this.outc.toOnnx(g, y);
  }

  gflops(imgsz: number | [number, number] = this.#config.imgSize ?? 128): number {
    return graphGflops(this, this.#config.inChannels, imgsz);
  }
}

export const unet = (c: ModelConfig): UNet => new UNet(c);
