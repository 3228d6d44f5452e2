/** The 1cycle policy (https://arxiv.org/abs/1708.07120), as torch.optim.lr_scheduler.OneCycleLR (1.13). */
import { LRScheduler, type AnyOptimizer } from './scheduler.js';

export interface OneCycleOptions {
  /** Peak lr, one for all groups or one per group. */
  maxLr: number | number[];
  /** Steps in the cycle; or give `epochs` and `stepsPerEpoch`. */
  totalSteps?: number;
  epochs?: number;
  stepsPerEpoch?: number;
  /** Fraction of the cycle spent raising the lr. Default 0.3. */
  pctStart?: number;
  annealStrategy?: 'cos' | 'linear';
  /** Cycle momentum (SGD) or beta1 (Adam) inversely to the lr. Default true, as in PyTorch. */
  cycleMomentum?: boolean;
  baseMomentum?: number | number[];
  maxMomentum?: number | number[];
  /** initial lr = maxLr / divFactor. Default 25. */
  divFactor?: number;
  /** final lr = initial lr / finalDivFactor. Default 1e4. */
  finalDivFactor?: number;
  /** Up, down to the initial lr, then down to the final lr (the paper's shape). Default false. */
  threePhase?: boolean;
}

type Level = 'initial' | 'max' | 'min';
interface Phase { end: number; lr: [Level, Level]; momentum: ['max' | 'base', 'max' | 'base'] }

/**
 * Raises the lr from `maxLr / divFactor` to `maxLr`, then anneals it to the final lr, step by
 * step over `totalSteps` (call `step()` after every batch). Stepping past `totalSteps` throws.
 *
 * @example
 * const sched = new OneCycleLR(opt, { maxLr: 0.1, epochs: 10, stepsPerEpoch: batches.length });
 * // per batch: opt.step(); sched.step();
 */
export class OneCycleLR extends LRScheduler {
  readonly totalSteps: number;
  readonly cycleMomentum: boolean;
  readonly #phases: Phase[];
  readonly #anneal: (start: number, end: number, pct: number) => number;
  readonly #maxLrs: number[];
  readonly #minLrs: number[];
  readonly #maxMomentums: number[];
  readonly #baseMomentums: number[];

  constructor(optimizer: AnyOptimizer, opts: OneCycleOptions) {
    super(optimizer);
    const { pctStart = 0.3, annealStrategy = 'cos', divFactor = 25, finalDivFactor = 1e4 } = opts;
    this.totalSteps = opts.totalSteps ?? (opts.epochs ?? NaN) * (opts.stepsPerEpoch ?? NaN);
    if (!(Number.isInteger(this.totalSteps) && this.totalSteps > 0)) {
      throw new RangeError('OneCycleLR: give totalSteps, or epochs and stepsPerEpoch, as positive integers');
    }
    if (!(pctStart >= 0 && pctStart <= 1)) throw new RangeError(`OneCycleLR: pctStart must be in [0, 1], got ${pctStart}`);
    const up = pctStart * this.totalSteps - 1;
    this.#phases = opts.threePhase
      ? [
          { end: up, lr: ['initial', 'max'], momentum: ['max', 'base'] },
          { end: 2 * pctStart * this.totalSteps - 2, lr: ['max', 'initial'], momentum: ['base', 'max'] },
          { end: this.totalSteps - 1, lr: ['initial', 'min'], momentum: ['max', 'max'] },
        ]
      : [
          { end: up, lr: ['initial', 'max'], momentum: ['max', 'base'] },
          { end: this.totalSteps - 1, lr: ['max', 'min'], momentum: ['base', 'max'] },
        ];
    if (annealStrategy !== 'cos' && annealStrategy !== 'linear') throw new RangeError(`OneCycleLR: annealStrategy must be 'cos' or 'linear', got ${String(annealStrategy)}`);
    this.#anneal = annealStrategy === 'cos' ? annealCos : annealLinear;
    const groups = optimizer.paramGroups;
    this.#maxLrs = perGroup('maxLr', opts.maxLr, groups.length);
    this.#minLrs = this.#maxLrs.map((m) => m / divFactor / finalDivFactor);
    groups.forEach((g, i) => (g.initialLr = this.#maxLrs[i]! / divFactor));
    this.cycleMomentum = opts.cycleMomentum ?? true;
    this.#maxMomentums = perGroup('maxMomentum', opts.maxMomentum ?? 0.95, groups.length);
    this.#baseMomentums = perGroup('baseMomentum', opts.baseMomentum ?? 0.85, groups.length);
    if (this.cycleMomentum) {
      if (groups.some((g) => optimizer.getMomentum(g) === null)) throw new Error(`OneCycleLR: ${optimizer.name} has no momentum to cycle; pass cycleMomentum: false`);
      groups.forEach((g, i) => optimizer.setMomentum(g, this.#maxMomentums[i]!));
    }
    this.start();
  }

  /** The lr of each group at `epoch`; with `cycleMomentum`, sets each group's momentum too. */
  protected lrAt(epoch: number): number[] {
    if (epoch > this.totalSteps) throw new RangeError(`OneCycleLR: tried to step ${epoch + 1} times; totalSteps is ${this.totalSteps}`);
    return this.optimizer.paramGroups.map((g, i) => {
      const lr = { initial: this.baseLrs[i]!, max: this.#maxLrs[i]!, min: this.#minLrs[i]! };
      const momentum = { max: this.#maxMomentums[i]!, base: this.#baseMomentums[i]! };
      let start = 0;
      for (const [k, phase] of this.#phases.entries()) {
        if (epoch <= phase.end || k === this.#phases.length - 1) {
          const pct = (epoch - start) / (phase.end - start);
          if (this.cycleMomentum) this.optimizer.setMomentum(g, this.#anneal(momentum[phase.momentum[0]], momentum[phase.momentum[1]], pct));
          return this.#anneal(lr[phase.lr[0]], lr[phase.lr[1]], pct);
        }
        start = phase.end;
      }
      throw new Error('unreachable');
    });
  }
}

function perGroup(name: string, v: number | number[], n: number): number[] {
  if (!Array.isArray(v)) return new Array<number>(n).fill(v);
  if (v.length !== n) throw new RangeError(`OneCycleLR: expected ${n} values for ${name}, got ${v.length}`);
  return [...v];
}

/** Cosine from `start` to `end` as pct goes 0 → 1 (PyTorch's `_annealing_cos`). */
const annealCos = (start: number, end: number, pct: number): number => end + ((start - end) / 2.0) * (Math.cos(Math.PI * pct) + 1);

const annealLinear = (start: number, end: number, pct: number): number => (end - start) * pct + start;
