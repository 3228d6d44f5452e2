// Kestrel side of the smallcnn training benchmark (see bench/smallcnn_train.py for the peer).
// Prints one JSON line: {"imgPerSec": ...}. Args: threads steps.
import { smallCnn } from '../src/demo/mnist.js';
import { F } from '../src/nn/index.js';
import { AdamW } from '../src/optim/index.js';
import { manualSeed, randint, randn, setNumThreads, tidy } from '../src/tensor/index.js';

const threads = Number(process.argv[2] ?? 2);
const steps = Number(process.argv[3] ?? 200);
setNumThreads(threads);
manualSeed(0);
const model = smallCnn();
const opt = new AdamW(model.parameters(), { lr: 1e-3 });
const x = randn([64, 1, 28, 28]);
const y = randint(0, 10, [64]);
const step = (): void =>
  tidy(() => {
    const loss = F.crossEntropy(model.forward(x), y);
    loss.backward();
    opt.step();
    opt.zeroGrad();
  });
for (let i = 0; i < 20; i++) step();
const t0 = performance.now();
for (let i = 0; i < steps; i++) step();
const dt = (performance.now() - t0) / 1000;
console.log(JSON.stringify({ imgPerSec: (steps * 64) / dt }));
