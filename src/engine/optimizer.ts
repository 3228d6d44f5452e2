/** The optimizer and learning-rate schedule a run gets from its settings. */
import { Adam, AdamW, SGD, warmupCosine, warmupSteps, type Scheduler } from '../optim/index.js';
import type { Optimizer, Params } from '../optim/optimizer.js';
import type { TrainerArgs } from './config.js';

type OptimizerArgs = Pick<TrainerArgs, 'optimizer' | 'lr' | 'weightDecay' | 'momentum'>;

/** Learning rate and weight decay the optimizer gets when the user names none. */
export function optimizerDefaults(a: OptimizerArgs): { lr: number; weightDecay: number } {
  const lr = a.lr ?? (a.optimizer === 'sgd' ? 0.01 : 1e-3);
  return { lr, weightDecay: a.weightDecay ?? { sgd: 5e-4, adam: 0, adamw: 0.05 }[a.optimizer] };
}

/** `params`: a list, or groups whose `lr` overrides the run's (finetune.ts's backbone group). */
export function makeOptimizer(a: OptimizerArgs, params: Params<{ lr: number; weightDecay: number }>): Optimizer<never> {
  const { lr, weightDecay } = optimizerDefaults(a);
  if (a.optimizer === 'sgd') return new SGD(params as never, { lr, momentum: a.momentum, nesterov: true, weightDecay }) as unknown as Optimizer<never>;
  if (a.optimizer === 'adam') return new Adam(params as never, { lr, weightDecay }) as unknown as Optimizer<never>;
  return new AdamW(params as never, { lr, weightDecay }) as unknown as Optimizer<never>;
}

/**
 * The warm-up a run gets: `warmupEpochs`, at most a fifth of a run of known length (so a 1-epoch
 * run anneals instead of ending at its peak lr). A time budget re-plans the epochs as it goes, so
 * its warm-up is not tied to a first guess of the length: the full `warmupEpochs`.
 */
export function runWarmup(a: Pick<TrainerArgs, 'warmupEpochs' | 'epochs' | 'time'>, stepsPerEpoch: number): number {
  return a.time === undefined ? warmupSteps(a.epochs, stepsPerEpoch, a.warmupEpochs) : Math.round(a.warmupEpochs * stepsPerEpoch);
}

/** Linear warm-up over `warmup` steps, then cosine to zero at the end of `epochs`. */
export function makeSchedule(optimizer: Optimizer<never>, warmup: number, epochs: number, stepsPerEpoch: number): Scheduler {
  const totalSteps = epochs * stepsPerEpoch;
  return warmupCosine(optimizer as never, { warmupSteps: Math.min(warmup, totalSteps - 1), totalSteps });
}
