// Kestrel side of the inference benchmark (peer: bench/infer.py). Forward passes in eval mode with
// autograd off (as the predictor runs them) on one seeded random batch, after warm-up passes; a
// detector's pass includes decoding its maps into boxes and scores (its eval-mode output), a
// segmentation model's gives logits at the input size.
// Prints one JSON line: {"msPerBatch": median time of one pass, "imgPerSec": batch × iters / total
// time}. Run by bench/run.mjs as
//   node dist/bench/infer.js --model NAME --batch N --channels C --img S [--classes N] --threads N
//        --iters N --warmup N [--backend libtorch | --backend ort --onnx FILE]
// A backend builds a `pass` function; `ort` runs an ONNX file on onnxruntime-node with the same
// threads (the file must take an NCHW float32 batch of this shape).
import { parseArgs } from 'node:util';
import { createDetector, createModel, createSegmenter, isDetectorName, isModelName, isSegmenterName, MODELS } from '../src/models/index.js';
import { manualSeed, noGrad, randn, setNumThreads, tidy } from '../src/tensor/index.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'resnet18' },
    batch: { type: 'string', default: '1' },
    channels: { type: 'string', default: '3' },
    img: { type: 'string', default: '224' },
    classes: { type: 'string', default: '1000' },
    threads: { type: 'string', default: '2' },
    iters: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '3' },
    backend: { type: 'string', default: 'libtorch' },
    onnx: { type: 'string' },
  },
});
const int = (name: string, v: string | undefined): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`--${name} must be a non-negative integer, got ${v}`);
  return n;
};
const [batch, channels, img, threads] = [int('batch', values.batch), int('channels', values.channels), int('img', values.img), int('threads', values.threads)];
const [iters, warmup] = [Math.max(1, int('iters', values.iters)), int('warmup', values.warmup)];
const shape = [batch, channels, img, img];

type Pass = () => unknown;

function libtorch(): Pass {
  setNumThreads(threads);
  manualSeed(0);
  const opts = { numClasses: int('classes', values.classes), inChannels: channels, imgSize: img };
  const name = values.model!;
  const net = isDetectorName(name) ? createDetector(name, opts) : isSegmenterName(name) ? createSegmenter(name, opts) : createModel(name, opts);
  net.eval();
  // As `kestrel predict` and `val` run a checkpoint: channels-last for the CNNs.
  const channelsLast = isModelName(values.model!) && MODELS[values.model!].channelsLast;
  if (channelsLast) net.memoryFormat('channelsLast');
  const x = channelsLast ? randn(shape).contiguous(true) : randn(shape);
  return () => noGrad(() => tidy(() => void net.forward(x)));
}

async function ort(): Promise<Pass> {
  if (!values.onnx) throw new Error('--backend ort needs --onnx FILE');
  const { InferenceSession, Tensor } = await import('onnxruntime-node');
  const session = await InferenceSession.create(values.onnx, { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential' });
  const data = Float32Array.from({ length: batch * channels * img * img }, () => Math.random() * 2 - 1);
  const feeds = { [session.inputNames[0]!]: new Tensor('float32', data, shape) };
  return () => session.run(feeds);
}

const backends: Record<string, () => Pass | Promise<Pass>> = { libtorch, ort };
const make = backends[values.backend!];
if (!make) throw new Error(`--backend must be one of ${Object.keys(backends).join(', ')}, got ${values.backend}`);
const pass = await make();
for (let i = 0; i < warmup; i++) await pass();
const times: number[] = [];
for (let i = 0; i < iters; i++) {
  const t0 = performance.now();
  await pass();
  times.push(performance.now() - t0);
}
const sorted = [...times].sort((a, b) => a - b);
const mid = sorted.length >> 1;
const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
const total = times.reduce((a, b) => a + b, 0) / 1000;
console.log(JSON.stringify({ msPerBatch: median, imgPerSec: (batch * iters) / total }));
