/**
 * The model zoo's table: every model by name, with its task and what it takes to build it.
 * A plain typed record (no registration side effects): adding a model is one entry here.
 */
import { efficientnetB0 } from './efficientnet.js';
import { mobilenetV2, mobilenetV3Small } from './mobilenet.js';
import { checkPositiveInt, type ClassifierModel, type ModelConfig, type ModelOptions } from './model.js';
import { resnet18, resnet34, resnet50 } from './resnet.js';
import { smallcnn } from './smallcnn.js';
import { vitTiny } from './vit.js';
import type { Module } from '../nn/module.js';
import type { TaskName } from '../task.js';

export type { ClassifierModel, ForwardHeadOptions, ModelConfig, ModelOptions } from './model.js';

export type ModelName =
  | 'smallcnn' | 'resnet18' | 'resnet34' | 'resnet50' | 'mobilenet_v2' | 'mobilenet_v3_small' | 'efficientnet_b0' | 'vit_tiny';

/** What every model of every task offers: a module that rebuilds from its JSON config. */
export interface TaskModel extends Module {
  readonly config: ModelConfig;
}

export interface ModelEntry<M extends TaskModel = ClassifierModel> {
  /** The task whose outputs the model gives (`kestrel models --task`). */
  task: TaskName;
  /** Builds the model from a complete config (createModel fills in the defaults). */
  create(config: ModelConfig): M;
  description: string;
  /** The input side the model is designed for (its config.imgSize unless given). */
  defaultImgsz: number;
  paper: string;
  /** Whether patchSize applies (ViTs). */
  patched?: boolean;
  /**
   * Trains channels-last by default: true for the CNNs, whose convolutions oneDNN runs faster on
   * NHWC data (measured by `npm run bench`); the ViT has one convolution and stays NCHW.
   */
  channelsLast: boolean;
}

export const MODELS: Record<ModelName, ModelEntry> = {
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

/** A table row without its constructor: what `kestrel models` lists. */
export interface ModelInfo {
  name: ModelName;
  task: TaskName;
  description: string;
  defaultImgsz: number;
  paper: string;
}

/** The models of one task (all tasks when none is named), in table order. */
export function listModels(task?: TaskName): ModelInfo[] {
  return modelNames().filter((name) => task === undefined || MODELS[name].task === task).map((name) => {
    const { description, defaultImgsz, paper } = MODELS[name];
    return { name, task: MODELS[name].task, description, defaultImgsz, paper };
  });
}

export const modelNames = (): ModelName[] => Object.keys(MODELS) as ModelName[];

export function isModelName(name: string): name is ModelName {
  return Object.hasOwn(MODELS, name);
}

/** The largest of 16, 8, 4, 2, 1 that divides `imgSize` and leaves a grid of at least 7×7 (16 at 224, 4 at 28 or 32). */
export function defaultPatchSize(imgSize: number): number {
  return [16, 8, 4, 2].find((p) => imgSize % p === 0 && imgSize / p >= 7) ?? 1;
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
  const entry = MODELS[name];
  const config: ModelConfig = {
    name,
    numClasses: checkPositiveInt('numClasses', opts.numClasses ?? 1000),
    inChannels: checkPositiveInt('inChannels', opts.inChannels ?? 3),
    imgSize: checkPositiveInt('imgSize', opts.imgSize ?? entry.defaultImgsz),
  };
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

/**
 * Rebuilds any model of any task from its saved config (what checkpoints hold), checking the
 * config's numbers as createModel does.
 */
export function buildModel(config: ModelConfig): TaskModel {
  return createModel(config.name, config);
}
