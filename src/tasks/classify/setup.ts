/**
 * Everything a classification run needs before it touches the disk: data, model choice, input
 * size, normalisation, transforms and loaders. Any problem here is a one-line error and leaves no
 * run folder behind.
 */
import { DataLoader } from '../../data/loader.js';
import { resolveClassifyData, type ClassifyData } from '../../data/sources.js';
import { buildTransforms } from '../../data/transforms.js';
import type { Preprocess } from '../../engine/checkpoint.js';
import { MODELS, type ModelName } from '../../models/registry.js';
import { checkDevice, type Device } from '../../tensor/device.js';
import type { TrainArgs } from './config.js';
import { channelStats } from './stats.js';

export interface Setup {
  data: ClassifyData;
  modelName: ModelName;
  preprocess: Preprocess;
  augment: 'none' | 'light' | 'standard' | 'strong';
  device: Device;
  trainLoader: DataLoader;
  valLoader: DataLoader;
}

const isSmall = (data: ClassifyData): boolean => data.nativeSize !== null && data.nativeSize[0] <= 32;

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
  // smallcnn for 28-px sets, resnet18 otherwise.
  const modelName = (args.model ?? (isSmall(data) ? 'smallcnn' : 'resnet18')) as ModelName;
  const spec = MODELS[modelName];
  if (!spec) throw new Error(`unknown model '${modelName}' (known: ${Object.keys(MODELS).join(', ')})`);
  const imgsz = args.imgsz ?? data.nativeSize?.[0] ?? spec.defaultImgsz;
  const channels = data.inChannels;
  const { mean, std } = channelStats(data, channels);
  const augment = args.augment === 'auto' ? (isSmall(data) ? 'light' : 'standard') : args.augment;
  const tf = { imgsz, channels, augment, mean, std, nativeSize: data.nativeSize, ...(args.hflip === undefined ? {} : { hflip: args.hflip }) };
  const preprocess: Preprocess = { imgsz, channels, mean, std, transforms: buildTransforms('eval', tf) };
  const trainLoader = new DataLoader(data.splits.train, { batchSize: args.batch, shuffle: true, dropLast: true, transforms: buildTransforms('train', tf), seed: args.seed, ...loaderOpts(args) });
  if (trainLoader.length === 0) throw new Error(`the training split has fewer images (${data.splits.train.labels.length}) than one batch (${args.batch}); lower --batch`);
  const valLoader = new DataLoader(data.splits.val, { batchSize: Math.max(args.batch, 256), transforms: preprocess.transforms, seed: args.seed, ...loaderOpts(args) });
  return { data, modelName, preprocess, augment, device, trainLoader, valLoader };
}
