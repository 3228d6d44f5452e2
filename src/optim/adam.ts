/**
 * Adam (https://arxiv.org/abs/1412.6980) and AdamW (https://arxiv.org/abs/1711.05101), as
 * torch/optim/adam.py and adamw.py (1.13) compute them:
 *   m = β1·m + (1 − β1)·g;  v = β2·v + (1 − β2)·g²;  v̂ = max(v̂, v) (amsgrad)
 *   p -= lr / (1 − β1^t) · m / (sqrt(v) / sqrt(1 − β2^t) + eps)
 * Adam adds weight decay to the gradient (g += wd·p); AdamW decays the weights (p *= 1 − lr·wd).
 */
import { adamStep, hasFusedAdam } from '../tensor/fused.js';
import { callMany, callVoid, type Tensor } from '../tensor/tensor.js';
import { zerosLike } from '../tensor/creation.js';
import { Optimizer, type GroupOptions, type ParamGroup, type Params, type Slot } from './optimizer.js';

export interface AdamOptions extends GroupOptions {
  betas: [number, number];
  eps: number;
  /** Normalise by the running maximum of the second moment (https://openreview.net/forum?id=ryQu7f-RZ). */
  amsgrad: boolean;
  /** Ascend instead of descend. */
  maximize: boolean;
  /** Update the group's tensors with fused `_foreach_*` ops (same values, fewer native calls). */
  foreach: boolean;
  /**
   * Update every float32 CPU parameter, its moments and gradient in one native pass (the same
   * arithmetic to float rounding); takes precedence over `foreach` where it applies.
   */
  fused: boolean;
}

/** What the fused kernel takes: float32 on the CPU (its layout is the kernel's concern). */
const fusable = (t: Tensor): boolean => t.dtype === 'float32' && t.device === 'cpu';

const DEFAULTS: AdamOptions = { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false, foreach: true, fused: true };

/**
 * Adam, with L2 weight decay added to the gradient.
 *
 * @example
 * const opt = new Adam(model.parameters(), { lr: 1e-3 });
 * tidy(() => {
 *   F.crossEntropy(model.forward(x), y).backward();
 *   opt.step();
 *   opt.zeroGrad();
 * });
 */
export class Adam extends Optimizer<AdamOptions> {
  readonly name: string = 'Adam';
  /** AdamW's decoupled weight decay instead of L2 on the gradient. */
  protected readonly decoupled: boolean = false;

  constructor(params: Params<AdamOptions>, options: Partial<AdamOptions> = {}) {
    super(params, { ...DEFAULTS, ...options });
  }

  protected override validate(g: ParamGroup<AdamOptions>): void {
    const [b1, b2] = g.betas;
    if (!(g.lr >= 0)) throw new RangeError(`${this.constructor.name}: invalid lr ${g.lr}`);
    if (!(g.eps >= 0)) throw new RangeError(`${this.constructor.name}: invalid eps ${g.eps}`);
    if (!(b1 >= 0 && b1 < 1) || !(b2 >= 0 && b2 < 1)) throw new RangeError(`${this.constructor.name}: invalid betas [${b1}, ${b2}]`);
    if (!(g.weightDecay >= 0)) throw new RangeError(`${this.constructor.name}: invalid weightDecay ${g.weightDecay}`);
  }

  override getMomentum(g: ParamGroup<AdamOptions>): number {
    return g.betas[0];
  }

  override setMomentum(g: ParamGroup<AdamOptions>, value: number): void {
    g.betas = [value, g.betas[1]];
  }

  protected override updateGroup(g: ParamGroup<AdamOptions>, slots: Slot[]): void {
    for (const s of slots) {
      this.stateTensor(s, 'exp_avg', () => zerosLike(s.param));
      this.stateTensor(s, 'exp_avg_sq', () => zerosLike(s.param));
      if (g.amsgrad) this.stateTensor(s, 'max_exp_avg_sq', () => zerosLike(s.param));
    }
    if (g.fused && hasFusedAdam() && slots.every((s) => fusable(s.param) && fusable(s.grad))) {
      this.#fused(g, slots);
      return;
    }
    if (!g.foreach) {
      for (const s of slots) this.#single(g, s);
      return;
    }
    // The bias corrections depend on the step count, which differs for a parameter that missed
    // steps (no gradient): one fused update per distinct count.
    const byStep = new Map<number, Slot[]>();
    for (const s of slots) byStep.set(s.state.step, [...(byStep.get(s.state.step) ?? []), s]);
    for (const [step, bucket] of byStep) this.#multi(g, bucket, step);
  }

