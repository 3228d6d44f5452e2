/**
 * The model zoo's table: every model by name, with its task and what it takes to build it.
 * A plain typed record (no registration side effects): adding a model is one entry here.
 */
import { efficientnetB0 } from './efficientnet.js';
import { mobilenetV2, mobilenetV3Small } from './mobilenet.js';
import { checkPositiveInt, type ClassifierModel, type DetectorModel, type ModelConfig, type ModelOptions, type SegmentationModel } from './model.js';
import { resnet18, resnet34, resnet50 } from './resnet.js';
import { SEGMENTERS, segmenterConfig, type SegmenterEntry, type SegmenterName, type SegmenterOptions } from './segment-registry.js';
import { smallcnn } from './smallcnn.js';
import { vitTiny } from './vit.js';
import { DETECT_BACKBONES, isDetectBackbone } from './backbones.js';
import { yolov8, yolov8n, yolov8s } from './yolo.js';
import type { Module } from '../nn/module.js';
import { getRngState, noGrad, setRngState } from '../tensor/runtime.js';
import type { Tensor } from '../tensor/tensor.js';
import type { TaskName } from '../task.js';

export type { SegmenterEntry, SegmenterName, SegmenterOptions } from './segment-registry.js';
export type { ClassifierModel, DetectOutput, DetectorModel, ForwardHeadOptions, ModelConfig, ModelOptions, SegmentationModel } from './model.js';

export type ClassifierName =
  | 'smallcnn' | 'resnet18' | 'resnet34' | 'resnet50' | 'mobilenet_v2' | 'mobilenet_v3_small' | 'efficientnet_b0' | 'vit_tiny';
export type DetectorName = 'yolov8n' | 'yolov8s' | 'yolov8';
export type ModelName = ClassifierName | DetectorName | SegmenterName;

/** What every model of every task offers: a module that rebuilds from its JSON config. */
export interface TaskModel extends Module<[Tensor], unknown> {
  readonly config: ModelConfig;
}

export interface ModelEntry<M extends TaskModel = ClassifierModel, T extends TaskName = TaskName> {
  /** The task whose outputs the model gives (`kestrel models --task`). */
  task: T;
  /** Builds the model from a complete config (createModel fills in the defaults). */
  create(config: ModelConfig): M;
  description: string;
  /** The input side the model is designed for (its config.imgSize unless given). */
  defaultImgsz: number;
  paper: string;
  /** Whether patchSize applies (ViTs). */
  patched?: boolean;
  /** Heads over any zoo CNN (segmentation, detection): the backbone when none is named. */
  defaultBackbone?: string;
  /** Segmentation: takes U-Net's depth and width. */
  sized?: boolean;
  /**
   * Trains channels-last by default: true for the CNNs, whose convolutions oneDNN runs faster on
   * NHWC data (measured by `npm run bench`); the ViT has one convolution and stays NCHW.
   */
  channelsLast: boolean;
}

export type ClassifierEntry = ModelEntry<ClassifierModel, 'classify'>;
export type DetectorEntry = ModelEntry<DetectorModel, 'detect'>;

