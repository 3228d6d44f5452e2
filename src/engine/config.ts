/**
 * The settings every task's training shares (the loop's own: epochs, optimizer, schedule, EMA,
 * resume, time budget…). A task's schema spreads `trainerFields` and adds its own (data, model,
 * augmentation), so the Trainer reads one typed record whatever the task.
 */
import { z } from 'zod';

export const trainerFields = {
  epochs: z.number().int().positive().default(5),
  /** Images per step; by default the task's (64 classify, 16 detect), lowered for a set smaller than a few batches. */
  batch: z.number().int().positive().optional(),
  optimizer: z.enum(['adamw', 'adam', 'sgd']).default('adamw'),
  /** Peak learning rate; by default 1e-3 for Adam(W), 0.01 for SGD (scaled for batch 64). */
  lr: z.number().positive().optional(),
  weightDecay: z.number().min(0).optional(),
  momentum: z.number().min(0).max(1).default(0.9),
  warmupEpochs: z.number().min(0).default(1),
  ema: z.boolean().default(false),
  patience: z.number().int().min(0).default(0),
  clipGrad: z.number().positive().optional(),
  seed: z.number().int().min(0).default(0),
  device: z.string().default('cpu'),
  /** Channels-last (NHWC) weights and batches; by default the model's own preference. */
  channelsLast: z.boolean().optional(),
  /** Data-loading threads; by default none for in-memory sets, min(4, cores) for image files. */
  workers: z.number().int().min(0).optional(),
  /** Images with more pixels than this are skipped like unreadable ones; default 40,000,000 (DEFAULT_MAX_PIXELS). */
  maxPixels: z.number().int().positive().optional(),
  name: z.string().default('train'),
  existOk: z.boolean().default(false),
  /** Continue a run from its last checkpoint (a run folder or a last.safetensors path). */
  resume: z.string().optional(),
  /**
   * A time budget in minutes (Ultralytics' `time`): overrides `epochs`, which are planned from the
   * measured epoch time so the schedule ends when the budget does.
   */
  time: z.number().positive().optional(),
  strict: z.boolean().default(false),
  /** Start from these weights: a .pth/.safetensors file, a hub name or a Kestrel checkpoint of any task. */
  pretrained: z.string().min(1).optional(),
  /** Keep pretrained: 'backbone' (all but the head) or the first N layers (finetune.ts's layersOf). */
  freeze: z.union([z.literal('backbone'), z.number().int().positive(), z.string().regex(/^[1-9]\d*$/, "'backbone' or a number of layers")]).optional(),
  /** The backbone's learning rate as a fraction of the head's (discriminative learning rates). */
  backboneLr: z.number().gt(0).max(1).default(1),
};

/** What the Trainer reads of any task's settings. */
export interface TrainerArgs {
  epochs: number;
  batch?: number | undefined;
  optimizer: 'adamw' | 'adam' | 'sgd';
  lr?: number | undefined;
  weightDecay?: number | undefined;
  momentum: number;
  warmupEpochs: number;
  /** SGD's bias lr at the start of the warm-up, for a task with Ultralytics' parameter groups (detection). */
  warmupBiasLr?: number | undefined;
  /** SGD's momentum at the start of the warm-up (with warmupBiasLr). */
  warmupMomentum?: number | undefined;
  ema: boolean;
  patience: number;
  clipGrad?: number | undefined;
  seed: number;
  device: string;
  channelsLast?: boolean | undefined;
  workers?: number | undefined;
  project: string;
  name: string;
  existOk: boolean;
  resume?: string | undefined;
  time?: number | undefined;
  pretrained?: string | undefined;
  freeze?: string | number | undefined;
  backboneLr: number;
}

/** Validates settings against a task's schema; the message names each bad field on one line. */
export function parseSettings<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const r = schema.safeParse(input);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.join('.') || 'settings'}: ${i.message}`);
    throw new Error(`invalid training settings: ${issues.join('; ')}`);
  }
  return r.data;
}
