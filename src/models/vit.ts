// An Image is Worth 16x16 Words: Transformers for Image Recognition at Scale, https://arxiv.org/abs/2010.11929
import { GELU } from '../nn/activation.js';
import { Sequential } from '../nn/container.js';
import { Conv2d } from '../nn/conv.js';
import * as F from '../nn/functional.js';
import { normal_, truncNormal_, zeros_ } from '../nn/init.js';
import { Linear } from '../nn/linear.js';
import { Module } from '../nn/module.js';
import { LayerNorm } from '../nn/norm.js';
import { cat, randn, zeros } from '../tensor/creation.js';
import type { OnnxGraph, OnnxValue } from '../onnx/graph.js';
import * as E from '../onnx/emit.js';
import { tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { runLayers } from './layers.js';
import { Classifier, ResettableLinear, type ForwardHeadOptions, type ModelConfig } from './model.js';

export interface VitOptions {
  dim: number;
  depth: number;
  heads: number;
  mlpRatio: number;
}

/** Image to patch tokens: a patch×patch convolution with stride patch, flattened to [N, P, D]. */
export class PatchEmbed extends Module {
  readonly proj: Conv2d;
  readonly gridSize: number;

  constructor(readonly imgSize: number, readonly patchSize: number, inChannels: number, dim: number) {
    super();
    if (imgSize % patchSize !== 0) throw new RangeError(`ViT: imgSize ${imgSize} is not a multiple of patchSize ${patchSize}`);
    this.gridSize = imgSize / patchSize;
    this.proj = this.registerModule('proj', new Conv2d(inChannels, dim, patchSize, { stride: patchSize }));
  }

  get numPatches(): number {
    return this.gridSize * this.gridSize;
  }

  forward(x: Tensor): Tensor {
    const [, , h, w] = x.shape;
    if (h !== this.imgSize || w !== this.imgSize) {
      throw new RangeError(`ViT: input is ${h}×${w} but the model was built for ${this.imgSize}×${this.imgSize} (imgSize); position embeddings are fixed`);
    }
    return tidy(() => this.proj.forward(x).flatten(2).transpose(1, 2));
  }

  protected override onnx(g: OnnxGraph, x: OnnxValue): OnnxValue {
    const [, , h, w] = x.shape;
    if (h !== this.imgSize || w !== this.imgSize) {
      throw new RangeError(`input is ${h}×${w} but the model was built for ${this.imgSize}×${this.imgSize} (imgSize); position embeddings are fixed`);
    }
    return E.transpose(g, E.flatten(g, this.proj.toOnnx(g, x), 2), 1, 2);
  }
}

/** timm's Attention: packed qkv projection, softmax(q·kᵀ/√d)·v per head, output projection. */
export class Attention extends Module {
  readonly qkv: Linear;
  readonly proj: Linear;
  readonly headDim: number;

  constructor(dim: number, readonly heads: number) {
    super();
    if (dim % heads !== 0) throw new RangeError(`ViT: dim ${dim} is not divisible by ${heads} heads`);
    this.headDim = dim / heads;
    this.qkv = this.registerModule('qkv', new Linear(dim, dim * 3));
    this.proj = this.registerModule('proj', new Linear(dim, dim));
  }

  forward(x: Tensor): Tensor {
    return tidy(() => {
      return this.proj.forward(F.packedSelfAttention(this.qkv.forward(x), this.heads));
    });
  }

  protected override onnx(g: OnnxGraph, x: OnnxValue): OnnxValue {
    const [B, N, C] = x.shape as [number | string, number, number];
    const qkv = g.op('Transpose', [g.reshape(this.qkv.toOnnx(g, x), [B, N, 3, this.heads, this.headDim])], { perm: [2, 0, 3, 1, 4] });
    const [q, k, v] = [0, 1, 2].map((i) => E.select(g, qkv, 0, i)) as [OnnxValue, OnnxValue, OnnxValue];
    const out = E.transpose(g, E.attention(g, q, k, v), 1, 2);
    return this.proj.toOnnx(g, g.reshape(out, [B, N, C]));
  }
}

/** timm's Mlp: fc1, GELU, fc2. */
export class Mlp extends Module {
  readonly fc1: Linear;
  readonly act: GELU;
  readonly fc2: Linear;

  constructor(dim: number, hidden: number) {
    super();
    this.fc1 = this.registerModule('fc1', new Linear(dim, hidden));
    this.act = this.registerModule('act', new GELU());
    this.fc2 = this.registerModule('fc2', new Linear(hidden, dim));
  }

  forward(x: Tensor): Tensor {
    return tidy(() => this.fc2.forward(this.act.forward(this.fc1.forward(x))));
  }

  protected override onnx(g: OnnxGraph, x: OnnxValue): OnnxValue {
    return this.fc2.toOnnx(g, this.act.toOnnx(g, this.fc1.toOnnx(g, x)));
  }
}

/** Pre-norm transformer block: x + attn(norm1(x)), then x + mlp(norm2(x)); LayerNorm eps 1e-6. */
export class Block extends Module {
  readonly norm1: LayerNorm;
  readonly attn: Attention;
  readonly norm2: LayerNorm;
  readonly mlp: Mlp;

  constructor(dim: number, heads: number, mlpRatio: number) {
    super();
    this.norm1 = this.registerModule('norm1', new LayerNorm(dim, { eps: 1e-6 }));
    this.attn = this.registerModule('attn', new Attention(dim, heads));
    this.norm2 = this.registerModule('norm2', new LayerNorm(dim, { eps: 1e-6 }));
    this.mlp = this.registerModule('mlp', new Mlp(dim, Math.floor(dim * mlpRatio)));
  }

  forward(x: Tensor): Tensor {
    return tidy(() => {
      const y = x.add(this.attn.forward(this.norm1.forward(x)));
      return y.add(this.mlp.forward(this.norm2.forward(y)));
    });
  }

  protected override onnx(g: OnnxGraph, x: OnnxValue): OnnxValue {
    const y = g.op('Add', [x, this.attn.toOnnx(g, this.norm1.toOnnx(g, x))]);
    return g.op('Add', [y, this.mlp.toOnnx(g, this.norm2.toOnnx(g, y))]);
  }
}

/**
 * timm's VisionTransformer with a class token, learned position embeddings and class-token
 * pooling; names and init as timm (`cls_token`, `pos_embed`, `patch_embed.proj`, `blocks.N.…`,
 * `norm`, `head`; trunc_normal(0.02) on Linear weights and pos_embed, N(0, 1e-6) cls_token).
 */
export class VisionTransformer extends Classifier {
  readonly clsToken: Tensor;
  readonly posEmbed: Tensor;
  readonly patchEmbed: PatchEmbed;
  readonly blocks: Sequential;
  readonly norm: LayerNorm;
  readonly head: ResettableLinear;
  protected readonly classifierLayer: ResettableLinear;
  readonly dropRate: number;

  constructor(config: ModelConfig, o: VitOptions) {
    super(config);
    this.dropRate = config.dropRate ?? 0;
    // Built in timm's order (patch_embed, cls_token, pos_embed, blocks, norm, head), so the
    // generator is drawn in the same order; parameters on this module come first in the state dict.
    this.patchEmbed = new PatchEmbed(config.imgSize ?? 224, config.patchSize ?? 16, config.inChannels, o.dim);
    this.clsToken = this.registerParameter('cls_token', zeros([1, 1, o.dim]));
    this.posEmbed = this.registerParameter('pos_embed', tidy(() => randn([1, this.patchEmbed.numPatches + 1, o.dim]).mul(0.02)));
    this.registerModule('patch_embed', this.patchEmbed);
    this.blocks = this.registerModule('blocks', new Sequential(...Array.from({ length: o.depth }, () => new Block(o.dim, o.heads, o.mlpRatio))));
    this.norm = this.registerModule('norm', new LayerNorm(o.dim, { eps: 1e-6 }));
    this.head = this.classifierLayer = this.registerModule('head', new ResettableLinear(o.dim, config.numClasses));
    truncNormal_(this.posEmbed, 0, 0.02);
    normal_(this.clsToken, 0, 1e-6);
    for (const [, m] of this.namedModules()) {
      if (!(m instanceof Linear)) continue;
      truncNormal_(m.weight, 0, 0.02);
      if (m.bias !== null) zeros_(m.bias);
    }
  }

  forwardFeatures(x: Tensor): Tensor {
    const embedded = tidy(() => {
      const tokens = this.patchEmbed.forward(x);
      return cat([this.clsToken.expand(tokens.size(0), -1, -1), tokens], 1).add(this.posEmbed);
    });
    const out = runLayers(embedded, [...this.blocks.layers, this.norm]);
    embedded.dispose();
    return out;
  }

  forwardHead(features: Tensor, opts: ForwardHeadOptions = {}): Tensor {
    return tidy(() => {
      let x = features.select(1, 0);
      if (this.dropRate > 0) x = F.dropout(x, this.dropRate, this.training);
      return opts.preLogits ? x : this.head.forward(x);
    });
  }

  onnxFeatures(g: OnnxGraph, x: OnnxValue): OnnxValue {
    const tokens = this.patchEmbed.toOnnx(g, x);
    const [B, , D] = tokens.shape as [number | string, number, number];
    // The class token repeated over the batch: [1, 1, D] expanded to [B, 1, D], B read at run time when dynamic.
    const target = typeof B === 'number'
      ? g.ints([B, 1, D])
      : g.op('Concat', [g.op('Slice', [g.op('Shape', [tokens]), g.ints([0]), g.ints([1])]), g.ints([1, D])], { axis: 0 });
    const cls = g.op('Expand', [g.param(this.clsToken), target], {}, { shape: [B, 1, D] });
    const embedded = g.op('Add', [g.op('Concat', [cls, tokens], { axis: 1 }), g.param(this.posEmbed)]);
    return this.norm.toOnnx(g, this.blocks.toOnnx(g, embedded));
  }

  onnxHead(g: OnnxGraph, features: OnnxValue): OnnxValue {
    return this.head.toOnnx(g, E.select(g, features, 1, 0));
  }
}

/** timm's vit_tiny_patch16_224 (dim 192, depth 12, 3 heads); imgSize and patchSize configurable. */
export const vitTiny = (c: ModelConfig): VisionTransformer => new VisionTransformer(c, { dim: 192, depth: 12, heads: 3, mlpRatio: 4 });
