/**
 * The optimizer base: parameter groups with per-group hyperparameters, lazily created
 * per-parameter state that lives outside every scope, and a state dict for exact resume.
 * Subclasses supply `updateGroup`, the arithmetic of one step for one group.
 */
import { zerosLike } from '../tensor/creation.js';
import { noGrad } from '../tensor/runtime.js';
import { keep, tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';

export type JsonValue = number | boolean | string | null | JsonValue[] | { [key: string]: JsonValue };

/** Hyperparameters every parameter group has. */
export interface GroupOptions {
  lr: number;
  weightDecay: number;
}

/** A parameter group: its tensors and its hyperparameters (mutable: schedulers set `lr`). */
export type ParamGroup<O extends GroupOptions> = O & {
  params: Tensor[];
  /** The lr a scheduler started from (PyTorch's `initial_lr`); set by the first scheduler. */
  initialLr?: number;
};

/** What optimizers take: a list of parameters, or groups that override the defaults. */
export type Params<O extends GroupOptions> = readonly Tensor[] | readonly (Partial<O> & { params: readonly Tensor[] })[];

/** One parameter's state: how many updates it has had and its named tensors (`exp_avg`, …). */
export interface ParamState {
  step: number;
  readonly tensors: Map<string, Tensor>;
}

/** A parameter with a gradient, handed to `updateGroup`; `grad` is freed after the step. */
export interface Slot {
  param: Tensor;
  grad: Tensor;
  state: ParamState;
}

export interface OptimizerMeta {
  optimizer: string;
  /** Each group's hyperparameters and the indices of its parameters (counted across groups). */
  paramGroups: { [key: string]: JsonValue; params: number[] }[];
  /** Update count of each parameter that has state, by parameter index. */
  steps: Record<string, number>;
}

/** An optimizer's state: tensors keyed `state.<paramIndex>.<name>` plus JSON-able `meta`. */
export interface OptimizerStateDict {
  state: Map<string, Tensor>;
  meta: OptimizerMeta;
}

function isGroupList<O extends GroupOptions>(p: Params<O>): p is readonly (Partial<O> & { params: readonly Tensor[] })[] {
  return p.length > 0 && 'params' in (p[0] as object);
}

/** A plain copy of a hyperparameter value (betas tuples become fresh arrays). */
const jsonCopy = (v: unknown): JsonValue => (Array.isArray(v) ? v.map(jsonCopy) : (v as JsonValue));

/**
 * Base of the optimizers. `step()` runs without autograd and inside its own scope; per-parameter
 * state is created on a parameter's first update and freed by `dispose()`.
 *
 * @example
 * const opt = new SGD([{ params: backbone.parameters(), lr: 0.01 }, { params: head.parameters() }], { lr: 0.1 });
 * const saved = opt.stateDict();            // tensors + JSON-able meta, for a checkpoint
 * const resumed = new SGD(sameParams, { lr: 0.1 });
 * resumed.loadStateDict(saved);             // continues exactly where `opt` stopped
 */
export abstract class Optimizer<O extends GroupOptions = GroupOptions> {
  /** The groups, in order; change `lr` (or any hyperparameter) here between steps. */
  readonly paramGroups: ParamGroup<O>[];
  readonly #state = new Map<Tensor, ParamState>();
  /** The name written into `stateDict().meta.optimizer`, checked on load. */
  abstract readonly name: string;

  protected constructor(params: Params<O>, defaults: O) {
    const groups = isGroupList(params) ? params : [{ params: params as readonly Tensor[] }];
    if (groups.length === 0 || groups.every((g) => g.params.length === 0)) throw new Error('optimizer got an empty parameter list');
    const seen = new Set<Tensor>();
    this.paramGroups = groups.map((g) => {
      for (const p of g.params) {
        if (seen.has(p)) throw new Error('a parameter appears in more than one parameter group');
        seen.add(p);
      }
      const group = { ...defaults } as ParamGroup<O>;
      for (const [k, v] of Object.entries(g)) if (k !== 'params' && v !== undefined) (group as unknown as Record<string, unknown>)[k] = jsonCopy(v);
      group.params = [...g.params];
      this.validate(group);
      return group;
    });
  }

  /** Throws on hyperparameters the algorithm cannot use (called for every group). */
  protected abstract validate(group: ParamGroup<O>): void;

  /** One step's arithmetic for the parameters of `group` that have gradients. */
  protected abstract updateGroup(group: ParamGroup<O>, slots: Slot[]): void;

  /** The momentum a scheduler may cycle (SGD's momentum, Adam's beta1); null if there is none. */
  getMomentum(_group: ParamGroup<O>): number | null {
    return null;
  }

  setMomentum(_group: ParamGroup<O>, _value: number): void {
    throw new Error(`${this.name} has no momentum to set`);
  }

  /** The first group's learning rate. */
  get lr(): number {
    return this.paramGroups[0]!.lr;
  }

  /** Sets every group's learning rate. */
  set lr(value: number) {
    for (const g of this.paramGroups) g.lr = value;
  }

  /** Updates every parameter that has a gradient; parameters whose `grad` is null are skipped. */
  step(): void {
    noGrad(() =>
      tidy(() => {
        for (const group of this.paramGroups) {
          const slots: Slot[] = [];
          for (const param of group.params) {
            const grad = param.grad;
            if (grad === null) continue;
            const state = this.#stateOf(param);
            state.step += 1;
            slots.push({ param, grad, state });
          }
          if (slots.length > 0) this.updateGroup(group, slots);
        }
      }),
    );
  }

  /** Drops every parameter's gradient (PyTorch's `zero_grad(set_to_none=True)`). */
  zeroGrad(): void {
    for (const g of this.paramGroups) for (const p of g.params) p.grad = null;
  }

  #stateOf(p: Tensor): ParamState {
    let s = this.#state.get(p);
    if (s === undefined) {
      s = { step: 0, tensors: new Map() };
      this.#state.set(p, s);
    }
    return s;
  }

  /** The state tensor `name` of a slot, made by `init` on first use; it outlives every scope. */
  protected stateTensor(slot: Slot, name: string, init: () => Tensor): Tensor {
    let t = slot.state.tensors.get(name);
    if (t === undefined) {
      t = keep(init());
      slot.state.tensors.set(name, t);
    }
    return t;
  }

  /**
   * The state for saving: tensors keyed `state.<paramIndex>.<name>` (the optimizer's own
   * tensors: save or read them, do not dispose them) and JSON-able hyperparameters and steps.
   */
  stateDict(): OptimizerStateDict {
    const state = new Map<string, Tensor>();
    const steps: Record<string, number> = {};
    let index = 0;
    const paramGroups = this.paramGroups.map((group) => {
      const ids: number[] = [];
      for (const p of group.params) {
        const i = index++;
        ids.push(i);
        const s = this.#state.get(p);
        if (s === undefined) continue;
        steps[i] = s.step;
        for (const [name, t] of s.tensors) state.set(`state.${i}.${name}`, t);
      }
      const hyper: { [key: string]: JsonValue } = {};
      for (const [k, v] of Object.entries(group)) if (k !== 'params' && v !== undefined) hyper[k] = jsonCopy(v);
      return { ...hyper, params: ids };
    });
    return { state, meta: { optimizer: this.name, paramGroups, steps } };
  }

  /** Restores hyperparameters, step counts and state tensors (copied) from `stateDict()`'s output. */
  loadStateDict(sd: OptimizerStateDict): void {
    const { meta } = sd;
    if (meta.optimizer !== this.name) throw new Error(`loadStateDict(): state of ${meta.optimizer}, but this is ${this.name}`);
    if (meta.paramGroups.length !== this.paramGroups.length) {
      throw new Error(`loadStateDict(): ${meta.paramGroups.length} parameter groups saved, ${this.paramGroups.length} here`);
    }
    const params: Tensor[] = [];
    this.paramGroups.forEach((g, i) => {
      if (meta.paramGroups[i]!.params.length !== g.params.length) {
        throw new Error(`loadStateDict(): group ${i} has ${meta.paramGroups[i]!.params.length} parameters saved, ${g.params.length} here`);
      }
      params.push(...g.params);
    });
    const incoming = new Map<number, ParamState>();
    const entry = (i: number): ParamState => {
      if (!Number.isInteger(i) || params[i] === undefined) throw new Error(`loadStateDict(): no parameter ${i}`);
      let s = incoming.get(i);
      if (s === undefined) incoming.set(i, (s = { step: 0, tensors: new Map() }));
      return s;
    };
    for (const [i, step] of Object.entries(meta.steps)) entry(Number(i)).step = step;
    try {
      noGrad(() =>
        tidy(() => {
          for (const [key, t] of sd.state) {
            const m = /^state\.(\d+)\.(.+)$/.exec(key);
            if (m === null) throw new Error(`loadStateDict(): unexpected key '${key}'`);
            const s = entry(Number(m[1]));
            const p = params[Number(m[1])]!;
            if (t.shape.join() !== p.shape.join()) {
              throw new Error(`loadStateDict(): '${key}' has shape [${t.shape.join(', ')}], the parameter [${p.shape.join(', ')}]`);
            }
            // In the parameter's layout (channels-last included), as state made by zerosLike is:
            // the fused Adam kernel walks a parameter and its state as one flat buffer.
            s.tensors.set(m[2]!, keep(zerosLike(p).copy_(t)));
          }
        }),
      );
    } catch (e) {
      for (const s of incoming.values()) for (const t of s.tensors.values()) t.dispose();
      throw e;
    }
    this.#disposeState();
    for (const [i, s] of incoming) this.#state.set(params[i]!, s);
    this.paramGroups.forEach((g, i) => {
      for (const [k, v] of Object.entries(meta.paramGroups[i]!)) if (k !== 'params') (g as unknown as Record<string, unknown>)[k] = jsonCopy(v);
    });
  }

  #disposeState(): void {
    for (const s of this.#state.values()) for (const t of s.tensors.values()) t.dispose();
    this.#state.clear();
  }

  /** Frees the optimizer's state tensors (the parameters stay). Safe to call twice. */
  dispose(): void {
    this.#disposeState();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
