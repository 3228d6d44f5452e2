/** Fused kernels of the addon that update many tensors in one native call (optimizer steps). */
import { native, type TensorHandle } from '../native/index.js';
import type { Tensor } from './tensor.js';

/** The scalars of one fused Adam step; the optimizer computes them (see src/optim/adam.ts). */
export interface AdamStepScalars {
  beta1: number;
  beta2: number;
  eps: number;
  /** Weight decay added to the gradient (Adam's L2); 0 for none. */
  l2: number;
  /** The multiplier applied to each parameter before its update (AdamW's 1 − lr·wd); 1 for none. */
  decay: number;
  maximize: boolean;
  /** Per parameter: lr / (1 − β1^t). */
  stepSizes: number[];
  /** Per parameter: √(1 − β2^t). */
  bc2Sqrts: number[];
}

/**
 * Whether the loaded addon has the fused Adam kernel: an addon built before it (a build/ shared
 * with an older checkout) lacks it, and the optimizers then take their `_foreach_*` path.
 */
export const hasFusedAdam = (): boolean => native().adamStep !== undefined;

/**
 * One Adam update of every parameter, its moments (and amsgrad's running maximum) in place, in a
 * single pass over each tensor's float32 buffer. Every tensor must be float32 on the CPU; each
 * state tensor is laid out like its parameter.
 */
export function adamStep(params: Tensor[], grads: Tensor[], expAvgs: Tensor[], expAvgSqs: Tensor[], maxExpAvgSqs: Tensor[] | null, s: AdamStepScalars): void {
  const h = (ts: Tensor[]): TensorHandle[] => ts.map((t) => t.handle);
  const addon = native();
  if (addon.adamStep === undefined) throw new Error('this build of the addon has no fused Adam kernel: rebuild it with npm run build:native');
  addon.adamStep(h(params), h(grads), h(expAvgs), h(expAvgSqs), maxExpAvgSqs === null ? null : h(maxExpAvgSqs), s);
}
