/** Training settings for classification: validated once at the edge (CLI, API, args.yaml), typed inside. */
import { z } from 'zod';
import { parseSettings, trainerFields } from '../../engine/config.js';

export const TrainArgs = z.object({
  /** Data set name, folder or CSV; optional only with `resume`, which takes the run's own. */
  data: z.string().min(1).optional(),
  model: z.string().optional(),
  imgsz: z.number().int().positive().optional(),
  ...trainerFields,
  labelSmoothing: z.number().min(0).max(1).default(0.1),
  mixup: z.number().min(0).default(0),
  cutmix: z.number().min(0).default(0),
  augment: z.enum(['auto', 'none', 'light', 'standard', 'strong']).default('auto'),
  /** Random horizontal flips; by default on for photos, off for small images (digits must not mirror). */
  hflip: z.boolean().optional(),
  project: z.string().default('runs/classify'),
  /** Share held out for validation where a split has no val/ (folders: 0.1; named sets: their official test split is val unless this is given). */
  valFraction: z.number().gt(0).lt(1).optional(),
}).strict();

export type TrainArgs = z.infer<typeof TrainArgs>;
export type TrainInput = z.input<typeof TrainArgs>;

/** Validates user settings; the message names each bad field on one line. */
export const parseTrainArgs = (input: unknown): TrainArgs => parseSettings(TrainArgs, input);
