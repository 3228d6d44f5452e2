/**
 * Feature pyramids over the zoo's CNNs: one map per stride stage (4, 8, 16, 32 px per cell), finest
 * first, the shared input of segmentation heads (and later of detection necks over any backbone).
 * Task-neutral: a level is a stride and a channel count, nothing more.
 *
 * Where a backbone is built with dilation (torchvision's DeepLab ResNets and MobileNetV3) its last
 * stages keep their resolution: the levels stay one per stage, and their strides stop growing
 * (output stride 8 gives 4, 8, 8, 8).
 */
import { Module } from '../nn/module.js';
import type { OnnxGraph, OnnxValue } from '../onnx/graph.js';
import { tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';

type Layer = Module<[Tensor], Tensor>;

/** One map of a pyramid. */
export interface PyramidLevel {
  /** Input pixels per cell of the map. */
  stride: number;
  channels: number;
}

/** A backbone that gives a feature pyramid. */
export interface PyramidBackbone {
  /** The maps forwardPyramid() gives, finest first (static: known before running anything). */
  readonly pyramidLevels: readonly PyramidLevel[];
  /** One map per level, finest first; the caller owns them. */
  forwardPyramid(x: Tensor): Tensor[];
  /** forwardPyramid() as ONNX nodes (eval mode). */
  onnxPyramid(g: OnnxGraph, x: OnnxValue): OnnxValue[];
  /**
   * The children the pyramid runs, under the names torchvision's IntermediateLayerGetter gives
   * them (`conv1`, `layer1`, … for ResNets; `0`, `1`, … of `features` for the others): what a
   * segmentation model registers as its `backbone`.
   */
  pyramidModules(): [string, Module<never, unknown>][];
}

export function isPyramidBackbone(m: object): m is PyramidBackbone & Module<never, unknown> {
  return typeof (m as Partial<PyramidBackbone>).forwardPyramid === 'function' && m instanceof Module;
}

/** A layer's contribution to the pyramid: its stride (1 or 2), output channels, and whether dilation replaced its stride. */
export interface LayerStride {
  stride: number;
  channels: number;
  dilated?: boolean;
}

/**
 * Where to tap a chain of layers: the last layer of each stage of equal (undilated) stride from
 * `minStride` on, with the stride the map really has.
 */
export function stageTaps(layers: readonly LayerStride[], minStride = 4): { taps: number[]; levels: PyramidLevel[] } {
  const taps: number[] = [];
  const levels: PyramidLevel[] = [];
  let nominal = 1;
  let actual = 1;
  const nominalAt = layers.map((l) => {
    nominal *= l.stride;
    return nominal;
  });
  layers.forEach((l, i) => {
    if (!l.dilated) actual *= l.stride;
    const last = i === layers.length - 1 || nominalAt[i + 1]! > nominalAt[i]!;
    if (last && nominalAt[i]! >= minStride) {
      taps.push(i);
      levels.push({ stride: actual, channels: l.channels });
    }
  });
  return { taps, levels };
}

/**
 * Runs `layers` in order up to the last tap and returns the outputs at `taps` (ascending indices),
 * freeing every other intermediate as soon as the next layer has read it (never `x`).
 */
export function runTaps(x: Tensor, layers: readonly Layer[], taps: readonly number[]): Tensor[] {
  const out: Tensor[] = [];
  let y = x;
  for (let i = 0; i <= taps[taps.length - 1]!; i++) {
    const prev = y;
    y = tidy(() => layers[i]!.forward(prev));
    if (prev !== x && prev !== y && !out.includes(prev)) prev.dispose();
    if (i === taps[out.length]) out.push(y);
  }
  return out;
}

/** runTaps() as ONNX nodes. */
export function onnxTaps(g: OnnxGraph, x: OnnxValue, layers: readonly Layer[], taps: readonly number[]): OnnxValue[] {
  const out: OnnxValue[] = [];
  let y = x;
  for (let i = 0; i <= taps[taps.length - 1]!; i++) {
    y = layers[i]!.toOnnx(g, y);
    if (i === taps[out.length]) out.push(y);
  }
  return out;
}

/** Which maps of a backbone a model reads, and how to compute them. */
export interface FeatureTaps {
  levels: readonly PyramidLevel[];
  forward(x: Tensor): Tensor[];
  onnx(g: OnnxGraph, x: OnnxValue): OnnxValue[];
}

/**
 * torchvision's IntermediateLayerGetter: a zoo classifier without its head, registering only the
 * modules its pyramid runs (so state-dict keys read `backbone.layer1.0.conv1.weight` or
 * `backbone.3.block.0.0.weight`, as in torchvision's segmentation models). The classifier's other
 * tensors (its head) are freed. The classifier is built whole first, head included, as torchvision
 * builds it, so a seeded build draws the same initial weights.
 */
export class IntermediateLayers extends Module<[Tensor], Tensor[]> {
  readonly #taps: FeatureTaps;
  /**
   * Each of this module's state-dict keys under the name the whole classifier gives it
   * (`layer1.0.conv1.weight` for itself, `features.3.block.0.0.weight` for `3.block.0.0.weight`):
   * what lets a classifier's weights start the backbone.
   */
  readonly classifierKeys: ReadonlyMap<string, string>;
  /** The zoo name of the classifier it was cut from. */
  readonly classifierName: string;

  /** `taps` replaces the pyramid where a model reads other maps (torchvision's LR-ASPP reads a stage's first block). */
  constructor(source: PyramidBackbone & Module<never, unknown>, taps?: FeatureTaps) {
    super();
    this.#taps = taps ?? { levels: source.pyramidLevels, forward: (x) => source.forwardPyramid(x), onnx: (g, x) => source.onnxPyramid(g, x) };
    for (const [name, m] of source.pyramidModules()) this.registerModule(name, m);
    this.classifierName = (source as { config?: { name: string } }).config?.name ?? source.constructor.name;
    const whole = new Map([...source.stateDict()].map(([k, t]) => [t, k]));
    this.classifierKeys = new Map([...this.stateDict()].map(([k, t]) => [k, whole.get(t)!]));
    const kept = new Set([...this.parameters(), ...this.buffers()]);
    for (const t of [...source.parameters(), ...source.buffers()]) if (!kept.has(t)) t.dispose();
  }

  /** The maps forward() gives. */
  get levels(): readonly PyramidLevel[] {
    return this.#taps.levels;
  }

  forward(x: Tensor): Tensor[] {
    return this.#taps.forward(x);
  }

  onnxMaps(g: OnnxGraph, x: OnnxValue): OnnxValue[] {
    return this.#taps.onnx(g, x);
  }
}
