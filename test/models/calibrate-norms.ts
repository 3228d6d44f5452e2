/**
 * Batch norms that behave like trained ones, for export tests of freshly built models: at init they
 * are identities and deep nets' activations shrink or grow layer by layer, so a wrong op could
 * hide under a tiny output. One train-mode pass over `x` with momentum 1 sets the running
 * statistics outright (variances floored at 1e-3: a channel dead after a ReLU would otherwise
 * scale rounding noise by 1/√eps), then the affine parameters are drawn at random.
 */
import { BatchNorm2d, type Module } from '../../src/nn/index.js';
import { noGrad, tidy, type Tensor } from '../../src/tensor/index.js';

export function calibrateNorms(model: Module<[Tensor], unknown>, x: Tensor): void {
  const norms = [...model.namedModules()].map(([, m]) => m).filter((m): m is BatchNorm2d => m instanceof BatchNorm2d);
  // momentum is fixed at construction; 1 makes the pass set the running statistics outright
  const setMomentum = (m: BatchNorm2d, v: number): void => void ((m as { momentum: number }).momentum = v);
  noGrad(() => {
    model.eval();
    for (const m of norms) [m.training] = [true, setMomentum(m, 1)];
    tidy(() => void model.forward(x));
    for (const m of norms) {
      [m.training] = [false, setMomentum(m, 0.1)];
      m.runningVar!.clamp_(1e-3, null);
      m.weight!.uniform_(0.5, 1.5);
      m.bias!.uniform_(-0.2, 0.2);
    }
  });
}
