/**
 * Learning-rate schedulers with torch.optim.lr_scheduler's (1.13) semantics. Each computes the
 * lr from the step count in closed form, so a resumed run continues exactly where it stopped
 * and the values match PyTorch's recursive ones to rounding. Call `step()` after `opt.step()`.
 */
import type { GroupOptions, JsonValue, Optimizer } from './optimizer.js';

export type AnyOptimizer = Optimizer<GroupOptions>;

/** A scheduler's JSON-able state. */
export interface SchedulerStateDict {
  lastEpoch: number;
  lastLr: number[];
  [key: string]: JsonValue;
}

/** What every scheduler offers (SequentialLR included). */
export interface Scheduler {
  readonly optimizer: AnyOptimizer;
  /** Advances one step (an epoch or an iteration, as you use it) and sets the groups' lr. */
  step(): void;
  /** The lr of each group set by the last step. */
  getLastLr(): number[];
  stateDict(): SchedulerStateDict;
  loadStateDict(state: SchedulerStateDict): void;
}

/**
 * Base of the closed-form schedulers. Subclasses set their fields, then call `start()`.
 *
 * @example
 * class ExponentialLR extends LRScheduler {
 *   constructor(opt: AnyOptimizer, readonly gamma: number) { super(opt); this.start(); }
 *   protected lrAt(epoch: number): number[] { return this.baseLrs.map((lr) => lr * this.gamma ** epoch); }
 * }
 */
export abstract class LRScheduler implements Scheduler {
  /** Steps taken (PyTorch's `last_epoch`): 0 right after construction. */
  lastEpoch = -1;
  /** Each group's starting lr (its `initialLr`). */
  baseLrs: number[] = [];
  protected lastLr: number[] = [];

  constructor(readonly optimizer: AnyOptimizer) {}

  /** The lr of each group after `epoch` steps. */
  protected abstract lrAt(epoch: number): number[];

  /** Records each group's `initialLr` (first scheduler wins) and sets the step-0 lr. */
  protected start(): void {
    for (const g of this.optimizer.paramGroups) g.initialLr ??= g.lr;
    this.baseLrs = this.optimizer.paramGroups.map((g) => g.initialLr!);
    this.step();
  }

  step(): void {
    this.stepTo(this.lastEpoch + 1);
  }

  /** Jumps to step `epoch` (PyTorch's deprecated `step(epoch)`, which uses the closed form). */
  stepTo(epoch: number): void {
    this.lastEpoch = epoch;
    const lrs = this.lrAt(epoch);
    this.optimizer.paramGroups.forEach((g, i) => (g.lr = lrs[i]!));
    this.lastLr = this.optimizer.paramGroups.map((g) => g.lr);
  }

  getLastLr(): number[] {
    return [...this.lastLr];
  }

  stateDict(): SchedulerStateDict {
    return { lastEpoch: this.lastEpoch, baseLrs: [...this.baseLrs], lastLr: [...this.lastLr] };
  }

  loadStateDict(state: SchedulerStateDict): void {
    const base = state.baseLrs;
    if (!Array.isArray(base) || base.length !== this.optimizer.paramGroups.length) {
      throw new Error(`loadStateDict(): expected baseLrs for ${this.optimizer.paramGroups.length} groups, got ${JSON.stringify(base)}`);
    }
    this.lastEpoch = state.lastEpoch;
    this.baseLrs = base.map(Number);
    this.lastLr = [...state.lastLr];
  }
}

/**
 * Multiplies the lr by `gamma` every `stepSize` steps.
 *
 * @example
 * const sched = new StepLR(opt, { stepSize: 30, gamma: 0.1 }); // 0.1 → 0.01 at step 30 → …
 */
export class StepLR extends LRScheduler {
  readonly stepSize: number;
  readonly gamma: number;

  constructor(optimizer: AnyOptimizer, opts: { stepSize: number; gamma?: number }) {
    super(optimizer);
    if (!(Number.isInteger(opts.stepSize) && opts.stepSize > 0)) throw new RangeError(`StepLR: stepSize must be a positive integer, got ${opts.stepSize}`);
    this.stepSize = opts.stepSize;
    this.gamma = opts.gamma ?? 0.1;
    this.start();
  }

  protected lrAt(epoch: number): number[] {
    return this.baseLrs.map((lr) => lr * this.gamma ** Math.floor(epoch / this.stepSize));
  }
}

