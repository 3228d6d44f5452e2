// One full training step on a fixed batch, inside tidy(): forward, cross-entropy, backward,
// optimizer step, zeroed gradients. Returns the loss. For the tests that watch memory over a loop.
import { F } from '../../src/nn/index.js';
import { tidy, type Tensor } from '../../src/tensor/index.js';

export const trainingStep = (model: { forward(x: Tensor): Tensor }, opt: { step(): void; zeroGrad(): void }, x: Tensor, y: Tensor) => (): number =>
  tidy(() => {
    const loss = F.crossEntropy(model.forward(x), y);
    loss.backward();
    opt.step();
    opt.zeroGrad();
    return loss.item();
  });
