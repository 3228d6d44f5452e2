/**
 * The contract every model of the zoo keeps (timm's): features, then a head, with the same three
 * methods everywhere, so tasks and backbones can treat models alike.
 *
 *   forwardFeatures(x)  the UNPOOLED features: CNNs give the last feature map [N, C, h, w], the
 *                       ViT its normalised tokens [N, 1 + patches, D] (class token first).
 *   forwardHead(f)      pooling (global average / class token), dropout and the classifier:
 *                       logits [N, numClasses]. With { preLogits: true } it stops before the final
 *                       Linear and returns [N, numFeatures] (timm's pre_logits), e.g. embeddings.
 *   forward(x)          forwardHead(forwardFeatures(x)).
 *
 * `numFeatures` is the input width of the final Linear, which resetClassifier() replaces.
 *
 * Detectors keep DetectorModel instead (forwardFeatures gives one map per level, forwardHead the
 * head's maps and, in eval mode, its decoded boxes and scores).
 */
import type { OnnxGraph, OnnxValue } from '../onnx/graph.js';
import { Linear } from '../nn/linear.js';
import { Module } from '../nn/module.js';
import { defaultLayerInit } from '../nn/init.js';
import { empty } from '../tensor/creation.js';
import { noGrad } from '../tensor/runtime.js';
import type { Tensor } from '../tensor/tensor.js';

/** What createModel() accepts; every field has a per-model default. */
export interface ModelOptions {
  /** Output classes (default 1000). */
  numClasses?: number;
  /** Input image channels (default 3). */
  inChannels?: number;
  /** Input side in pixels: fixes the ViT's position table; for CNNs the nominal training size. */
  imgSize?: number;
  /** ViT patch side (default 16); other models reject it. */
  patchSize?: number;
  /** Dropout before the classifier (torchvision's or timm's default for the model when absent). */
  dropRate?: number;
}

/** A model's construction arguments, JSON-serialisable: createModel(config.name, config) rebuilds it. */
export interface ModelConfig {
  name: string;
  numClasses: number;
  inChannels: number;
  imgSize?: number;
  patchSize?: number;
  dropRate?: number;
  /** Segmentation heads over a zoo backbone: the backbone's (classify) model name. */
  backbone?: string;
  /** U-Net: poolings between the input and the bottleneck. */
  depth?: number;
  /** U-Net: channels of the first level (doubled at each pooling). */
  width?: number;
  /** U-Net: 1×1 class heads on the coarsest decoder levels for deep supervision (training only, never exported). */
  auxHeads?: boolean;
}

export interface ForwardHeadOptions {
  /** Stop before the final Linear: returns [N, numFeatures]. */
  preLogits?: boolean;
}

export interface ClassifierModel extends Module {
  /** A copy of the construction arguments (numClasses follows resetClassifier). */
  readonly config: ModelConfig;
  /** Input width of the final Linear (the pre-logits width). */
  readonly numFeatures: number;
  /** Unpooled features: [N, C, h, w] for CNNs, [N, tokens, D] for the ViT. */
  forwardFeatures(x: Tensor): Tensor;
  /** Pooling, dropout and classifier: logits [N, numClasses] (or pre-logits [N, numFeatures]). */
  forwardHead(features: Tensor, opts?: ForwardHeadOptions): Tensor;
  /** forwardFeatures() as ONNX nodes (eval mode): images → unpooled features. */
  onnxFeatures(g: OnnxGraph, x: OnnxValue): OnnxValue;
  /** forwardHead() as ONNX nodes (eval mode): features → logits. */
  onnxHead(g: OnnxGraph, features: OnnxValue): OnnxValue;
  /** Replaces the final Linear by a fresh one with `numClasses` outputs (PyTorch's default Linear init). */
  resetClassifier(numClasses: number): void;
  /** The final Linear layer. */
  getClassifier(): Linear;
}

/** What a detector's forward() gives; the caller owns (and disposes) every tensor. */
export interface DetectOutput {
  /** The raw per-level maps, finest first: [N, 4·regMax + numClasses, h, w] at each stride. */
  maps: Tensor[];
  /**
   * Eval mode only (null in train mode): [N, 4 + numClasses, A], boxes (cx, cy, w, h) in input
   * pixels, then sigmoid class scores, one column per anchor.
   */
  decoded: Tensor | null;
}

/**
 * The contract of the zoo's detectors: a backbone and neck (forwardFeatures: one map per level,
 * finest first), then a head (forwardHead) whose maps the loss reads and whose decoded output NMS
 * reads. Its onnx() emits the eval output (decoded) alone.
 */
