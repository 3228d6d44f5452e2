// Kestrel side of the segmentation training benchmark (peer: bench/train-segment.py). One full
// training step per iteration: train-mode forward of a segmentation model, per-pixel
// cross-entropy against a seeded random mask, backward, AdamW step, on one seeded random batch held
// in memory, channels-last on both sides (MODELS[name].channelsLast). Prints one JSON line:
// {"imgPerSec", "peakRssMB" (peak resident set size of the whole process), "firstLoss" (the loss of
// the first, untimed step: the same seed gives PyTorch's side the same weights, input and masks),
// "cacheMisses", "cacheReservedMB" (the caching allocator, over the timed steps)}. Run by
// bench/run.mjs as
//   node dist/bench/train-segment.js --model unet --batch N --channels C --img S --classes N
//        --threads N --steps N --warmup N
import { parseArgs } from 'node:util';
import { createSegmenter, isSegmenterName, MODELS } from '../src/models/index.js';
import { F } from '../src/nn/index.js';
import { AdamW } from '../src/optim/index.js';
import { cacheInfo, manualSeed, randint, randn, setNumThreads, tidy } from '../src/tensor/index.js';
import { rssMB } from './rss.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'unet' },
    batch: { type: 'string', default: '8' },
    channels: { type: 'string', default: '1' },
    img: { type: 'string', default: '128' },
    classes: { type: 'string', default: '11' },
    threads: { type: 'string', default: '2' },
    steps: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
  },
});
const int = (name: string, v: string | undefined): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`--${name} must be a non-negative integer, got ${v}`);
  return n;
};
const model = values.model!;
if (!isSegmenterName(model)) throw new Error(`--model must be a segmentation model, got ${model}`);
const [batch, channels, img, nc] = [int('batch', values.batch), int('channels', values.channels), int('img', values.img), int('classes', values.classes)];
const [steps, warmup] = [int('steps', values.steps), int('warmup', values.warmup)];

setNumThreads(int('threads', values.threads));
manualSeed(0);
const net = createSegmenter(model, { numClasses: nc, inChannels: channels, imgSize: img });
net.train();
const channelsLast = MODELS[model].channelsLast;
if (channelsLast) net.memoryFormat('channelsLast');
const opt = new AdamW(net.parameters(), { lr: 1e-3, weightDecay: 1e-4 });
const x = channelsLast ? randn([batch, channels, img, img]).contiguous(true) : randn([batch, channels, img, img]);
const masks = randint(0, nc, [batch, img, img]);
const step = (): number =>
  tidy(() => {
    const loss = F.crossEntropy(net.forward(x), masks);
    loss.backward();
    opt.step();
    opt.zeroGrad();
    return loss.item();
  });
const firstLoss = step();
for (let i = 1; i < warmup; i++) step();
const before = cacheInfo();
const t0 = performance.now();
for (let i = 0; i < steps; i++) step();
const dt = (performance.now() - t0) / 1000;
const after = cacheInfo();
console.log(JSON.stringify({
  imgPerSec: (steps * batch) / dt, peakRssMB: rssMB(), firstLoss,
  cacheMisses: after.misses - before.misses, cacheReservedMB: Math.round(after.reserved / 2 ** 20),
}));