/**
 * Multiplies the lr by `gamma` at each milestone (a milestone listed twice counts twice).
 *
 * @example
 * const sched = new MultiStepLR(opt, { milestones: [30, 80], gamma: 0.1 });
 */
export class MultiStepLR extends LRScheduler {
  readonly milestones: number[];
  readonly gamma: number;

  constructor(optimizer: AnyOptimizer, opts: { milestones: number[]; gamma?: number }) {
    super(optimizer);
    this.milestones = [...opts.milestones].sort((a, b) => a - b);
    this.gamma = opts.gamma ?? 0.1;
    this.start();
  }

  protected lrAt(epoch: number): number[] {
    const passed = this.milestones.filter((m) => m <= epoch).length;
    return this.baseLrs.map((lr) => lr * this.gamma ** passed);
  }
}

/**
 * Scales the lr linearly from `startFactor` to `endFactor` over `totalIters` steps, then holds
 * it: the usual warm-up.
 *
 * @example
 * const warmup = new LinearLR(opt, { startFactor: 0.01, totalIters: 500 });
 */
export class LinearLR extends LRScheduler {
  readonly startFactor: number;
  readonly endFactor: number;
  readonly totalIters: number;

  constructor(optimizer: AnyOptimizer, opts: { startFactor?: number; endFactor?: number; totalIters?: number } = {}) {
    super(optimizer);
    this.startFactor = opts.startFactor ?? 1 / 3;
    this.endFactor = opts.endFactor ?? 1;
    this.totalIters = opts.totalIters ?? 5;
    if (!(this.startFactor >= 0 && this.startFactor <= 1)) throw new RangeError(`LinearLR: startFactor must be in [0, 1], got ${this.startFactor}`);
    if (!(this.endFactor >= 0 && this.endFactor <= 1)) throw new RangeError(`LinearLR: endFactor must be in [0, 1], got ${this.endFactor}`);
    if (!(Number.isInteger(this.totalIters) && this.totalIters > 0)) throw new RangeError(`LinearLR: totalIters must be a positive integer, got ${this.totalIters}`);
    this.start();
  }

  protected lrAt(epoch: number): number[] {
    const f = this.startFactor + ((this.endFactor - this.startFactor) * Math.min(this.totalIters, epoch)) / this.totalIters;
    return this.baseLrs.map((lr) => lr * f);
  }
}

/**
 * Cosine annealing from the base lr to `etaMin` over `tMax` steps (and back up after, as in PyTorch).
 *
 * @example
 * const sched = new CosineAnnealingLR(opt, { tMax: epochs, etaMin: 1e-6 });
 */
export class CosineAnnealingLR extends LRScheduler {
  readonly tMax: number;
  readonly etaMin: number;

  constructor(optimizer: AnyOptimizer, opts: { tMax: number; etaMin?: number }) {
    super(optimizer);
    if (!(opts.tMax > 0)) throw new RangeError(`CosineAnnealingLR: tMax must be > 0, got ${opts.tMax}`);
    this.tMax = opts.tMax;
    this.etaMin = opts.etaMin ?? 0;
    this.start();
  }

  protected lrAt(epoch: number): number[] {
    return this.baseLrs.map((lr) => this.etaMin + ((lr - this.etaMin) * (1 + Math.cos((Math.PI * epoch) / this.tMax))) / 2);
  }
}

/**
 * Runs `schedulers` one after another, switching at each milestone (each starts from step 0).
 *
 * @example
 * const sched = new SequentialLR(opt, [new LinearLR(opt, { startFactor: 0.01, totalIters: 5 }),
 *   new CosineAnnealingLR(opt, { tMax: 95 })], [5]);
 */
export class SequentialLR implements Scheduler {
  lastEpoch: number;
  readonly #schedulers: LRScheduler[];
  readonly #milestones: number[];
  #lastLr: number[];

  constructor(readonly optimizer: AnyOptimizer, schedulers: LRScheduler[], milestones: number[]) {
    if (schedulers.length === 0 || schedulers.some((s) => s.optimizer !== optimizer)) {
      throw new Error('SequentialLR: needs at least one scheduler, all of the same optimizer');
    }
    if (milestones.length !== schedulers.length - 1) throw new Error(`SequentialLR: ${schedulers.length} schedulers need ${schedulers.length - 1} milestones, got ${milestones.length}`);
    this.#schedulers = schedulers;
    this.#milestones = [...milestones];
    this.lastEpoch = 0;
    // As PyTorch: undo the first step the schedulers took when they were made, then start the first.
    for (const g of optimizer.paramGroups) g.lr = g.initialLr ?? g.lr;
    for (const s of schedulers) s.lastEpoch -= 1;
    schedulers[0]!.step();
    this.#lastLr = schedulers[0]!.getLastLr();
  }

