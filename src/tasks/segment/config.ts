/**
 * Training settings for segmentation: the Trainer's own plus the data, the model (U-Net's depth and
 * width, a head's backbone), the loss mix and the geometric and photometric augmentation, validated
 * once at the edge. MixUp and CutMix are absent: they blend labels, and a pixel has one class.
 */
import { z } from 'zod';
import { parseSettings, trainerFields } from '../../engine/config.js';

export const SegmentTrainArgs = z.object({
  /** A data.yaml (masks/ beside images/), a folder holding one, or a Pascal VOC folder. */
  data: z.string().min(1).optional(),
  model: z.string().default('unet'),
  /** Network input side; by default the model's design size (128 for unet, 520 for the torchvision heads). */
  imgsz: z.number().int().min(16).max(4096).optional(),
  /** unet: poolings and channels at full resolution (the model's defaults when absent). */
  depth: z.number().int().min(1).max(6).optional(),
  width: z.number().int().min(1).max(256).optional(),
  /** deeplabv3 and lraspp: the zoo CNN under the head. */
  backbone: z.string().optional(),
  ...trainerFields,
  epochs: z.number().int().positive().default(50),
  /** A short warm-up: a CPU run of a few minutes may see only one or two epochs. */
  warmupEpochs: z.number().min(0).default(0.3),
  /** Weights of the loss terms: cross-entropy, soft Dice, focal. */
  ce: z.number().min(0).default(1),
  dice: z.number().min(0).default(1),
  focal: z.number().min(0).default(0),
  /**
   * U-Net: weight of deep supervision — cross-entropy of class heads on the bottleneck and the first
   * up stage against each coarse cell's class shares (0: no heads). Telling a 3 from an 8 is learnt
   * at the deep levels, which the full-resolution loss reaches only through the whole decoder.
   * Unset: 5 for unet; other models have no such heads and refuse a weight above 0.
   */
  aux: z.number().min(0).optional(),
  /**
   * Class weights of the loss: `median` (median frequency balancing over the training masks,
   * clipped to 10, so classes of a few % of the pixels are not drowned by the background) or `none`.
   */
  classWeights: z.enum(['median', 'none']).default('median'),
  /** Random affine per sample: rotation range in degrees, translation and scale gain. */
  degrees: z.number().min(0).max(180).default(10),
  translate: z.number().min(0).max(0.9).default(0.1),
  scale: z.number().min(0).max(0.95).default(0.25),
  /** Probabilities of flips (off by default: digits and text must not mirror; turn on for scans). */
  fliplr: z.number().min(0).max(1).default(0),
  /** Ultralytics' HSV jitter (grey images get the value gain only). */
  hsvH: z.number().min(0).max(0.5).default(0.015),
  hsvS: z.number().min(0).max(1).default(0.5),
  hsvV: z.number().min(0).max(1).default(0.3),
  project: z.string().default('runs/segment'),
}).strict();

export type SegmentTrainArgs = z.infer<typeof SegmentTrainArgs>;

/** Adam(W)'s peak learning rate unless given: U-Net with batch norm trains faster at 2e-3 than at the classifiers' 1e-3. */
export const SEGMENT_ADAM_LR = 2e-3;

export function parseSegmentArgs(input: unknown): SegmentTrainArgs {
  const a = parseSettings(SegmentTrainArgs, input);
  return a.lr === undefined && a.optimizer !== 'sgd' ? { ...a, lr: SEGMENT_ADAM_LR } : a;
}
