// Kestrel side of the training benchmark (peer: bench/train.py). One full training step per
// iteration (forward, cross-entropy, backward, optimizer step) on synthetic, seeded tensors held in
// memory. Prints one JSON line: {"imgPerSec", "peakRssMB" (peak resident set size of the whole
// process), "cacheMisses", "cacheReservedMB" (the caching allocator, over the timed steps)}.
// Run by bench/run.mjs as
//   node dist/bench/train.js --model NAME --batch N --channels C --img S [--patch P]
//        --opt adam|sgd|adamw --threads N --steps N --warmup N
import { parseArgs } from 'node:util';
import { createModel, MODELS, isModelName } from '../src/models/index.js';
import { F } from '../src/nn/index.js';
import { Adam, AdamW, SGD } from '../src/optim/index.js';
import { cacheInfo, manualSeed, randint, randn, setNumThreads, tidy } from '../src/tensor/index.js';
import { rssMB } from './rss.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    batch: { type: 'string' },
    channels: { type: 'string' },
    img: { type: 'string' },
    patch: { type: 'string' },
    opt: { type: 'string' },
    threads: { type: 'string', default: '2' },
    steps: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '3' },
  },
});
const int = (name: string, v: string | undefined): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`--${name} must be a non-negative integer, got ${v}`);
  return n;
};
const model = values.model ?? 'smallcnn';
const batch = int('batch', values.batch ?? '64');
const channels = int('channels', values.channels ?? '3');
const img = int('img', values.img ?? '32');
const steps = int('steps', values.steps);
const warmup = int('warmup', values.warmup);

setNumThreads(int('threads', values.threads));
manualSeed(0);
const net = createModel(model, {
  numClasses: 10,
  inChannels: channels,
  imgSize: img,
  ...(values.patch === undefined ? {} : { patchSize: int('patch', values.patch) }),
});
net.train();
// The trainer's layout: channels-last for the CNNs (MODELS[name].channelsLast), NCHW for the ViT.
const channelsLast = isModelName(model) && MODELS[model].channelsLast;
if (channelsLast) net.memoryFormat('channelsLast');
const params = net.parameters();
const opt = (() => {
  switch (values.opt) {
    case 'adam': return new Adam(params, { lr: 1e-3 });
    case 'adamw': return new AdamW(params, { lr: 1e-3, weightDecay: 0.05 });
    case 'sgd': return new SGD(params, { lr: 0.01, momentum: 0.9 });
    default: throw new Error(`--opt must be adam, adamw or sgd, got ${values.opt}`);
  }
})();
const x = channelsLast ? randn([batch, channels, img, img]).contiguous(true) : randn([batch, channels, img, img]);
const y = randint(0, 10, [batch]);
const step = (): void =>
  tidy(() => {
    const loss = F.crossEntropy(net.forward(x), y);
    loss.backward();
    opt.step();
    opt.zeroGrad();
  });
for (let i = 0; i < warmup; i++) step();
const before = cacheInfo();
const t0 = performance.now();
for (let i = 0; i < steps; i++) step();
const dt = (performance.now() - t0) / 1000;
const after = cacheInfo();
// cacheMisses: tensor blocks newly mapped during the timed steps (0 once the caching allocator is warm).
console.log(JSON.stringify({ imgPerSec: (steps * batch) / dt, peakRssMB: rssMB(), cacheMisses: after.misses - before.misses, cacheReservedMB: Math.round(after.reserved / 2 ** 20) }));
