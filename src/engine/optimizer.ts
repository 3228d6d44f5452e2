/** The optimizer and learning-rate schedule a run gets from its settings. */
import { Adam, AdamW, SGD, warmupCosine, warmupSteps, type Scheduler } from '../optim/index.js';
import type { Optimizer, Params } from '../optim/optimizer.js';
import { BatchNorm2d, GroupNorm, LayerNorm } from '../nn/norm.js';
import type { Module } from '../nn/module.js';
import type { Tensor } from '../tensor/tensor.js';
import type { TrainerArgs } from './config.js';

type OptimizerArgs = Pick<TrainerArgs, 'optimizer' | 'lr' | 'weightDecay' | 'momentum'>;

/** Learning rate and weight decay the optimizer gets when the user names none. */
export function optimizerDefaults(a: OptimizerArgs): { lr: number; weightDecay: number } {
  const lr = a.lr ?? (a.optimizer === 'sgd' ? 0.01 : 1e-3);
  return { lr, weightDecay: a.weightDecay ?? { sgd: 5e-4, adam: 0, adamw: 0.05 }[a.optimizer] };
}

/** A model's parameters as Ultralytics' build_optimizer groups them; only `decay` gets weight decay. */
export interface DecayGroups {
  /** Every bias (Ultralytics' g[2], the first group: the one its warm-up starts at warmup_bias_lr). */
  bias: Tensor[];
  /** Weights of every other layer (g[0]). */
  decay: Tensor[];
  /** Weights of normalisation layers (g[1]): decaying them only shrinks a scale the next layer undoes. */
  norm: Tensor[];
}

const isNorm = (m: Module<never[], unknown>): boolean => m instanceof BatchNorm2d || m instanceof LayerNorm || m instanceof GroupNorm;

/**
 * Splits `model`'s parameters into Ultralytics' three groups, each in the model's order.
 *
 * @example
 * const g = decayGroups(net);
 * makeOptimizer({ optimizer: 'sgd', momentum: 0.937, weightDecay: 5e-4 }, g); // decay on g.decay only
 */
export function decayGroups(model: Module<never[], unknown>): DecayGroups {
  const out: DecayGroups = { bias: [], decay: [], norm: [] };
  for (const [, m] of model.namedModules()) {
    for (const [name, p] of m.namedParameters()) {
      // A child's, met again at that child. Frozen ones (the DFL conv) stay, as in Ultralytics: the optimizer skips what has no gradient.
      if (name.includes('.')) continue;
      if (name === 'bias') out.bias.push(p);
      else if (isNorm(m)) out.norm.push(p);
      else out.decay.push(p);
    }
  }
  return out;
}

type GroupParams = Params<{ lr: number; weightDecay: number }>;

const isDecayGroups = (p: GroupParams | DecayGroups): p is DecayGroups => !Array.isArray(p) && 'decay' in p;

/** Parameters as the optimizer takes them: as given (a list, or groups such as finetune.ts's backbone group), or Ultralytics' three with decay on one. */
function groupsOf(params: GroupParams | DecayGroups): GroupParams {
  if (!isDecayGroups(params)) return params;
  return [{ params: params.bias, weightDecay: 0 }, { params: params.decay }, { params: params.norm, weightDecay: 0 }];
}

export function makeOptimizer(a: OptimizerArgs, parameters: GroupParams | DecayGroups): Optimizer<never> {
  const { lr, weightDecay } = optimizerDefaults(a);
  const params = groupsOf(parameters) as never;
  if (a.optimizer === 'sgd') return new SGD(params, { lr, momentum: a.momentum, nesterov: true, weightDecay }) as unknown as Optimizer<never>;
  if (a.optimizer === 'adam') return new Adam(params, { lr, weightDecay }) as unknown as Optimizer<never>;
  return new AdamW(params, { lr, weightDecay }) as unknown as Optimizer<never>;
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
