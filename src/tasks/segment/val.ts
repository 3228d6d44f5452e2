/**
 * Evaluates a segmentation checkpoint (libtorch) or its `.onnx` export (ONNX Runtime) on a data
 * split through the shared Validator. Each image's
 * logits are resized to its own size before the argmax (postprocess.ts) and scored against its
 * mask as read from disk, so the metrics are those of the original pixels. The run folder holds
 * `metrics.json` (mIoU, mean Dice, pixel accuracy, per-class IoU and Dice, the confusion matrix,
 * and `files`: each image with its ground-truth mask and the predicted one), the predicted masks as
 * 8-bit PNGs under `masks/` at the ground-truth masks' relative paths, so anyone can recompute the
 * metrics, and the IoU bars and the confusion matrix.
 *
 * @example
 * const { metrics } = await valSegment({ weights: 'runs/segment/train/weights/best.safetensors', data: 'cells/data.yaml' });
 */
import { dirname, extname, join, relative, resolve, sep } from 'node:path';
import { decodeMask } from '../../data/image.js';
import { DataLoader } from '../../data/loader.js';
import { resolveSegmentData } from '../../data/segment.js';
import type { FileSource } from '../../data/source.js';
import type { TransformSpec } from '../../data/transforms.js';
import { loadCheckpoint } from '../../engine/checkpoint.js';
import { runValidation, type ValOptionsBase, type ValRun, type ValTask } from '../../engine/validator.js';
import { formatSegmentReport, SegmentConfusion, type SegmentMetrics } from '../../metrics/segment.js';
import { isModelName, MODELS, type SegmentationModel } from '../../models/registry.js';
import { iouBarPng, segmentConfusionPng } from '../../plot/index.js';
import { noGrad } from '../../tensor/runtime.js';
import { tidy } from '../../tensor/scope.js';
import type { Tensor } from '../../tensor/tensor.js';
import { encodeMaskPng, writeFileIn } from './masks.js';
import { maskFromLogits } from './postprocess.js';

export interface SegmentValOptions extends ValOptionsBase {
  batch?: number;
  workers?: number;
}

interface Scored {
  confusion: SegmentConfusion;
  /** Per scored image: its paths and the predicted mask, PNG-encoded (a few KB each, so a large split fits). */
  files: { image: string; truth: string; rel: string; png: Buffer }[];
}

/** The folder every path is under. */
function commonDir(paths: readonly string[]): string {
  if (paths.length === 0) return '';
  let dir = dirname(resolve(paths[0]!));
  while (!paths.every((p) => resolve(p).startsWith(dir + sep))) dir = dirname(dir);
  return dir;
}

/** What scores a batch: a checkpoint on libtorch or an exported `.onnx` on ONNX Runtime. */
interface Engine {
  classes: string[];
  transforms: TransformSpec[];
  trained?: { spec: string; seed: number; valFraction?: number } | undefined;
  epoch: number;
  /** The logits [n, classes, h, w] of a batch of preprocessed images. */
  logits(images: Tensor): Promise<{ logits: Float32Array; shape: [number, number, number, number] }>;
  dispose(): Promise<void>;
}

function torchEngine(weights: string): Engine {
  const ckpt = loadCheckpoint<SegmentationModel, 'segment'>(weights, { task: 'segment' });
  const channelsLast = isModelName(ckpt.meta.model.name) && MODELS[ckpt.meta.model.name].channelsLast;
  if (channelsLast) ckpt.model.memoryFormat('channelsLast');
  return {
    classes: ckpt.meta.classes, transforms: ckpt.meta.preprocess.transforms, trained: ckpt.meta.data, epoch: ckpt.meta.epoch,
    logits: async (images) => noGrad(() => tidy(() => {
      const out = ckpt.model.forward(channelsLast ? images.contiguous(true) : images);
      return { logits: out.contiguous().dataSync() as Float32Array, shape: out.shape as [number, number, number, number] };
    })),
    dispose: async () => ckpt.model.dispose(),
  };
}

/** An exported model: so `val` judges fp32, fp16 and int8 files on the same split as their checkpoint. */
async function onnxEngine(weights: string): Promise<Engine> {
  const { OnnxSegmenter } = await import('../../runtime/segmenter.js');
  const seg = await OnnxSegmenter.load(weights);
  const { names, transforms } = seg.contract;
  return {
    classes: names, transforms, epoch: 0,
    async logits(images) {
      const [n, ...chw] = images.shape as [number, number, number, number];
      return seg.run(images.dataSync() as Float32Array, n, chw);
    },
    dispose: () => seg.dispose(),
  };
}

const segmentVal: ValTask<SegmentValOptions, Scored, SegmentMetrics> = {
  project: 'runs/segment',
  async open(o) {
    const engine = extname(o.weights).toLowerCase() === '.onnx' ? await onnxEngine(o.weights) : torchEngine(o.weights);
    const { classes, transforms } = engine;
    return {
      classes, trained: engine.trained, epoch: engine.epoch,
      async score(source) {
        const src = source as FileSource;
        const confusion = new SegmentConfusion(classes.length);
        const base = commonDir(src.masks!);
        const files: Scored['files'] = [];
        const loader = new DataLoader(src, { batchSize: o.batch ?? 16, transforms, seed: 0, geometry: true, ...(o.workers === undefined ? {} : { workers: o.workers }) });
        try {
          for await (const batch of loader.epoch(0)) {
            using _batch = batch;
            const { logits, shape } = await engine.logits(batch.images);
            const [, C, h, w] = shape;
            for (const [b, index] of batch.indices.entries()) {
              const pred = maskFromLogits(logits.subarray(b * C * h * w, (b + 1) * C * h * w), C, [h, w], batch.geometry![b]!);
              const truthPath = src.masks![index]!;
              const truth = await decodeMask(truthPath);
              confusion.update(truth.data, pred.mask);
              files.push({ image: src.paths[index]!, truth: truthPath, rel: relative(base, resolve(truthPath)), png: await encodeMaskPng(pred.mask, pred.width, pred.height) });
            }
          }
        } finally {
          await loader.close();
        }
        return { confusion, files };
      },
      dispose: () => engine.dispose(),
    };
  },
  async resolveData(spec) {
    const d = await resolveSegmentData(spec);
    return { classes: d.classes, splits: d.splits, skipped: d.skipped };
  },
  report(scored, classes, split) {
    const m = scored.confusion.compute(classes);
    return {
      metrics: m, count: scored.files.length,
      json: {
        miou: m.miou, meanDice: m.meanDice, pixelAccuracy: m.pixelAccuracy, pixels: m.pixels, present: m.present, perClass: m.perClass, confusionMatrix: m.confusionMatrix,
        files: scored.files.map((f) => ({ image: f.image, truth: f.truth, prediction: join('masks', f.rel) })),
      },
      lines: (dir) => [formatSegmentReport(m), `${split}: ${scored.files.length} images · mIoU ${m.miou.toFixed(4)} · mean Dice ${m.meanDice.toFixed(4)} · pixel accuracy ${m.pixelAccuracy.toFixed(4)} → ${dir}`],
    };
  },
  async write(run, scored, metrics, { classes }) {
    for (const f of scored.files) writeFileIn(run.file(join('masks', f.rel)), f.png);
    await iouBarPng(metrics.perClass, run.file('iou_per_class.png'), { miou: metrics.miou });
    await segmentConfusionPng(metrics.confusionMatrix, classes, run.file('confusion_matrix.png'));
  },
};

export const valSegment = (o: SegmentValOptions): Promise<ValRun<SegmentMetrics>> => runValidation(segmentVal, o);
