// Where a training step's time goes, phase by phase (forward + loss, backward, optimizer step,
// zeroGrad), for the same models and arguments as bench/train.ts; CPU ops finish before they
// return, so wall time per phase needs no sync. Prints one JSON line of milliseconds per step.
//   node dist/bench/train-phases.js --model vit_tiny --batch 64 --img 32 --patch 4 --opt adamw
import { parseArgs } from 'node:util';
import { createModel } from '../src/models/index.js';
import { F } from '../src/nn/index.js';
import { Adam, AdamW, SGD } from '../src/optim/index.js';
import { manualSeed, randint, randn, setNumThreads, tidy } from '../src/tensor/index.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'vit_tiny' },
    batch: { type: 'string', default: '64' },
    channels: { type: 'string', default: '3' },
    img: { type: 'string', default: '32' },
    patch: { type: 'string', default: '4' },
    opt: { type: 'string', default: 'adamw' },
    threads: { type: 'string', default: '2' },
    steps: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '2' },
  },
});
const [batch, channels, img] = [Number(values.batch), Number(values.channels), Number(values.img)];
setNumThreads(Number(values.threads));
manualSeed(0);
const net = createModel(values.model!, { numClasses: 10, inChannels: channels, imgSize: img, patchSize: Number(values.patch) });
net.train();
const params = net.parameters();
const opt = values.opt === 'sgd' ? new SGD(params, { lr: 0.01, momentum: 0.9 })
  : values.opt === 'adam' ? new Adam(params, { lr: 1e-3 }) : new AdamW(params, { lr: 1e-3, weightDecay: 0.05 });
const x = randn([batch, channels, img, img]);
const y = randint(0, 10, [batch]);
const totals = { forward: 0, backward: 0, step: 0, zeroGrad: 0 };
const steps = Number(values.steps);
for (let i = 0; i < Number(values.warmup) + steps; i++) {
  const timed = i >= Number(values.warmup);
  tidy(() => {
    const t0 = performance.now();
    const loss = F.crossEntropy(net.forward(x), y);
    const t1 = performance.now();
    loss.backward();
    const t2 = performance.now();
    opt.step();
    const t3 = performance.now();
    opt.zeroGrad();
    const t4 = performance.now();
    if (timed) {
      totals.forward += t1 - t0;
      totals.backward += t2 - t1;
      totals.step += t3 - t2;
      totals.zeroGrad += t4 - t3;
    }
  });
}
console.log(JSON.stringify(Object.fromEntries(Object.entries(totals).map(([k, v]) => [k, Math.round((v / steps) * 10) / 10]))));