  /** The step's scalars, in double precision as in PyTorch. */
  #scalars(g: ParamGroup<AdamOptions>, step: number): { stepSize: number; bc2Sqrt: number } {
    const [b1, b2] = g.betas;
    return { stepSize: g.lr / (1 - b1 ** step), bc2Sqrt: Math.sqrt(1 - b2 ** step) };
  }

  /** torch/optim/adam.py `_single_tensor_adam` (adamw.py `_single_tensor_adamw`), one parameter. */
  #single(g: ParamGroup<AdamOptions>, s: Slot): void {
    const [b1, b2] = g.betas;
    const t = s.state.tensors;
    const [m, v] = [t.get('exp_avg')!, t.get('exp_avg_sq')!];
    let grad = g.maximize ? s.grad.neg() : s.grad;
    if (this.decoupled) {
      if (g.weightDecay !== 0) s.param.mul_(1 - g.lr * g.weightDecay);
    } else if (g.weightDecay !== 0) {
      grad = grad.add(s.param, g.weightDecay);
    }
    m.mul_(b1).add_(grad, 1 - b1);
    v.mul_(b2).addcmul_(grad, grad, 1 - b2);
    const { stepSize, bc2Sqrt } = this.#scalars(g, s.state.step);
    let second = v;
    if (g.amsgrad) {
      second = t.get('max_exp_avg_sq')!;
      callVoid('maximum.out', second, v, second);
    }
    const denom = second.sqrt().div(bc2Sqrt).add_(g.eps);
    s.param.addcdiv_(m, denom, -stepSize);
  }

  /** The same arithmetic in one native pass over every parameter (src/tensor/fused.ts). */
  #fused(g: ParamGroup<AdamOptions>, slots: Slot[]): void {
    const state = (name: string): Tensor[] => slots.map((s) => s.state.tensors.get(name)!);
    const scalars = slots.map((s) => this.#scalars(g, s.state.step));
    const decay = this.decoupled && g.weightDecay !== 0 ? 1 - g.lr * g.weightDecay : 1;
    adamStep(slots.map((s) => s.param), slots.map((s) => s.grad), state('exp_avg'), state('exp_avg_sq'), g.amsgrad ? state('max_exp_avg_sq') : null, {
      beta1: g.betas[0],
      beta2: g.betas[1],
      eps: g.eps,
      l2: this.decoupled ? 0 : g.weightDecay,
      decay,
      maximize: g.maximize,
      stepSizes: scalars.map((c) => c.stepSize),
      bc2Sqrts: scalars.map((c) => c.bc2Sqrt),
    });
  }

  /** The same arithmetic over parameters with equal step counts, with `_foreach_*` ops. */
  #multi(g: ParamGroup<AdamOptions>, slots: Slot[], step: number): void {
    const [b1, b2] = g.betas;
    const params = slots.map((s) => s.param);
    const state = (name: string): Tensor[] => slots.map((s) => s.state.tensors.get(name)!);
    const [m, v] = [state('exp_avg'), state('exp_avg_sq')];
    let grads = slots.map((s) => s.grad);
    if (g.maximize) grads = callMany('_foreach_neg', grads);
    if (this.decoupled) {
      if (g.weightDecay !== 0) callVoid('_foreach_mul_.Scalar', params, 1 - g.lr * g.weightDecay);
    } else if (g.weightDecay !== 0) {
      grads = callMany('_foreach_add.List', grads, params, g.weightDecay);
    }
    callVoid('_foreach_mul_.Scalar', m, b1);
    callVoid('_foreach_add_.List', m, grads, 1 - b1);
    callVoid('_foreach_mul_.Scalar', v, b2);
    callVoid('_foreach_addcmul_.Scalar', v, grads, grads, 1 - b2);
    const { stepSize, bc2Sqrt } = this.#scalars(g, step);
    let second = v;
    if (g.amsgrad) {
      second = state('max_exp_avg_sq');
      callVoid('_foreach_maximum_.List', second, v);
    }
    const denom = callMany('_foreach_sqrt', second);
    callVoid('_foreach_div_.Scalar', denom, bc2Sqrt);
    callVoid('_foreach_add_.Scalar', denom, g.eps);
    callVoid('_foreach_addcdiv_.Scalar', params, m, denom, -stepSize);
  }
}

/**
 * AdamW: Adam with decoupled weight decay (default 1e-2).
 *
 * @example
 * const opt = new AdamW(model.parameters(), { lr: 1e-3, weightDecay: 0.05 });
 * const sched = new CosineAnnealingLR(opt, { tMax: 100 });
 * // per step: loss.backward(); opt.step(); opt.zeroGrad(); sched.step();
 */
export class AdamW extends Adam {
  override readonly name: string = 'AdamW';
  protected override readonly decoupled: boolean = true;

  constructor(params: Params<AdamOptions>, options: Partial<AdamOptions> = {}) {
    super(params, { weightDecay: 1e-2, ...options });
  }
}
