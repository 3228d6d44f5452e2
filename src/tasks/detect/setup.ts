/**
 * Everything a detection run needs before it touches the disk: the data (YOLO or COCO), the
 * preprocessing a checkpoint records, and the loaders — training with mosaic, training without it
 * for the last `closeMosaic` epochs, and validation with each sample's geometry (to report boxes
 * in the original image's pixels). Any problem here is a one-line error and leaves no run folder.
 */
import { DataLoader } from '../../data/loader.js';
import { fitBatch } from '../../engine/batch-size.js';
import { resolveDetectData, type DetectData } from '../../data/yolo.js';
import type { Preprocess } from '../../engine/checkpoint.js';
import { pretrainedInfo } from '../../engine/pretrained.js';
import { checkDevice, type Device } from '../../tensor/device.js';
import type { DetectTrainArgs } from './config.js';
import { DETECT_MEAN, DETECT_STD, detectEvalTransforms, detectTrainTransforms } from './transforms.js';

export interface DetectSetup {
  data: DetectData;
  preprocess: Preprocess;
  device: Device;
  trainLoader: DataLoader;
  /** The same data without mosaic, for the last epochs; null when mosaic is off or never closes. */
  closeLoader: DataLoader | null;
  valLoader: DataLoader;
  /** The batch the run trains with (fitBatch may lower --batch for a small set), and why. */
  batch: number;
  notes: string[];
}

/** Whether `epoch` (1-based) of `epochs` trains without mosaic (Ultralytics' close_mosaic). */
export const mosaicClosed = (epoch: number, epochs: number, closeMosaic: number): boolean => closeMosaic > 0 && epoch > epochs - closeMosaic;

const workerOpt = (a: DetectTrainArgs): { workers?: number } => (a.workers === undefined ? {} : { workers: a.workers });

export async function prepareDetect(args: DetectTrainArgs): Promise<DetectSetup> {
  if (args.data === undefined) throw new Error('no data: give --data (a data.yaml in the YOLO layout, or a folder holding one)');
  const device = checkDevice(args.device);
  // A pretrained backbone expects the normalisation it was trained with (ImageNet's for torchvision's).
  const pre = args.pretrained === undefined ? null : pretrainedInfo(args.pretrained);
  const norm = pre ? { mean: pre.mean, std: pre.std } : { mean: DETECT_MEAN, std: DETECT_STD };
  const data = await resolveDetectData(args.data, { strict: args.strict });
  const fit = fitBatch(data.splits.train.paths.length, args.batch, 16, args.time === undefined ? args.epochs : Infinity);
  const common = { batchSize: fit.batch, shuffle: true, dropLast: true, seed: args.seed, ...workerOpt(args) };
  const trainLoader = new DataLoader(data.splits.train, { ...common, transforms: detectTrainTransforms(args, true, norm) });
  const closeLoader = args.mosaic > 0 && args.closeMosaic > 0 ? new DataLoader(data.splits.train, { ...common, transforms: detectTrainTransforms(args, false, norm) }) : null;
  const transforms = detectEvalTransforms(args.imgsz, norm);
  const valLoader = new DataLoader(data.splits.val, { batchSize: Math.max(fit.batch, 32), transforms, seed: args.seed, geometry: true, ...workerOpt(args) });
  const preprocess: Preprocess = { imgsz: args.imgsz, channels: 3, mean: norm.mean, std: norm.std, transforms };
  return { data, preprocess, device, trainLoader, closeLoader, valLoader, batch: fit.batch, notes: fit.notes };
}
