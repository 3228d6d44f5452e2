/**
 * Exponential moving average of a model's weights (timm's ModelEma, Ultralytics' ModelEMA):
 * evaluation with the averaged weights is usually better than with the last ones.
 */
import type { Module } from '../nn/module.js';
import { isFloating } from '../tensor/dtype.js';
import { noGrad } from '../tensor/runtime.js';
import { keep, tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';

/** What the EMA reads and writes: a module's state dict. */
export type HasStateDict = Pick<Module, 'stateDict' | 'loadStateDict'>;

export interface ModelEMAOptions {
  /** The decay once warmed up. Default 0.9999. */
  decay?: number;
  /** Warm-up time constant in updates: `decay · (1 − exp(−updates / tau))`; 0 turns warm-up off. Default 2000. */
  tau?: number;
  /** Updates already done (when resuming without a state dict). Default 0. */
  updates?: number;
}

export interface ModelEMAStateDict {
  /** The averaged tensors by the model's state-dict names (the EMA's own: do not dispose). */
  state: Map<string, Tensor>;
  meta: { updates: number; decay: number; tau: number };
}

/**
 * Keeps its own copy of every tensor in the model's state dict. After each optimizer step,
 * `update(model)` moves floating tensors towards the model's (`e = d·e + (1 − d)·m`) and copies
 * integer ones (`num_batches_tracked`); `applyTo(model)` loads the averages into a model.
 *
 * @example
 * const ema = new ModelEMA(model, { decay: 0.9999, tau: 2000 });
 * for (const [x, y] of batches) {
 *   tidy(() => { F.crossEntropy(model.forward(x), y).backward(); opt.step(); opt.zeroGrad(); });
 *   ema.update(model);
 * }
 * ema.applyTo(evalModel);
 */
export class ModelEMA {
  readonly decay: number;
  readonly tau: number;
  /** Number of `update` calls (saved in the state dict: the warm-up depends on it). */
  updates: number;
  readonly #state: Map<string, Tensor>;

  constructor(model: HasStateDict, opts: ModelEMAOptions = {}) {
    this.decay = opts.decay ?? 0.9999;
    this.tau = opts.tau ?? 2000;
    this.updates = opts.updates ?? 0;
    if (!(this.decay >= 0 && this.decay <= 1)) throw new RangeError(`ModelEMA: decay must be in [0, 1], got ${this.decay}`);
    if (!(this.tau >= 0)) throw new RangeError(`ModelEMA: tau must be >= 0, got ${this.tau}`);
    this.#state = noGrad(() => tidy(() => new Map([...model.stateDict()].map(([k, t]) => [k, keep(t.clone())]))));
  }

  /** The decay the next update uses, given `updates` already done (warm-up included). */
  decayAt(updates: number): number {
    return this.tau > 0 ? this.decay * (1 - Math.exp(-updates / this.tau)) : this.decay;
  }

  /** The averaged tensors by name (the EMA's own: read them, do not dispose them). */
  get state(): ReadonlyMap<string, Tensor> {
    return this.#state;
  }

  /** Folds the model's current state into the average. */
  update(model: HasStateDict): void {
    this.updates += 1;
    const d = this.decayAt(this.updates);
    const current = model.stateDict();
    for (const k of this.#state.keys()) if (!current.has(k)) throw new Error(`ModelEMA.update(): the model has no '${k}'`);
    noGrad(() =>
      tidy(() => {
        for (const [k, e] of this.#state) {
          const m = current.get(k)!;
          if (isFloating(e.dtype)) e.mul_(d).add_(m.mul(1 - d));
          else e.copy_(m);
        }
      }),
    );
  }

  /** Copies the averages into `model` (same names and shapes). */
  applyTo(model: HasStateDict): void {
    model.loadStateDict(this.#state);
  }

  stateDict(): ModelEMAStateDict {
    return { state: new Map(this.#state), meta: { updates: this.updates, decay: this.decay, tau: this.tau } };
  }

  /** Copies saved averages into this EMA's tensors and restores the update count. */
  loadStateDict(sd: ModelEMAStateDict): void {
    for (const [k, e] of this.#state) {
      const src = sd.state.get(k);
      if (src === undefined) throw new Error(`ModelEMA.loadStateDict(): missing '${k}'`);
      if (src.shape.join() !== e.shape.join()) throw new Error(`ModelEMA.loadStateDict(): '${k}' has shape [${src.shape.join(', ')}], expected [${e.shape.join(', ')}]`);
    }
    noGrad(() => tidy(() => {
      for (const [k, e] of this.#state) e.copy_(sd.state.get(k)!);
    }));
    this.updates = sd.meta.updates;
  }

  /** Frees the averaged tensors. Safe to call twice. */
  dispose(): void {
    for (const t of this.#state.values()) t.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
