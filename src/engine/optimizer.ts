/** The optimizer and learning-rate schedule a run gets from its settings. */
import { Adam, AdamW, SGD, warmupCosine, type Scheduler } from '../optim/index.js';
import type { Optimizer } from '../optim/optimizer.js';
import type { Tensor } from '../tensor/tensor.js';
import type { TrainerArgs } from './config.js';

type OptimizerArgs = Pick<TrainerArgs, 'optimizer' | 'lr' | 'weightDecay' | 'momentum'>;

/** Learning rate and weight decay the optimizer gets when the user names none. */
export function optimizerDefaults(a: OptimizerArgs): { lr: number; weightDecay: number } {
  const lr = a.lr ?? (a.optimizer === 'sgd' ? 0.01 : 1e-3);
  return { lr, weightDecay: a.weightDecay ?? { sgd: 5e-4, adam: 0, adamw: 0.05 }[a.optimizer] };
}

export function makeOptimizer(a: OptimizerArgs, params: Tensor[]): Optimizer<never> {
  const { lr, weightDecay } = optimizerDefaults(a);
  if (a.optimizer === 'sgd') return new SGD(params, { lr, momentum: a.momentum, nesterov: true, weightDecay }) as unknown as Optimizer<never>;
  if (a.optimizer === 'adam') return new Adam(params, { lr, weightDecay }) as unknown as Optimizer<never>;
  return new AdamW(params, { lr, weightDecay }) as unknown as Optimizer<never>;
}

/** Linear warm-up for `warmupEpochs`, then cosine to zero at the end of `epochs`. */
export function makeSchedule(optimizer: Optimizer<never>, a: Pick<TrainerArgs, 'warmupEpochs'>, epochs: number, stepsPerEpoch: number): Scheduler {
  const totalSteps = epochs * stepsPerEpoch;
  return warmupCosine(optimizer as never, { warmupSteps: Math.min(Math.round(a.warmupEpochs * stepsPerEpoch), totalSteps - 1), totalSteps });
}
