// YOLOv8 (Ultralytics, 2023; no paper): https://github.com/ultralytics/ultralytics, ultralytics/cfg/models/v8/yolov8.yaml
import { ModuleList } from '../nn/container.js';
import { Conv2d } from '../nn/conv.js';
import { Identity } from '../nn/linear.js';
import { Module } from '../nn/module.js';
import type { OnnxGraph, OnnxValue } from '../onnx/graph.js';
import { tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { buildBackbone, isDetectBackbone, DETECT_BACKBONES } from './backbones.js';
import { graphGflops } from './flops.js';
import type { DetectOutput, DetectorModel, ModelConfig } from './model.js';
import { IntermediateLayers } from './pyramid.js';
import { C2f, Concat, Conv, SPPF, Upsample } from './yolo-blocks.js';
import { Detect, YOLO_STRIDES } from './yolo-head.js';

type Kind = 'Input' | 'Conv' | 'C2f' | 'SPPF' | 'Upsample' | 'Concat' | 'Detect';
/** A row of yolov8.yaml: [from (-1: the previous layer), repeats, module, args]. */
type Row = readonly [from: number | readonly number[], repeats: number, kind: Kind, args: readonly (number | boolean)[]];

/** yolov8.yaml's backbone (0–9) and PAN head (10–22); channel args are before the width multiple. */
const YOLOV8: readonly Row[] = [
  [-1, 1, 'Conv', [64, 3, 2]], // 0 P1/2
  [-1, 1, 'Conv', [128, 3, 2]], // 1 P2/4
  [-1, 3, 'C2f', [128, true]],
  [-1, 1, 'Conv', [256, 3, 2]], // 3 P3/8
  [-1, 6, 'C2f', [256, true]],
  [-1, 1, 'Conv', [512, 3, 2]], // 5 P4/16
  [-1, 6, 'C2f', [512, true]],
  [-1, 1, 'Conv', [1024, 3, 2]], // 7 P5/32
  [-1, 3, 'C2f', [1024, true]],
  [-1, 1, 'SPPF', [1024, 5]], // 9
  [-1, 1, 'Upsample', [2]],
  [[-1, 6], 1, 'Concat', [1]], // cat backbone P4
  [-1, 3, 'C2f', [512]], // 12
  [-1, 1, 'Upsample', [2]],
  [[-1, 4], 1, 'Concat', [1]], // cat backbone P3
  [-1, 3, 'C2f', [256]], // 15 (P3/8, small)
  [-1, 1, 'Conv', [256, 3, 2]],
  [[-1, 12], 1, 'Concat', [1]], // cat head P4
  [-1, 3, 'C2f', [512]], // 18 (P4/16, medium)
  [-1, 1, 'Conv', [512, 3, 2]],
  [[-1, 9], 1, 'Concat', [1]], // cat head P5
  [-1, 3, 'C2f', [1024]], // 21 (P5/32, large)
  [[15, 18, 21], 1, 'Detect', []], // Detect(P3, P4, P5)
];

/**
 * The same PAN neck and head over another backbone's P3, P4 and P5 maps (`Input` rows 0–2): SPPF
 * on P5 as yolov8.yaml's layer 9, then its rows 10–22 with the taps renumbered.
 */
const YOLOV8_PAN: readonly Row[] = [
  [-1, 1, 'Input', [0]], // 0 backbone P3/8
  [-1, 1, 'Input', [1]], // 1 backbone P4/16
  [-1, 1, 'Input', [2]], // 2 backbone P5/32
  [-1, 1, 'SPPF', [1024, 5]], // 3
  [-1, 1, 'Upsample', [2]],
  [[-1, 1], 1, 'Concat', [1]], // cat backbone P4
  [-1, 3, 'C2f', [512]], // 6
  [-1, 1, 'Upsample', [2]],
  [[-1, 0], 1, 'Concat', [1]], // cat backbone P3
  [-1, 3, 'C2f', [256]], // 9 (P3/8, small)
  [-1, 1, 'Conv', [256, 3, 2]],
  [[-1, 6], 1, 'Concat', [1]], // cat head P4
  [-1, 3, 'C2f', [512]], // 12 (P4/16, medium)
  [-1, 1, 'Conv', [512, 3, 2]],
  [[-1, 3], 1, 'Concat', [1]], // cat head P5
  [-1, 3, 'C2f', [1024]], // 15 (P5/32, large)
  [[9, 12, 15], 1, 'Detect', []], // Detect(P3, P4, P5)
];

export type YoloScale = 'n' | 's';

/** yolov8.yaml's scales: depth multiple, width multiple, max channels. */
export const YOLOV8_SCALES: Record<YoloScale, readonly [number, number, number]> = {
  n: [0.33, 0.25, 1024],
  s: [0.33, 0.5, 1024],
};

/** One layer of the graph: its inputs (absolute indices, -1 the image) and how it maps them. */
interface Layer {
  from: number[];
  module: Module<never, unknown>;
  run(inputs: Tensor[]): Tensor;
  /** An `Input` row: which of the backbone's maps (P3, P4, P5) it stands for. */
  tap?: number;
  /** Output [h, w] for an input [h, w] (for the FLOP count). */
  outSize(h: number, w: number): [number, number];
}

const same = (h: number, w: number): [number, number] => [h, w];

/** Ultralytics' parse_model for the rows above: repeats × depth, channels × width rounded up to 8; `taps` are the channels of the `Input` rows' maps. */
function parseModel(rows: readonly Row[], scale: YoloScale, inChannels: number, numClasses: number, taps: readonly number[] = []): { layers: Layer[]; detect: Detect; features: number[] } {
  const [depth, width, maxChannels] = YOLOV8_SCALES[scale];
  const channels: number[] = [];
  const chOf = (j: number): number => (j < 0 ? inChannels : channels[j]!);
  const layers: Layer[] = [];
  for (const [i, [f, repeats, kind, args]] of rows.entries()) {
    const from = (typeof f === 'number' ? [f] : [...f]).map((j) => (j === -1 ? i - 1 : j));
    // Python's round(); no repeat count here lands on .5, where it would differ from Math.round.
    const n = repeats > 1 ? Math.max(Math.round(repeats * depth), 1) : repeats;
    const c1 = chOf(from[0]!);
    const c2 = kind === 'Conv' || kind === 'C2f' || kind === 'SPPF' ? Math.ceil((Math.min(args[0] as number, maxChannels) * width) / 8) * 8 : c1;
    if (kind === 'Detect') {
      const detect = new Detect(numClasses, from.map(chOf), YOLO_STRIDES);
      return { layers, detect, features: from };
    }
    let layer: Layer;
    if (kind === 'Input') {
      const tap = args[0] as number;
      layer = { from, module: new Identity(), run: ([x]) => x!, outSize: same, tap };
      channels.push(taps[tap]!);
      layers.push(layer);
      continue;
    } else if (kind === 'Conv') {
      const [k, s] = args.slice(1) as [number, number];
      const m = new Conv(c1, c2, k, s);
      layer = { from, module: m, run: ([x]) => m.forward(x!), outSize: (h, w) => [convOut(h, k, s), convOut(w, k, s)] };
    } else if (kind === 'C2f') {
      const m = new C2f(c1, c2, n, args[1] === true);
      layer = { from, module: m, run: ([x]) => m.forward(x!), outSize: same };
    } else if (kind === 'SPPF') {
      const m = new SPPF(c1, c2, args[1] as number);
      layer = { from, module: m, run: ([x]) => m.forward(x!), outSize: same };
    } else if (kind === 'Upsample') {
      const m = new Upsample(args[0] as number);
      layer = { from, module: m, run: ([x]) => m.forward(x!), outSize: (h, w) => [h * m.scaleFactor, w * m.scaleFactor] };
    } else {
      const m = new Concat(args[0] as number);
      layer = { from, module: m, run: (xs) => m.forward(xs), outSize: same };
    }
    channels.push(kind === 'Concat' ? from.reduce((s, j) => s + chOf(j), 0) : c2);
    layers.push(layer);
  }
  throw new Error('the YOLOv8 table has no Detect row');
}

/** Output side of a k×k convolution with "same" padding (k >> 1) and stride s. */
const convOut = (side: number, k: number, s: number): number => Math.floor((side + 2 * (k >> 1) - k) / s) + 1;

/**
 * Multiply-adds of every convolution under `m` when each writes an [h, w] map: true of every
 * YOLOv8 layer, whose only strided convolution is a layer of its own (a Conv), so all of a
 * layer's convolutions write its output size.
 */
function convMacs(m: Module<never, unknown>, h: number, w: number): number {
  let macs = 0;
  for (const [, c] of m.namedModules()) if (c instanceof Conv2d) macs += c.weight.numel() * h * w;
  return macs;
}

/**
 * YOLOv8 (Ultralytics' DetectionModel for yolov8.yaml): layers `model.0` … `model.21` and the
 * Detect head `model.22`, keys as Ultralytics' (`model.2.m.0.cv1.conv.weight`,
 * `model.22.cv2.0.0.conv.weight`, `model.22.dfl.conv.weight`), so their checkpoints load by name.
 * Conv weights keep PyTorch's default init; BatchNorm uses eps 1e-3, momentum 0.03; Detect's
 * biases follow Ultralytics' bias_init. Inputs must have sides that are multiples of 32.
 *
 * @example
 * const model = createDetector('yolov8n', { numClasses: 3 });
 * const { maps, decoded } = tidy(() => model.eval().forward(randn([1, 3, 640, 640])));   // decoded [1, 7, 8400]
 */
export class YOLOv8 extends Module<[Tensor], DetectOutput> implements DetectorModel {
  readonly #config: ModelConfig;
  /** A zoo CNN in place of the CSP backbone (model.0–9), or null. */
  readonly backbone: IntermediateLayers | null;
  /** Which of the backbone's pyramid levels are P3, P4 and P5. */
  readonly #levels: number[];
  readonly model: ModuleList;
  readonly detect: Detect;
  readonly #layers: Layer[];
  /** Indices of the layers Detect reads (P3, P4, P5). */
  readonly #features: number[];
  /** After layer i runs, the outputs nothing later reads. */
  readonly #freeAfter: number[][];

  /** With `backbone`, its stride 8, 16 and 32 maps replace the CSP backbone (see YOLOV8_PAN). */
  constructor(config: ModelConfig, readonly scale: YoloScale, backbone: IntermediateLayers | null = null) {
    super();
    this.#config = { ...config };
    this.backbone = backbone && this.registerModule('backbone', backbone);
    this.#levels = backbone ? YOLO_STRIDES.map((s) => backbone.levels.findIndex((l) => l.stride === s)) : [];
    if (this.#levels.includes(-1)) throw new RangeError(`${config.name}: the backbone's maps have strides ${backbone!.levels.map((l) => l.stride).join(', ')}; the neck needs ${YOLO_STRIDES.join(', ')}`);
    const taps = this.#levels.map((i) => backbone!.levels[i]!.channels);
    const { layers, detect, features } = parseModel(backbone ? YOLOV8_PAN : YOLOV8, scale, config.inChannels, config.numClasses, taps);
    this.#layers = layers;
    this.#features = features;
    this.detect = detect;
    this.model = this.registerModule('model', new ModuleList([...layers.map((l) => l.module), detect]));
    const lastUse = layers.map((_, j) => Math.max(j, ...layers.flatMap((l, i) => (l.from.includes(j) ? [i] : []))));
    this.#freeAfter = layers.map((_, i) => lastUse.flatMap((last, j) => (last === i && !features.includes(j) ? [j] : [])));
  }

  get config(): ModelConfig {
    return { ...this.#config };
  }

  get strides(): readonly number[] {
    return this.detect.strides;
  }

  get regMax(): number {
    return this.detect.regMax;
  }

  #checkInput(x: Tensor): void {
    const [, c, h, w] = x.shape;
    const stride = Math.max(...this.strides);
    if (x.ndim !== 4 || c !== this.#config.inChannels) {
      throw new RangeError(`${this.#config.name}: expected images [N, ${this.#config.inChannels}, H, W], got [${x.shape.join(', ')}]`);
    }
    if (h! % stride !== 0 || w! % stride !== 0) throw new RangeError(`${this.#config.name}: input is ${h}×${w}; both sides must be multiples of ${stride} (the largest stride)`);
  }

  /**
   * The neck's P3, P4 and P5 maps. Every other activation is disposed as soon as the last layer
   * that reads it has run, so inference holds only the skip connections still needed.
   */
  forwardFeatures(x: Tensor): Tensor[] {
    this.#checkInput(x);
    const outs: (Tensor | null)[] = this.#layers.map(() => null);
    const taps = this.#backboneMaps(x);
    try {
      this.#layers.forEach((layer, i) => {
        const inputs = layer.from.map((j) => (j < 0 ? x : outs[j]!));
        outs[i] = layer.tap === undefined ? tidy(() => layer.run(inputs)) : taps[layer.tap]!;
        for (const j of this.#freeAfter[i]!) {
          outs[j]!.dispose();
          outs[j] = null;
        }
      });
    } catch (e) {
      for (const t of new Set([...outs, ...taps])) t?.dispose();
      throw e;
    }
    return this.#features.map((j) => outs[j]!);
  }

  /** The backbone's P3, P4 and P5 (its finer maps freed at once); none without a backbone. */
  #backboneMaps(x: Tensor): Tensor[] {
    if (!this.backbone) return [];
    const maps = this.backbone.forward(x);
    maps.forEach((m, i) => {
      if (!this.#levels.includes(i)) m.dispose();
    });
    return this.#levels.map((i) => maps[i]!);
  }

  headModule(): Detect {
    return this.detect;
  }

  /** The zoo CNN, or yolov8.yaml's backbone rows (model.0–9, up to SPPF: what Ultralytics' freeze of 10 keeps). */
  backboneModules(): [string, Module<never[], unknown>][] {
    if (this.backbone) return [['backbone', this.backbone]];
    const neck = this.#layers.findIndex((l) => l.module instanceof Upsample);
    return this.#layers.slice(0, neck).map((l, i) => [`model.${i}`, l.module as Module<never[], unknown>]);
  }

  forwardHead(features: Tensor[]): DetectOutput {
    return this.detect.forward(features);
  }

  forward(x: Tensor): DetectOutput {
    const features = this.forwardFeatures(x);
    try {
      return this.forwardHead(features);
    } finally {
      for (const f of features) f.dispose();
    }
  }

  /**
   * 2 × the multiply-adds of every convolution in one eval forward of one image (DFL's included):
   * what Ultralytics' get_flops reports through thop for a fused model (batch norms folded away).
   * Counted from the layers' weights, without running anything. Default size: config.imgSize.
   */
  gflops(imgsz: number | [number, number] = this.#config.imgSize ?? 640): number {
    // A zoo backbone's layers do not all write their output size: count its exported graph instead.
    if (this.backbone) return graphGflops(this, this.#config.inChannels, imgsz);
    const [h, w] = typeof imgsz === 'number' ? [imgsz, imgsz] : imgsz;
    const sizes: [number, number][] = [];
    let macs = 0;
    this.#layers.forEach((layer, i) => {
      const [ih, iw] = layer.from[0]! < 0 ? [h, w] : sizes[layer.from[0]!]!;
      sizes[i] = layer.outSize(ih, iw);
      macs += convMacs(layer.module, ...sizes[i]!);
    });
    let anchors = 0;
    this.#features.forEach((j, level) => {
      const [fh, fw] = sizes[j]!;
      macs += convMacs(this.detect.cv2.items[level]!, fh, fw) + convMacs(this.detect.cv3.items[level]!, fh, fw);
      anchors += fh * fw;
    });
    macs += convMacs(this.detect.dfl, 4, anchors);
    return (2 * macs) / 1e9;
  }

  /** The eval forward as ONNX: images [N, C, H, W] → decoded [N, 4 + nc, A] (boxes cx, cy, w, h in input pixels, class probabilities). */
  protected override onnx(g: OnnxGraph, x: OnnxValue): OnnxValue {
    const [, c, h, w] = x.shape;
    const stride = Math.max(...this.strides);
    if (x.shape.length !== 4 || c !== this.#config.inChannels) throw new RangeError(`expected images [N, ${this.#config.inChannels}, H, W], got [${x.shape.join(', ')}]`);
    if (typeof h !== 'number' || typeof w !== 'number' || h % stride !== 0 || w % stride !== 0) throw new RangeError(`input is ${h}×${w}; both sides must be multiples of ${stride} (the largest stride)`);
    const maps = this.backbone?.onnxMaps(g, x) ?? [];
    const outs: OnnxValue[] = [];
    for (const layer of this.#layers) {
      outs.push(layer.tap === undefined ? layer.module.toOnnx(g, ...layer.from.map((j) => (j < 0 ? x : outs[j]!))) : maps[this.#levels[layer.tap]!]!);
    }
    return this.detect.toOnnx(g, ...this.#features.map((j) => outs[j]!));
  }
}

export const yolov8n = (c: ModelConfig): YOLOv8 => new YOLOv8(c, 'n');
export const yolov8s = (c: ModelConfig): YOLOv8 => new YOLOv8(c, 's');

/**
 * YOLOv8n's PAN neck and head over a zoo CNN (`config.backbone`, default resnet18): keys
 * `backbone.…` under torchvision's names (as its segmentation models), so the CNN's classifier
 * weights start it (`layer1.0.conv1.weight` → `backbone.layer1.0.conv1.weight`), then `model.3` …
 * `model.16` (SPPF, the neck, Detect).
 *
 * @example
 * const model = createDetector('yolov8', { numClasses: 3, backbone: 'mobilenet_v3_large' });
 */
export function yolov8(c: ModelConfig): YOLOv8 {
  const name = c.backbone ?? 'resnet18';
  if (!isDetectBackbone(name)) throw new RangeError(`${c.name} cannot sit on '${name}'; backbones: ${DETECT_BACKBONES.join(', ')}`);
  return new YOLOv8(c, 'n', new IntermediateLayers(buildBackbone(name, c.inChannels, false)));
}