const CLASSIFIERS: Record<ClassifierName, ClassifierEntry> = {
  smallcnn: {
    task: 'classify',
    create: smallcnn,
    description: 'Small VGG-style CNN with batch norm for 28×28 digits (~198k parameters)',
    defaultImgsz: 28,
    channelsLast: true,
    paper: 'https://arxiv.org/abs/1409.1556',
  },
  resnet18: {
    task: 'classify',
    create: resnet18,
    description: 'ResNet-18, torchvision layout (11.7M parameters)',
    defaultImgsz: 224,
    channelsLast: true,
    paper: 'https://arxiv.org/abs/1512.03385',
  },
  resnet34: {
    task: 'classify',
    create: resnet34,
    description: 'ResNet-34, torchvision layout (21.8M parameters)',
    defaultImgsz: 224,
    channelsLast: true,
    paper: 'https://arxiv.org/abs/1512.03385',
  },
  resnet50: {
    task: 'classify',
    create: resnet50,
    description: 'ResNet-50 with bottleneck blocks, torchvision layout (25.6M parameters)',
    defaultImgsz: 224,
    channelsLast: true,
    paper: 'https://arxiv.org/abs/1512.03385',
  },
  mobilenet_v2: {
    task: 'classify',
    create: mobilenetV2,
    description: 'MobileNetV2, torchvision layout (3.5M parameters)',
    defaultImgsz: 224,
    channelsLast: true,
    paper: 'https://arxiv.org/abs/1801.04381',
  },
  mobilenet_v3_small: {
    task: 'classify',
    create: mobilenetV3Small,
    description: 'MobileNetV3-Small, torchvision layout (2.5M parameters)',
    defaultImgsz: 224,
    channelsLast: true,
    paper: 'https://arxiv.org/abs/1905.02244',
  },
  efficientnet_b0: {
    task: 'classify',
    create: efficientnetB0,
    description: 'EfficientNet-B0 with stochastic depth, torchvision layout (5.3M parameters)',
    defaultImgsz: 224,
    channelsLast: true,
    paper: 'https://arxiv.org/abs/1905.11946',
  },
  vit_tiny: {
    task: 'classify',
    create: vitTiny,
    description: "ViT-Tiny (timm's vit_tiny_patch16_224: dim 192, depth 12, 3 heads; 5.7M parameters)",
    defaultImgsz: 224,
    channelsLast: false,
    paper: 'https://arxiv.org/abs/2010.11929',
    patched: true,
  },
};

const DETECTORS: Record<DetectorName, DetectorEntry> = {
  yolov8n: {
    task: 'detect',
    create: yolov8n,
    description: "YOLOv8n, Ultralytics' yolov8.yaml at scale n (depth 0.33, width 0.25)",
    defaultImgsz: 640,
    channelsLast: true,
    paper: 'https://github.com/ultralytics/ultralytics',
  },
  yolov8s: {
    task: 'detect',
    create: yolov8s,
    description: "YOLOv8s, Ultralytics' yolov8.yaml at scale s (depth 0.33, width 0.50)",
    defaultImgsz: 640,
    channelsLast: true,
    paper: 'https://github.com/ultralytics/ultralytics',
  },
  yolov8: {
    task: 'detect',
    create: yolov8,
    description: `YOLOv8n's PAN neck (SPPF on P5) and head on the stride 8, 16 and 32 maps of any zoo CNN (backbone: ${DETECT_BACKBONES.join(', ')}), torchvision's names, so its classifier weights start the backbone`,
    defaultImgsz: 640,
    channelsLast: true,
    paper: 'https://github.com/ultralytics/ultralytics',
    defaultBackbone: 'resnet18',
  },
};

export const MODELS: Record<ClassifierName, ClassifierEntry> & Record<DetectorName, DetectorEntry> & Record<SegmenterName, SegmenterEntry> = {
  ...CLASSIFIERS, ...DETECTORS, ...SEGMENTERS,
};

/** A table row without its constructor: what `kestrel models` lists. */
export interface ModelInfo {
  name: ModelName;
  task: TaskName;
  description: string;
  defaultImgsz: number;
  paper: string;
  /**
   * Detectors: parameters at 80 classes (Ultralytics' convention for its tables); segmentation
   * models at 21 classes (torchvision's).
   */
  params?: number;
  /** GFLOPs of one image at defaultImgsz (640 for detectors, at 80 classes; segmentation models at 21); heads over a zoo CNN on their default backbone. */
  gflops?: number;
}

const modelStats = new Map<ModelName, { params: number; gflops: number }>();

/**
 * A detector's or segmentation model's size as its reference tabulates it (Ultralytics: 80
 * classes, 640 px; torchvision: 21 classes), measured on the built model once per process.
 * Building draws initial weights, so the generator's state is put back: listing models must not
 * change what a seeded run draws next.
 */
function statsOf(name: DetectorName | SegmenterName): { params: number; gflops: number } {
  let stats = modelStats.get(name);
  if (stats === undefined) {
    const rng = getRngState();
    const imgsz = MODELS[name].defaultImgsz;
    const model = noGrad(() => (isDetectorName(name) ? createDetector(name, { numClasses: 80, imgSize: imgsz }) : createSegmenter(name, { numClasses: 21, imgSize: imgsz })));
    try {
      stats = { params: model.numParameters(), gflops: model.gflops(imgsz) };
    } finally {
      model.dispose();
      setRngState(rng);
      rng.dispose();
    }
    modelStats.set(name, stats);
  }
  return stats;
}

