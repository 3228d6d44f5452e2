/**
 * Everything a segmentation run needs before it touches the disk: the checked data (masks read
 * once), the preprocessing a checkpoint records, the class weights of the loss, and the loaders —
 * training through the seeded augmentation (masks moved nearest-neighbour with the pixels),
 * validation letterboxed with each sample's geometry. Any problem here is a one-line error and
 * leaves no run folder.
 */
import { DataLoader } from '../../data/loader.js';
import { resolveSegmentData, type SegmentData } from '../../data/segment.js';
import type { TransformSpec } from '../../data/transforms.js';
import { fitBatch } from '../../engine/batch-size.js';
import type { Preprocess } from '../../engine/checkpoint.js';
import { pretrainedInfo } from '../../engine/pretrained.js';
import { isModelName, listModels, MODELS } from '../../models/registry.js';
import { medianFrequencyWeights } from '../../nn/segment-loss.js';
import { checkDevice, type Device } from '../../tensor/device.js';
import type { SegmentTrainArgs } from './config.js';

/** Images per step unless given: on a CPU more, smaller steps train further in a time budget. */
export const DEFAULT_BATCH = 8;

/** Class weights never leave [1/10, 10]: median-frequency weights of a 94 % background would reach 1/150. */
export const CLASS_WEIGHT_RANGE = [0.1, 10] as const;

/** The input normalisation: 0–1 floats, or a pretrained backbone's mean and std. */
export interface Norm {
  mean: number[];
  std: number[];
}

const plain = (channels: 1 | 3): Norm => ({ mean: Array(channels).fill(0), std: Array(channels).fill(1) });

/** The eval pipeline: a letterbox to `imgsz` (grey padding, mask 255 there), then 0–1 floats (or `norm`). */
export function segmentEvalTransforms(imgsz: number, channels: 1 | 3, norm: Norm = plain(channels)): TransformSpec[] {
  return [{ op: 'letterbox', size: imgsz, fill: 114 }, { op: 'normalize', ...norm }];
}

/** The training pipeline: letterbox → random affine → HSV → flip → 0–1 floats (or `norm`). */
export function segmentTrainTransforms(a: SegmentTrainArgs, imgsz: number, channels: 1 | 3, norm: Norm = plain(channels)): TransformSpec[] {
  const out: TransformSpec[] = [{ op: 'letterbox', size: imgsz, fill: 114 }];
  if (a.degrees > 0 || a.translate > 0 || a.scale > 0) out.push({ op: 'randomAffine', degrees: a.degrees, translate: a.translate, scale: a.scale, shear: 0, fill: 114 });
  if (a.hsvH > 0 || a.hsvS > 0 || a.hsvV > 0) out.push({ op: 'hsv', h: a.hsvH, s: a.hsvS, v: a.hsvV });
  if (a.fliplr > 0) out.push({ op: 'hflip', p: a.fliplr });
  out.push({ op: 'normalize', ...norm });
  return out;
}

/** Median-frequency weights of the training pixels, clipped to CLASS_WEIGHT_RANGE; null for `none`. */
export function classWeightsOf(a: SegmentTrainArgs, trainPixels: readonly number[]): number[] | null {
  if (a.classWeights === 'none') return null;
  const [lo, hi] = CLASS_WEIGHT_RANGE;
  return medianFrequencyWeights(trainPixels).map((w) => (w === 0 ? 0 : Math.min(hi, Math.max(lo, w))));
}

export interface SegmentSetup {
  data: SegmentData;
  modelName: string;
  imgsz: number;
  preprocess: Preprocess;
  device: Device;
  trainLoader: DataLoader;
  valLoader: DataLoader;
  classWeights: number[] | null;
  batch: number;
  notes: string[];
}

const workerOpt = (a: SegmentTrainArgs): { workers?: number } => (a.workers === undefined ? {} : { workers: a.workers });

export async function prepareSegment(args: SegmentTrainArgs): Promise<SegmentSetup> {
  if (!isModelName(args.model) || MODELS[args.model].task !== 'segment') {
    throw new Error(`'${args.model}' is not a segmentation model (segmentation models: ${listModels('segment').map((m) => m.name).join(', ')})`);
  }
  if (args.data === undefined) throw new Error('no data: give --data (a data.yaml with masks/ beside images/, or a Pascal VOC folder)');
  const device = checkDevice(args.device);
  const data = await resolveSegmentData(args.data, { strict: args.strict });
  const imgsz = args.imgsz ?? MODELS[args.model].defaultImgsz;
  const channels = data.inChannels;
  // A pretrained backbone expects the normalisation it was trained with (ImageNet's for torchvision's).
  const pre = args.pretrained === undefined ? null : pretrainedInfo(args.pretrained);
  const norm = pre && pre.mean.length === channels ? { mean: pre.mean, std: pre.std } : plain(channels);
  const fit = fitBatch(data.splits.train.paths.length, args.batch, DEFAULT_BATCH, args.time === undefined ? args.epochs : Infinity);
  const trainLoader = new DataLoader(data.splits.train, { batchSize: fit.batch, shuffle: true, dropLast: true, seed: args.seed, transforms: segmentTrainTransforms(args, imgsz, channels, norm), ...workerOpt(args) });
  const transforms = segmentEvalTransforms(imgsz, channels, norm);
  const valLoader = new DataLoader(data.splits.val, { batchSize: Math.max(fit.batch, 16), transforms, seed: args.seed, geometry: true, ...workerOpt(args) });
  const preprocess: Preprocess = { imgsz, channels, mean: norm.mean, std: norm.std, transforms };
  return { data, modelName: args.model, imgsz, preprocess, device, trainLoader, valLoader, classWeights: classWeightsOf(args, data.trainPixels), batch: fit.batch, notes: fit.notes };
}
