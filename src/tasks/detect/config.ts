/**
 * Training settings for detection: the Trainer's own plus the data, the model and Ultralytics'
 * augmentation hyper-parameters (mosaic switched off for the last `closeMosaic` epochs, random
 * affine, HSV, horizontal flips), validated once at the edge.
 */
import { z } from 'zod';
import { parseSettings, trainerFields } from '../../engine/config.js';

export const DetectTrainArgs = z.object({
  /** A data.yaml (YOLO folders or COCO JSON splits) or a folder holding one. */
  data: z.string().min(1).optional(),
  model: z.string().default('yolov8n'),
  /** yolov8: the zoo CNN under the neck (default resnet18). */
  backbone: z.string().optional(),
  imgsz: z.number().int().min(32).max(4096).default(640),
  ...trainerFields,
  warmupEpochs: z.number().min(0).default(3),
  /** Ultralytics' SGD momentum and its warm-up (bias lr 0.1 falling, momentum 0.8 rising); AdamW ignores all three. */
  momentum: z.number().min(0).max(1).default(0.937),
  warmupBiasLr: z.number().min(0).default(0.1),
  warmupMomentum: z.number().min(0).max(1).default(0.8),
  /** Ultralytics trains every detector with an EMA of the weights and light weight decay. */
  ema: z.boolean().default(true),
  weightDecay: z.number().min(0).default(0.0005),
  /** Probability of a mosaic per sample (0 turns it off). */
  mosaic: z.number().min(0).max(1).default(1),
  /** Epochs at the end trained without mosaic (Ultralytics' close_mosaic). */
  closeMosaic: z.number().int().min(0).default(10),
  degrees: z.number().min(0).max(180).default(0),
  translate: z.number().min(0).max(0.9).default(0.1),
  scale: z.number().min(0).max(0.95).default(0.5),
  // Off by default, as for segmentation: a mirrored digit, letter or sign is another shape (or
  // class); natural objects gain from --fliplr 0.5, Ultralytics' default.
  fliplr: z.number().min(0).max(1).default(0),
  hsvH: z.number().min(0).max(1).default(0.015),
  hsvS: z.number().min(0).max(1).default(0.7),
  hsvV: z.number().min(0).max(1).default(0.4),
  project: z.string().default('runs/detect'),
}).strict();

export type DetectTrainArgs = z.infer<typeof DetectTrainArgs>;

/**
 * Adam(W)'s peak lr for detection when none is given: twice the engine's 1e-3. Short runs from
 * random weights learn faster with it (8 epochs of 400 synthetic-digit images: mAP50 0.154 against
 * 0.113; docs/detect.md). SGD keeps the engine's 0.01, Ultralytics' lr0.
 */
export const DETECT_ADAM_LR = 0.002;

export const parseDetectArgs = (input: unknown): DetectTrainArgs => {
  const a = parseSettings(DetectTrainArgs, input);
  return a.lr === undefined && a.optimizer !== 'sgd' ? { ...a, lr: DETECT_ADAM_LR } : a;
};