/** The models of one task (all tasks when none is named), in table order; detectors and segmentation models with their size. */
export function listModels(task?: TaskName): ModelInfo[] {
  return modelNames(task).map((name) => {
    const { description, defaultImgsz, paper } = MODELS[name];
    const info: ModelInfo = { name, task: MODELS[name].task, description, defaultImgsz, paper };
    return isDetectorName(name) || isSegmenterName(name) ? { ...info, ...statsOf(name) } : info;
  });
}

/** Every model name in table order, or those of one task. */
export function modelNames(task: 'classify'): ClassifierName[];
export function modelNames(task: 'detect'): DetectorName[];
export function modelNames(task: 'segment'): SegmenterName[];
export function modelNames(task?: TaskName): ModelName[];
export function modelNames(task?: TaskName): ModelName[] {
  const names = Object.keys(MODELS) as ModelName[];
  return task === undefined ? names : names.filter((n) => MODELS[n].task === task);
}

export function isModelName(name: string): name is ModelName {
  return Object.hasOwn(MODELS, name);
}

export function isDetectorName(name: string): name is DetectorName {
  return Object.hasOwn(DETECTORS, name);
}

export function isSegmenterName(name: string): name is SegmenterName {
  return Object.hasOwn(SEGMENTERS, name);
}

const namesOf = (task: TaskName): string => modelNames(task).join(', ');

/** The largest of 16, 8, 4, 2, 1 that divides `imgSize` and leaves a grid of at least 7×7 (16 at 224, 4 at 28 or 32). */
export function defaultPatchSize(imgSize: number): number {
  return [16, 8, 4, 2].find((p) => imgSize % p === 0 && imgSize / p >= 7) ?? 1;
}

/** The config fields every model has, checked, with the task's default class count. */
function baseConfig(name: ModelName, opts: { numClasses?: number; inChannels?: number; imgSize?: number }, defaultClasses: number): ModelConfig {
  return {
    name,
    numClasses: checkPositiveInt('numClasses', opts.numClasses ?? defaultClasses),
    inChannels: checkPositiveInt('inChannels', opts.inChannels ?? 3),
    imgSize: checkPositiveInt('imgSize', opts.imgSize ?? MODELS[name].defaultImgsz),
  };
}

/**
 * Builds a classification model by name. Defaults: 1000 classes, 3 input channels, the model's
 * design size, for ViTs defaultPatchSize(imgSize) (16 at 224), the reference dropout.
 * `model.config` holds the resolved arguments, so `createModel(config.name, config)` rebuilds the
 * same architecture (for checkpoints). Unknown names and invalid options throw, naming the fix.
 *
 * @example
 * const model = createModel('resnet18', { numClasses: 10 });
 * const logits = tidy(() => model.forward(randn([2, 3, 224, 224])));   // [2, 10]
 * const vit = createModel('vit_tiny', { numClasses: 10, imgSize: 28, patchSize: 4, inChannels: 1 });
 * const again = createModel(vit.config.name, vit.config);              // same architecture
 */
export function createModel(name: string, opts: ModelOptions = {}): ClassifierModel {
  if (!isModelName(name)) throw new Error(`unknown model '${name}'; known models: ${modelNames().join(', ')}`);
  if (MODELS[name].task !== 'classify') {
    const builder = isDetectorName(name) ? 'createDetector()' : 'createSegmenter()';
    throw new RangeError(`${name} is a ${MODELS[name].task} model; createModel() builds classify models (${namesOf('classify')}); use ${builder}`);
  }
  const entry = MODELS[name as ClassifierName];
  const config = baseConfig(name, opts, 1000);
  if (entry.patched) {
    config.patchSize = checkPositiveInt('patchSize', opts.patchSize ?? defaultPatchSize(config.imgSize!));
    if (config.imgSize! % config.patchSize !== 0) throw new RangeError(`${name}: imgSize ${config.imgSize} is not a multiple of patchSize ${config.patchSize}`);
  } else if (opts.patchSize !== undefined) {
    throw new RangeError(`${name} has no patches; patchSize applies to ${modelNames().filter((n) => MODELS[n].patched).join(', ')}`);
  }
  if (opts.dropRate !== undefined) {
    if (!(opts.dropRate >= 0 && opts.dropRate < 1)) throw new RangeError(`dropRate must be in [0, 1), got ${opts.dropRate}`);
    config.dropRate = opts.dropRate;
  }
  return entry.create(config);
}

