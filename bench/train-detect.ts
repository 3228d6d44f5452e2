// Kestrel side of the detection training benchmark (peer: bench/train-detect.py). One full
// training step per iteration as `kestrel train` runs one for a detector (the detect task's loss
// hook and the trainer's update): train-mode forward, DetectionLoss (TAL + BCE + CIoU + DFL) on
// seeded synthetic boxes, backward, AdamW step, on one seeded random batch held in memory, laid
// out as the trainer lays the model out (MODELS[name].channelsLast). The trainer's EMA and
// learning-rate schedule are left out on both sides. Prints one JSON line: {"imgPerSec",
// "peakRssMB" (peak resident set size of the whole process), "firstLoss" (the loss of the first,
// untimed step: the same seed gives PyTorch's side the same weights, input and boxes),
// "cacheMisses", "cacheReservedMB" (the caching allocator, over the timed steps)}. Run by
// bench/run.mjs as
//   node dist/bench/train-detect.js --model yolov8n --batch N --img S --classes N --boxes N
//        --threads N --steps N --warmup N
import { parseArgs } from 'node:util';
import { createDetector, isDetectorName, MODELS } from '../src/models/index.js';
import { AdamW } from '../src/optim/index.js';
import { DetectionLoss } from '../src/tasks/detect/loss.js';
import { cacheInfo, manualSeed, randn, setNumThreads, tensor, tidy, type Tensor } from '../src/tensor/index.js';
import { rssMB } from './rss.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'yolov8n' },
    batch: { type: 'string', default: '8' },
    img: { type: 'string', default: '320' },
    classes: { type: 'string', default: '10' },
    boxes: { type: 'string', default: '5' },
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
if (!isDetectorName(model)) throw new Error(`--model must be a detection model, got ${model}`);
const [batch, img, nc, boxes] = [int('batch', values.batch), int('img', values.img), int('classes', values.classes), int('boxes', values.boxes)];
const [steps, warmup] = [int('steps', values.steps), int('warmup', values.warmup)];

/**
 * Rows (index in batch, class, x1, y1, x2, y2) in pixels: `perImage` boxes 16 to 112 px a side in
 * each image, drawn by a 32-bit LCG in integers, so bench/yolo.py's synthetic_targets draws the same.
 */
function syntheticTargets(n: number, side: number, classes: number, perImage: number, seed = 1): Tensor {
  let s = seed;
  const draw = (k: number): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s >>> 8) % k; // the low bits of an LCG have short periods
  };
  const rows: number[] = [];
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < perImage; i++) {
      const [w, h] = [16 + draw(97), 16 + draw(97)];
      const [x1, y1] = [draw(side - w + 1), draw(side - h + 1)];
      rows.push(b, draw(classes), x1, y1, x1 + w, y1 + h);
    }
  }
  return tensor(Float32Array.from(rows), { shape: [rows.length / 6, 6] });
}

setNumThreads(int('threads', values.threads));
manualSeed(0);
const net = createDetector(model, { numClasses: nc, inChannels: 3, imgSize: img });
net.train();
const channelsLast = MODELS[model].channelsLast;
if (channelsLast) net.memoryFormat('channelsLast');
// The weight decay `kestrel train` gives detectors (Ultralytics' 5e-4).
const opt = new AdamW(net.parameters(), { lr: 1e-3, weightDecay: 5e-4 });
const criterion = new DetectionLoss({ nc });
const x = channelsLast ? randn([batch, 3, img, img]).contiguous(true) : randn([batch, 3, img, img]);
const targets = syntheticTargets(batch, img, nc, boxes);
const step = (): number =>
  tidy(() => {
    const { loss } = criterion.forward(net.forward(x).maps, targets, [img, img]);
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
