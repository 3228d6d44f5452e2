/**
 * Ultralytics' warm-up of SGD (BaseTrainer._do_train): over the warm-up steps the first parameter
 * group, the biases, starts at a high lr (warmup_bias_lr, 0.1) and falls linearly to the lr the
 * schedule gives, while the other groups rise from ~0 (the schedule's own linear warm-up), and
 * every group's momentum rises linearly from warmup_momentum (0.8) to the run's. Biases take large
 * steps early because they cannot blow up activations the way weights can. Ultralytics turns the
 * bias part off when it picks AdamW (a 0.1 lr is far too high for Adam), and so does Kestrel.
 */
import type { Scheduler, SchedulerStateDict } from '../optim/index.js';
import type { TrainerArgs } from './config.js';

export interface BiasWarmupOptions {
  /** Warm-up steps (the schedule's). */
  steps: number;
  /** The bias group's lr at step 0. */
  biasLr: number;
  /** Momentum at step 0 and after the warm-up. */
  momentum: readonly [number, number];
  /**
   * The bias groups (default [0]); a later one (a backbone's, at a fraction of the lr) starts at
   * biasLr times the same fraction of group 0's lr.
   */
  biasGroups?: readonly number[];
}

/**
 * Wraps `inner` (whose own warm-up spans the same steps): after each step, group 0's lr and every
 * group's momentum are set from the step count alone, so resume reproduces them.
 *
 * @example
 * const s = new BiasWarmup(warmupCosine(sgd, { warmupSteps: 150, totalSteps: 1500 }), { steps: 150, biasLr: 0.1, momentum: [0.8, 0.937] });
 * // per iteration: sgd.step(); s.step();
 */
export class BiasWarmup implements Scheduler {
  readonly #o: BiasWarmupOptions;

  constructor(readonly inner: Scheduler, opts: BiasWarmupOptions) {
    if (!(Number.isInteger(opts.steps) && opts.steps >= 0)) throw new RangeError(`BiasWarmup: steps must be a non-negative integer, got ${opts.steps}`);
    this.#o = opts;
    this.#apply();
  }

  get optimizer(): Scheduler['optimizer'] {
    return this.inner.optimizer;
  }

  step(): void {
    this.inner.step();
    this.#apply();
  }

  getLastLr(): number[] {
    return this.optimizer.paramGroups.map((g) => g.lr);
  }

  stateDict(): SchedulerStateDict {
    return this.inner.stateDict();
  }

  loadStateDict(state: SchedulerStateDict): void {
    this.inner.loadStateDict(state);
    this.#apply();
  }

  /** np.interp(step, [0, steps], [from, to]): `to` from the warm-up's end on. */
  #interp(step: number, from: number, to: number): number {
    return step >= this.#o.steps ? to : from + ((to - from) * step) / this.#o.steps;
  }

  #apply(): void {
    const step = this.inner.stateDict().lastEpoch;
    const groups = this.optimizer.paramGroups;
    const base = groups[0]!.initialLr ?? groups[0]!.lr;
    for (const i of this.#o.biasGroups ?? [0]) {
      const bias = groups[i]!;
      // The target is the lr the schedule reaches at the warm-up's end: the group's base lr.
      const target = bias.initialLr ?? bias.lr;
      if (step < this.#o.steps) bias.lr = this.#interp(step, (this.#o.biasLr * target) / base, target);
    }
    const [m0, m1] = this.#o.momentum;
    for (const g of groups) if (this.optimizer.getMomentum(g) !== null) this.optimizer.setMomentum(g, this.#interp(step, m0, m1));
  }
}

/**
 * The schedule a run trains with: `s` itself, or for SGD over Ultralytics' parameter groups (a task
 * that sets `warmupBiasLr`) wrapped in its bias and momentum warm-up.
 */
export function withBiasWarmup(s: Scheduler, a: Pick<TrainerArgs, 'optimizer' | 'momentum' | 'warmupBiasLr' | 'warmupMomentum'>, steps: number, splitDecay: boolean, biasGroups: readonly number[] = [0]): Scheduler {
  if (a.optimizer !== 'sgd' || !splitDecay || a.warmupBiasLr === undefined || steps <= 0) return s;
  return new BiasWarmup(s, { steps, biasLr: a.warmupBiasLr, momentum: [a.warmupMomentum ?? a.momentum, a.momentum], biasGroups });
}