/** What createDetector() accepts; every field has a default. */
export interface DetectorOptions {
  /** Object classes (default 80, COCO's). */
  numClasses?: number;
  /** Input image channels (default 3). */
  inChannels?: number;
  /** Nominal training side in pixels (default 640), a multiple of the largest stride (32). */
  imgSize?: number;
  /** yolov8: the zoo CNN under the neck (default resnet18). */
  backbone?: string;
}

/**
 * Builds a detection model by name. Defaults: 80 classes, 3 input channels, 640 px.
 * `model.config` holds the resolved arguments, so buildModel(config) rebuilds the same
 * architecture (for checkpoints). Unknown names and invalid options throw, naming the fix.
 *
 * @example
 * const model = createDetector('yolov8n', { numClasses: 3 });
 * model.numParameters();                                               // 3,011,433
 * const { maps } = tidy(() => model.forward(randn([2, 3, 640, 640])));  // train mode: [2, 67, 80, 80], [2, 67, 40, 40], [2, 67, 20, 20]
 */
export function createDetector(name: string, opts: DetectorOptions = {}): DetectorModel {
  if (!isModelName(name)) throw new Error(`unknown model '${name}'; known models: ${modelNames().join(', ')}`);
  if (!isDetectorName(name)) throw new RangeError(`${name} is a ${MODELS[name].task} model; createDetector() builds detect models (${namesOf('detect')})`);
  const entry = MODELS[name];
  const refused = ['patchSize', 'dropRate', 'depth', 'width', ...(entry.defaultBackbone ? [] : ['backbone'])].filter((k) => (opts as Record<string, unknown>)[k] !== undefined);
  if (refused.length > 0) throw new RangeError(`${name} takes no ${refused.join(' or ')}${refused.includes('backbone') ? ` (yolov8 puts its neck on a zoo CNN: ${DETECT_BACKBONES.join(', ')})` : ''}`);
  const config = baseConfig(name, opts, 80);
  if (config.imgSize! % 32 !== 0) throw new RangeError(`${name}: imgSize ${config.imgSize} is not a multiple of 32 (the largest stride)`);
  if (entry.defaultBackbone !== undefined) {
    const backbone = opts.backbone ?? entry.defaultBackbone;
    if (!isDetectBackbone(backbone)) throw new RangeError(`${name} cannot sit on '${backbone}'; backbones: ${DETECT_BACKBONES.join(', ')}`);
    config.backbone = backbone;
  }
  return entry.create(config);
}

/**
 * Builds a segmentation model by name. Defaults: 21 classes (torchvision's), 3 input channels,
 * the model's design size; `backbone` for deeplabv3 and lraspp, `depth` and `width` for unet.
 * The output is [N, numClasses, H, W] at the input's size. `model.config` holds the resolved
 * arguments, so buildModel(config) rebuilds the same architecture.
 *
 * @example
 * const model = createSegmenter('unet', { numClasses: 3, inChannels: 1 });
 * const logits = tidy(() => model.forward(randn([2, 1, 128, 128])));       // [2, 3, 128, 128]
 * const head = createSegmenter('deeplabv3', { numClasses: 5, backbone: 'mobilenet_v2' });
 */
export function createSegmenter(name: string, opts: SegmenterOptions = {}): SegmentationModel {
  if (!isModelName(name)) throw new Error(`unknown model '${name}'; known models: ${modelNames().join(', ')}`);
  if (!isSegmenterName(name)) throw new RangeError(`${name} is a ${MODELS[name].task} model; createSegmenter() builds segment models (${namesOf('segment')})`);
  const config = segmenterConfig({ ...baseConfig(name, opts, 21), name }, opts);
  return SEGMENTERS[name].create(config);
}

/**
 * Rebuilds any model of any task from its saved config (what checkpoints hold), checking the
 * config's numbers as createModel, createDetector and createSegmenter do.
 */
export function buildModel(config: ModelConfig): TaskModel {
  if (isDetectorName(config.name)) return createDetector(config.name, config);
  if (isSegmenterName(config.name)) return createSegmenter(config.name, config);
  return createModel(config.name, config);
}
