/**
 * Stochastic gradient descent with momentum, as torch/optim/sgd.py (1.13) computes it:
 *   d = grad + wd·p;  buf = d (first step) or momentum·buf + (1 − dampening)·d;
 *   d = d + momentum·buf (Nesterov) or buf;  p -= lr·d
 */
import { callMany, callVoid, type Tensor } from '../tensor/tensor.js';
import { Optimizer, type GroupOptions, type ParamGroup, type Params, type Slot } from './optimizer.js';

export interface SGDOptions extends GroupOptions {
  momentum: number;
  dampening: number;
  nesterov: boolean;
  /** Ascend instead of descend. */
  maximize: boolean;
  /** Update the group's tensors with fused `_foreach_*` ops (same values, fewer native calls). */
  foreach: boolean;
}

const DEFAULTS: Omit<SGDOptions, 'lr'> = { momentum: 0, dampening: 0, nesterov: false, weightDecay: 0, maximize: false, foreach: true };

/**
 * SGD with optional momentum, dampening, Nesterov momentum and (L2) weight decay.
 *
 * @example
 * const opt = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9, weightDecay: 5e-4 });
 * tidy(() => {
 *   F.crossEntropy(model.forward(x), y).backward();
 *   opt.step();
 *   opt.zeroGrad();
 * });
 */
export class SGD extends Optimizer<SGDOptions> {
  readonly name = 'SGD';

  constructor(params: Params<SGDOptions>, options: Partial<SGDOptions> & { lr: number }) {
    super(params, { ...DEFAULTS, ...options });
  }

  protected override validate(g: ParamGroup<SGDOptions>): void {
    if (!(g.lr >= 0)) throw new RangeError(`SGD: invalid lr ${g.lr}`);
    if (!(g.momentum >= 0)) throw new RangeError(`SGD: invalid momentum ${g.momentum}`);
    if (!(g.weightDecay >= 0)) throw new RangeError(`SGD: invalid weightDecay ${g.weightDecay}`);
    if (g.nesterov && (g.momentum <= 0 || g.dampening !== 0)) throw new RangeError('SGD: Nesterov momentum needs momentum > 0 and dampening 0');
  }

  override getMomentum(g: ParamGroup<SGDOptions>): number {
    return g.momentum;
  }

  override setMomentum(g: ParamGroup<SGDOptions>, value: number): void {
    g.momentum = value;
  }

  protected override updateGroup(g: ParamGroup<SGDOptions>, slots: Slot[]): void {
    if (g.foreach) this.#multi(g, slots);
    else for (const s of slots) this.#single(g, s);
  }

  /** torch/optim/sgd.py `_single_tensor_sgd`, one parameter. */
  #single(g: ParamGroup<SGDOptions>, s: Slot): void {
    let d = g.maximize ? s.grad.neg() : s.grad;
    if (g.weightDecay !== 0) d = d.add(s.param, g.weightDecay);
    if (g.momentum !== 0) {
      const fresh = !s.state.tensors.has('momentum_buffer');
      const buf = this.stateTensor(s, 'momentum_buffer', () => d.clone());
      if (!fresh) buf.mul_(g.momentum).add_(d, 1 - g.dampening);
      d = g.nesterov ? d.add(buf, g.momentum) : buf;
    }
    s.param.add_(d, -g.lr);
  }

  /** The same arithmetic over the whole group with `_foreach_*` ops. */
  #multi(g: ParamGroup<SGDOptions>, slots: Slot[]): void {
    const params = slots.map((s) => s.param);
    let d = slots.map((s) => s.grad);
    if (g.maximize) d = callMany('_foreach_neg', d);
    if (g.weightDecay !== 0) d = callMany('_foreach_add.List', d, params, g.weightDecay);
    if (g.momentum !== 0) {
      const old = slots.map((s, i) => [s.state.tensors.get('momentum_buffer'), d[i]!] as const).filter(([b]) => b !== undefined);
      if (old.length > 0) {
        const bufs = old.map(([b]) => b as Tensor);
        callVoid('_foreach_mul_.Scalar', bufs, g.momentum);
        callVoid('_foreach_add_.List', bufs, old.map(([, x]) => x), 1 - g.dampening);
      }
      const bufs = slots.map((s, i) => this.stateTensor(s, 'momentum_buffer', () => d[i]!.clone()));
      d = g.nesterov ? callMany('_foreach_add.List', d, bufs, g.momentum) : bufs;
    }
    callVoid('_foreach_add_.List', params, d, -g.lr);
  }
}