export interface DetectorModel extends Module<[Tensor], DetectOutput> {
  readonly config: ModelConfig;
  /** Input pixels per cell of each level's map, finest first (8, 16, 32). */
  readonly strides: readonly number[];
  /** Bins of each box side's distance distribution. */
  readonly regMax: number;
  /** The neck's outputs, one per stride. */
  forwardFeatures(x: Tensor): Tensor[];
  /** The head: maps (and in eval mode the decoded output) from forwardFeatures' outputs. */
  forwardHead(features: Tensor[]): DetectOutput;
  /** Billions of floating-point operations (2 × multiply-adds of the convolutions) of one eval forward of one image. */
  gflops(imgsz?: number | [number, number]): number;
  /** The head whose class branch depends on the classes (re-initialised by fine-tuning when they differ). */
  headModule(): Module<never[], unknown>;
  /** The backbone by name (what `--freeze backbone` keeps): a zoo CNN's `backbone`, or YOLOv8's own layers before the neck. */
  backboneModules(): [string, Module<never[], unknown>][];
}

/** A model's fine-tuning parts (see DetectorModel): the head, and the backbone by name. */
export interface FineTunable {
  headModule(): Module<never[], unknown>;
  backboneModules(): [string, Module<never[], unknown>][];
}

/**
 * The contract of the zoo's segmentation models: images [N, C, H, W] in, class logits
 * [N, numClasses, H, W] out, at the input's size (heads that work at a coarser stride upsample
 * bilinearly, as torchvision's do). Every one exports to ONNX through toOnnx().
 */
export interface SegmentationModel extends Module<[Tensor], Tensor>, FineTunable {
  readonly config: ModelConfig;
  /** Billions of floating-point operations (2 × multiply-adds of convolutions and matrix products) of one eval forward of one image. */
  gflops(imgsz?: number | [number, number]): number;
  /**
   * Training forward with deep supervision: the logits and coarse logits [N, C, h, w] from heads on
   * inner levels (coarsest first). Absent, or `aux` empty, when the model has no such heads.
   */
  forwardAux?(x: Tensor): { out: Tensor; aux: Tensor[] };
}

export function checkPositiveInt(what: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`${what} must be a positive integer, got ${v}`);
  return v;
}

/**
 * The final Linear of a classifier. Module has no way to swap a registered child, so a reset keeps
 * this module (and its registered weight and bias tensors) and replaces their data and shape in
 * place, like PyTorch's `p.data = …`; the state-dict keys stay `fc.weight`, `head.bias`, …
 */
export class ResettableLinear extends Linear {
  /** New output size, fresh values (PyTorch's default Linear init), gradients dropped. */
  reset(outFeatures: number): void {
    checkPositiveInt('numClasses', outFeatures);
    const w = empty([outFeatures, this.inFeatures], { dtype: this.weight.dtype, device: this.weight.device });
    const b = this.bias === null ? null : empty([outFeatures], { dtype: this.bias.dtype, device: this.bias.device });
    defaultLayerInit(w, b);
    noGrad(() => {
      for (const [p, v] of [[this.weight, w], [this.bias, b]] as const) {
        if (p === null || v === null) continue;
        p.grad = null;
        p.setData(v);
        v.dispose();
      }
    });
    // Linear declares outFeatures readonly for its users; this subclass is the one place that changes it.
    (this as { outFeatures: number }).outFeatures = outFeatures;
  }
}

/** Base of every zoo model: config bookkeeping, forward() and resetClassifier() over the final Linear. */
export abstract class Classifier extends Module implements ClassifierModel {
  readonly #config: ModelConfig;

  protected constructor(config: ModelConfig) {
    super();
    this.#config = { ...config };
  }

  /** The final Linear, which resetClassifier() resizes. */
  protected abstract readonly classifierLayer: ResettableLinear;

  abstract forwardFeatures(x: Tensor): Tensor;
  abstract forwardHead(features: Tensor, opts?: ForwardHeadOptions): Tensor;
  /** Every model mirrors forwardFeatures/forwardHead for export, so a new model cannot miss it. */
  abstract onnxFeatures(g: OnnxGraph, x: OnnxValue): OnnxValue;
  abstract onnxHead(g: OnnxGraph, features: OnnxValue): OnnxValue;

  get config(): ModelConfig {
    return { ...this.#config };
  }

  get numFeatures(): number {
    return this.classifierLayer.inFeatures;
  }

  getClassifier(): Linear {
    return this.classifierLayer;
  }

  forward(x: Tensor): Tensor {
    const features = this.forwardFeatures(x);
    const logits = this.forwardHead(features);
    if (features !== x) features.dispose();
    return logits;
  }

  protected override onnx(g: OnnxGraph, x: OnnxValue): OnnxValue {
    return this.onnxHead(g, this.onnxFeatures(g, x));
  }

  resetClassifier(numClasses: number): void {
    this.classifierLayer.reset(numClasses);
    this.#config.numClasses = numClasses;
  }
}
