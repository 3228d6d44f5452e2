/** Training settings for classification: validated once at the edge (CLI, API, args.yaml), typed inside. */
import { z } from 'zod';

export const TrainArgs = z.object({
  /** Data set name, folder or CSV; optional only with `resume`, which takes the run's own. */
  data: z.string().min(1).optional(),
  model: z.string().optional(),
  epochs: z.number().int().positive().default(5),
  batch: z.number().int().positive().default(64),
  imgsz: z.number().int().positive().optional(),
  optimizer: z.enum(['adamw', 'adam', 'sgd']).default('adamw'),
  /** Peak learning rate; by default 1e-3 for Adam(W), 0.01 for SGD (scaled for batch 64). */
  lr: z.number().positive().optional(),
  weightDecay: z.number().min(0).optional(),
  momentum: z.number().min(0).max(1).default(0.9),
  warmupEpochs: z.number().min(0).default(1),
  labelSmoothing: z.number().min(0).max(1).default(0.1),
  mixup: z.number().min(0).default(0),
  cutmix: z.number().min(0).default(0),
  augment: z.enum(['auto', 'none', 'light', 'standard', 'strong']).default('auto'),
  /** Random horizontal flips; by default on for photos, off for small images (digits must not mirror). */
  hflip: z.boolean().optional(),
  ema: z.boolean().default(false),
  patience: z.number().int().min(0).default(0),
  clipGrad: z.number().positive().optional(),
  seed: z.number().int().min(0).default(0),
  device: z.string().default('cpu'),
  /** Channels-last (NHWC) weights and batches; by default on for the CNNs, where oneDNN runs faster on them. */
  channelsLast: z.boolean().optional(),
  /** Data-loading threads; by default none for in-memory sets (their augmentation is cheaper than a thread hop), min(4, cores) for image files. */
  workers: z.number().int().min(0).optional(),
  project: z.string().default('runs/classify'),
  name: z.string().default('train'),
  existOk: z.boolean().default(false),
  /** Continue a run from its last checkpoint (a run folder or a last.safetensors path). */
  resume: z.string().optional(),
  strict: z.boolean().default(false),
  /** Share held out for validation where a split has no val/ (folders: 0.1; named sets: their official test split is val unless this is given). */
  valFraction: z.number().gt(0).lt(1).optional(),
}).strict();

export type TrainArgs = z.infer<typeof TrainArgs>;
export type TrainInput = z.input<typeof TrainArgs>;

/** Validates user settings; the message names each bad field on one line. */
export function parseTrainArgs(input: unknown): TrainArgs {
  const r = TrainArgs.safeParse(input);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.join('.') || 'settings'}: ${i.message}`);
    throw new Error(`invalid training settings: ${issues.join('; ')}`);
  }
  return r.data;
}
