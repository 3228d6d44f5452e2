import { Adam, AdamW, SGD } from '../../optim/index.js';
import type { Optimizer } from '../../optim/optimizer.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { TrainArgs } from './config.js';

/** Learning rate and weight decay the optimizer gets when the user names none. */
export function optimizerDefaults(a: TrainArgs): { lr: number; weightDecay: number } {
  const lr = a.lr ?? (a.optimizer === 'sgd' ? 0.01 : 1e-3);
  return { lr, weightDecay: a.weightDecay ?? { sgd: 5e-4, adam: 0, adamw: 0.05 }[a.optimizer] };
}

export function makeOptimizer(a: TrainArgs, params: Tensor[]): Optimizer<never> {
  const { lr, weightDecay } = optimizerDefaults(a);
  if (a.optimizer === 'sgd') return new SGD(params, { lr, momentum: a.momentum, nesterov: true, weightDecay }) as unknown as Optimizer<never>;
  if (a.optimizer === 'adam') return new Adam(params, { lr, weightDecay }) as unknown as Optimizer<never>;
  return new AdamW(params, { lr, weightDecay }) as unknown as Optimizer<never>;
}
