/**
 * Everything a classification run needs before it touches the disk: data, model choice, input
 * size, normalisation, transforms and loaders. Any problem here is a one-line error and leaves no
 * run folder behind.
 */
import { DataLoader } from '../../data/loader.js';
import { fitBatch } from '../../engine/batch-size.js';
import type { AugmentLevel } from '../../data/presets.js';
import { resolveClassifyData, type ClassifyData } from '../../data/sources.js';
import { buildTransforms } from '../../data/transforms.js';
import type { Preprocess } from '../../engine/checkpoint.js';
import { pretrainedInfo } from '../../engine/pretrained.js';
import { MODELS, type ModelName } from '../../models/registry.js';
import { checkDevice, type Device } from '../../tensor/device.js';
import type { TrainArgs } from './config.js';
import { channelStats } from './stats.js';

/**
 * The input settings of a run: each the user's value, or a default picked from the data. Small
 * images (every image one size, at most SMALL_SIDE px) train at their own size with smallcnn and
 * light augmentation; anything else gets resnet18 at its 224 px with standard augmentation.
 */
export interface Choices {
  model: ModelName;
  imgsz: number;
  channels: 1 | 3;
  augment: AugmentLevel;
  /** What the defaults were picked from, e.g. 'small images (20×20)'. */
  basis: string;
}

export interface Setup {
  data: ClassifyData;
  modelName: ModelName;
  preprocess: Preprocess;
  augment: AugmentLevel;
  /** The model, size, channels and augmentation in use, and what the defaults came from. */
  choices: Choices;
  device: Device;
  trainLoader: DataLoader;
  valLoader: DataLoader;
  /** The batch the run trains with (fitBatch may lower --batch for a small set), and why. */
  batch: number;
  notes: string[];
}

/**
 * Largest side (px) of a small-image set: digits, glyphs, CIFAR-like thumbnails. Upscaling those
 * to a photo model's 224 px costs ~60× the compute and, with photo augmentation, accuracy.
 */
export const SMALL_SIDE = 32;

/** The side of a small-image set (its images' larger side), or null when it is not one. */
export const smallSide = (data: Pick<ClassifyData, 'nativeSize'>): number | null => {
  const side = data.nativeSize === null ? 0 : Math.max(...data.nativeSize);
  return side > 0 && side <= SMALL_SIDE ? side : null;
};

/**
 * Picks the model, input size, channels and augmentation: the user's where given, else from the
 * data (see Choices).
 *
 * @example
 * chooseDefaults({ augment: 'auto' }, { nativeSize: [20, 20], inChannels: 1 });
 * // { model: 'smallcnn', imgsz: 20, channels: 1, augment: 'light', basis: 'small images (20×20)' }
 */
export function chooseDefaults(args: Pick<TrainArgs, 'model' | 'imgsz' | 'augment'>, data: Pick<ClassifyData, 'nativeSize' | 'inChannels'>): Choices {
  const side = smallSide(data);
  const model = (args.model ?? (side === null ? 'resnet18' : 'smallcnn')) as ModelName;
  const spec = MODELS[model];
  if (!spec) throw new Error(`unknown model '${model}' (known: ${Object.keys(MODELS).join(', ')})`);
  const augment = args.augment === 'auto' ? (side === null ? 'standard' : 'light') : args.augment;
  const size = data.nativeSize && `${data.nativeSize[1]}×${data.nativeSize[0]}`;
  const basis = size === null ? 'images of varied sizes' : side === null ? `${size} images` : `small images (${size})`;
  return { model, imgsz: args.imgsz ?? side ?? spec.defaultImgsz, channels: data.inChannels, augment, basis };
}

/**
 * One line naming the settings a run uses and where the defaults came from, for the trainer's log.
 *
 * @example
 * describeChoices(setup.choices); // 'small images (20×20): smallcnn · imgsz 20 · 1 channel · augment light'
 */
export const describeChoices = (c: Choices): string =>
  `${c.basis}: ${c.model} · imgsz ${c.imgsz} · ${c.channels} channel${c.channels === 1 ? '' : 's'} · augment ${c.augment}`;

/** The loader's options the user may set: threads (default: the loader's own count) and the pixel limit. */
export const loaderOpts = (args: TrainArgs): { workers?: number; maxPixels?: number } => ({
  ...(args.workers === undefined ? {} : { workers: args.workers }), ...(args.maxPixels === undefined ? {} : { maxPixels: args.maxPixels }),
});

export async function prepare(args: TrainArgs): Promise<Setup> {
  if (args.data === undefined) throw new Error('no data: give --data (a data set name, a folder or a CSV)');
  const device = checkDevice(args.device);
  const data = await resolveClassifyData(args.data, {
    seed: args.seed, strict: args.strict, ...(args.valFraction === undefined ? {} : { valFraction: args.valFraction }), ...(args.maxPixels === undefined ? {} : { maxPixels: args.maxPixels }),
  });
  // Pretrained weights expect the normalisation they were trained with, and name their model.
  const pre = args.pretrained === undefined ? null : pretrainedInfo(args.pretrained);
  const choices = chooseDefaults({ ...args, model: args.model ?? pre?.model }, pre === null ? data : { ...data, inChannels: pre.channels === 1 ? 1 : 3 });
  const { imgsz, channels, augment } = choices;
  const { mean, std } = pre ?? channelStats(data, channels);
  const tf = { imgsz, channels, augment, mean, std, nativeSize: data.nativeSize, ...(args.hflip === undefined ? {} : { hflip: args.hflip }) };
  const preprocess: Preprocess = { imgsz, channels, mean, std, transforms: buildTransforms('eval', tf) };
  // A time budget plans its own epochs: judge the step count by the epochs asked for otherwise.
  const fit = fitBatch(data.splits.train.labels.length, args.batch, 64, args.time === undefined ? args.epochs : Infinity);
  const trainLoader = new DataLoader(data.splits.train, { batchSize: fit.batch, shuffle: true, dropLast: true, transforms: buildTransforms('train', tf), seed: args.seed, ...loaderOpts(args) });
  const valLoader = new DataLoader(data.splits.val, { batchSize: Math.max(fit.batch, 256), transforms: preprocess.transforms, seed: args.seed, ...loaderOpts(args) });
  return { data, modelName: choices.model, preprocess, augment, choices, device, trainLoader, valLoader, notes: fit.notes, batch: fit.batch };
}
