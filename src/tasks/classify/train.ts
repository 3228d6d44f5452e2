/**
 * Classification training: the shared Trainer over the classification hooks (task.ts), with a
 * run folder (args.yaml, results.csv, weights/last and best, plots, log) and exact resume, also
 * from the middle of an epoch (Ctrl-C).
 *
 * @example
 * const r = await train({ data: 'mnist', model: 'smallcnn', epochs: 5 });
 * console.log(r.best?.metrics.accuracy, r.dir);
 */
import { runTraining } from '../../engine/trainer.js';
import type { TrainHooks } from '../../engine/task.js';
import type { Skipped } from '../../data/source.js';
import type { TrainInput } from './config.js';
import { classifyTask } from './task.js';

export type { EpochRow, TrainHooks } from '../../engine/task.js';

export interface TrainResult {
  dir: string;
  /** Epochs completed. */
  epochs: number;
  /** The best epoch's checkpoint and validation metrics, or null when no epoch completed. */
  best: { epoch: number; path: string; metrics: { accuracy: number; top5: number | null; loss: number } } | null;
  last: string;
  interrupted: boolean;
  skipped: Skipped[];
  /** The best weights on the held-out test split, when the data has one besides val. */
  test?: { accuracy: number; top5: number | null; count: number };
}

/** The classification columns of a results.csv row; top-5 is blank when there are ≤ 5 classes. */
const optional = (v: number | string | undefined): number | null => (v === undefined || v === '' ? null : Number(v));

export async function train(input: TrainInput, hooks: TrainHooks = {}): Promise<TrainResult> {
  const r = await runTraining(classifyTask, input, hooks);
  const row = r.best?.row;
  return {
    dir: r.dir, epochs: r.epochs, last: r.last, interrupted: r.interrupted, skipped: r.skipped,
    best: r.best && row ? { epoch: r.best.epoch, path: r.best.path, metrics: { accuracy: Number(row.val_accuracy), top5: optional(row.val_top5), loss: Number(row.val_loss) } } : null,
    ...(r.test ? { test: r.test as TrainResult['test'] & object } : {}),
  };
}