  step(): void {
    this.lastEpoch += 1;
    const idx = this.#milestones.filter((m) => m <= this.lastEpoch).length;
    const s = this.#schedulers[idx]!;
    if (idx > 0 && this.#milestones[idx - 1] === this.lastEpoch) s.stepTo(0);
    else s.step();
    this.#lastLr = s.getLastLr();
  }

  getLastLr(): number[] {
    return [...this.#lastLr];
  }

  stateDict(): SchedulerStateDict {
    return { lastEpoch: this.lastEpoch, lastLr: [...this.#lastLr], schedulers: this.#schedulers.map((s) => s.stateDict()) };
  }

  loadStateDict(state: SchedulerStateDict): void {
    const subs = state.schedulers as SchedulerStateDict[];
    if (subs.length !== this.#schedulers.length) throw new Error(`loadStateDict(): ${subs.length} schedulers saved, ${this.#schedulers.length} here`);
    this.lastEpoch = state.lastEpoch;
    this.#lastLr = [...state.lastLr];
    subs.forEach((s, i) => this.#schedulers[i]!.loadStateDict(s));
  }
}

/**
 * The warm-up never takes more than this share of a run. Warming up over a whole short run leaves
 * no annealing: a 1-epoch run with 1 warm-up epoch trains at a rising lr to its last step and is
 * evaluated at the peak. A fifth keeps the default 5-epoch run's one warm-up epoch as it was.
 */
export const MAX_WARMUP_SHARE = 0.2;

/**
 * Steps of linear warm-up for a run of `epochs` × `stepsPerEpoch` steps: `warmupEpochs` epochs'
 * worth, but at most MAX_WARMUP_SHARE of the run, so the cosine that follows always has most of
 * the run to anneal in.
 *
 * @example
 * warmupSteps(5, 937, 1); // 937: one epoch of a 5-epoch run
 * warmupSteps(1, 937, 1); // 187: a fifth of a 1-epoch run, then 750 steps of cosine
 */
export function warmupSteps(epochs: number, stepsPerEpoch: number, warmupEpochs: number): number {
  const total = epochs * stepsPerEpoch;
  return Math.max(0, Math.min(Math.round(warmupEpochs * stepsPerEpoch), Math.floor(MAX_WARMUP_SHARE * total)));
}

export interface WarmupCosineOptions {
  /** Steps of linear warm-up (0: none). */
  warmupSteps: number;
  /** All steps, warm-up included; the cosine runs over the rest. */
  totalSteps: number;
  /** The warm-up's first lr as a fraction of the base lr. Default 0.001. */
  warmupStartFactor?: number;
  /** The lr at the end. Default 0. */
  etaMin?: number;
}

/**
 * Linear warm-up then cosine annealing to `etaMin`: SequentialLR(LinearLR, CosineAnnealingLR).
 *
 * @example
 * const sched = warmupCosine(opt, { warmupSteps: 500, totalSteps: epochs * batchesPerEpoch });
 * // per iteration: opt.step(); sched.step();
 */
export function warmupCosine(optimizer: AnyOptimizer, opts: WarmupCosineOptions): Scheduler {
  const { warmupSteps, totalSteps, etaMin = 0 } = opts;
  if (!(warmupSteps >= 0 && warmupSteps < totalSteps)) throw new RangeError(`warmupCosine: need 0 <= warmupSteps < totalSteps, got ${warmupSteps} and ${totalSteps}`);
  if (warmupSteps === 0) return new CosineAnnealingLR(optimizer, { tMax: totalSteps, etaMin });
  const warmup = new LinearLR(optimizer, { startFactor: opts.warmupStartFactor ?? 0.001, endFactor: 1, totalIters: warmupSteps });
  const cosine = new CosineAnnealingLR(optimizer, { tMax: totalSteps - warmupSteps, etaMin });
  return new SequentialLR(optimizer, [warmup, cosine], [warmupSteps]);
}
