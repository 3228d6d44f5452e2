/**
 * Detection as hooks over the shared Trainer: YOLO/COCO data with mosaic (closed for the last
 * epochs), a YOLOv8 model from the zoo, the YOLOv8 loss (TAL + BCE + CIoU + DFL), and validation
 * by NMS and Ultralytics' metrics, whose fitness (0.1·mAP50 + 0.9·mAP50-95) picks `best`.
 */
import type { Batch, DataLoader } from '../../data/loader.js';
import type { BoxTargets } from '../../data/source.js';
import { formatOf, type CheckpointMeta } from '../../engine/checkpoint.js';
import { optimizerDefaults } from '../../engine/optimizer.js';
import { applyPretrained, pretrainedInfo } from '../../engine/pretrained.js';
import { progress } from '../../engine/progress.js';
import type { TaskRun, TrainTask, Validation } from '../../engine/task.js';
import { DetectionMetrics, type DetectionSummary } from '../../metrics/detect-metrics.js';
import { NMS_VAL } from '../../metrics/nms.js';
import { isDetectBackbone } from '../../models/backbones.js';
import { createDetector, isModelName, listModels, MODELS, type DetectorModel } from '../../models/registry.js';
import { detectionConfusionPng, f1CurvePng, prCurvePng, trainingCurves, type DrawnBox } from '../../plot/index.js';
import { zeros } from '../../tensor/creation.js';
import type { Device } from '../../tensor/device.js';
import { noGrad } from '../../tensor/runtime.js';
import { tidy } from '../../tensor/scope.js';
import type { Tensor } from '../../tensor/tensor.js';
import { parseDetectArgs, type DetectTrainArgs } from './config.js';
import { DetectionLoss } from './loss.js';
import { batchImages, drawnDetections, writeDetectBatch, writeValBatch, type PlotImage } from './plots.js';
import { detectionsOf, toOriginal } from './postprocess.js';
import { mosaicClosed, prepareDetect } from './setup.js';

export interface DetectValidation extends Validation {
  metricsSummary: DetectionSummary;
  /** The first validation batch with its labels and predictions, drawn when the epoch is best. */
  sample: ValSample;
}

/** The first validation batch, in the letterboxed pixels the model saw. */
export interface ValSample {
  images: PlotImage[];
  predicted: DrawnBox[][];
}

const LOSS_NAMES = { box: 'box_loss', cls: 'cls_loss', dfl: 'dfl_loss' } as const;

interface EvalContext {
  loss: DetectionLoss;
  classes: string[];
  imgsz: number;
  device: Device;
  channelsLast: boolean;
  /** The validation labels in the original images' pixels (the letterbox may drop tiny boxes; these never are). */
  truth: BoxTargets[];
}

/**
 * One pass over the validation loader: Ultralytics' metrics and the three loss terms, and with
 * `sample` the first batch's pictures and predictions.
 */
export async function evaluateDetector(model: DetectorModel, loader: DataLoader, c: EvalContext, quiet: boolean, sample?: ValSample): Promise<{ summary: DetectionSummary; losses: Record<string, number> }> {
  model.eval();
  const metrics = new DetectionMetrics(c.classes);
  const sums = { box: 0, cls: 0, dfl: 0 };
  let batches = 0;
  const bar = progress({ label: '  val', total: loader.length, unit: 'batch', quiet });
  try {
    for await (const batch of loader.epoch(0)) {
      using _batch = batch;
      const { decoded, anchors, items } = noGrad(() => tidy(() => {
        const out = model.forward(toInput(batch.images, c));
        const r = c.loss.forward(out.maps, targetsOf(batch, c.device), [c.imgsz, c.imgsz]);
        return { decoded: out.decoded!.dataSync() as Float32Array, anchors: out.decoded!.size(2), items: r.items };
      }));
      for (const k of ['box', 'cls', 'dfl'] as const) sums[k] += items[k];
      const first = sample !== undefined && batches === 0;
      if (first) sample.images = batchImages(batch, c.classes);
      batches++;
      batch.indices.forEach((index, b) => {
        const inInput = detectionsOf(decoded, b, c.classes.length, anchors, { ...NMS_VAL, multiLabel: true });
        if (first && b < sample.images.length) sample.predicted[b] = drawnDetections(inInput, c.classes);
        metrics.update(toOriginal(inInput, batch.geometry![b]!), c.truth[index]!);
      });
      bar.update(batches);
    }
  } finally {
    bar.stop();
  }
  const losses = Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, v / Math.max(batches, 1)]));
  return { summary: metrics.summary(), losses };
}

function toInput(images: Tensor, c: { device: Device; channelsLast: boolean }): Tensor {
  const x = c.device === 'cpu' ? images : images.to(c.device);
  return c.channelsLast ? x.contiguous(true) : x;
}

const targetsOf = (batch: Batch, device: Device): Tensor => {
  const t = batch.boxes ?? zeros([0, 6]);
  return device === 'cpu' ? t : t.to(device);
};

const f3 = (v: number): string => v.toFixed(3);

/** yolov8 with classifier weights and no --backbone: the CNN the weights are for. */
function backboneOf(args: DetectTrainArgs): string | undefined {
  if (args.pretrained === undefined || MODELS[args.model as keyof typeof MODELS]?.defaultBackbone === undefined) return undefined;
  const info = pretrainedInfo(args.pretrained);
  // A classifier of a zoo CNN gives that CNN; a checkpoint of this same model, the CNN it sits on.
  const named = info.model !== undefined && isDetectBackbone(info.model) ? info.model : info.model === args.model ? info.backbone : undefined;
  return named !== undefined && isDetectBackbone(named) ? named : undefined;
}

async function setup(args: DetectTrainArgs): Promise<TaskRun<DetectorModel, DetectValidation>> {
  if (!isModelName(args.model) || MODELS[args.model].task !== 'detect') {
    throw new Error(`'${args.model}' is not a detection model (detection models: ${listModels('detect').map((m) => m.name).join(', ')})`);
  }
  const backbone = args.backbone ?? backboneOf(args);
  const shape = { inChannels: 3, imgSize: args.imgsz, ...(backbone === undefined ? {} : { backbone }) };
  // Built once first, so a bad backbone fails before the loaders start or any run folder exists.
  if (backbone !== undefined) createDetector(args.model, { numClasses: 1, ...shape }).dispose();
  const s = await prepareDetect(args);
  const { data, preprocess, device, trainLoader, closeLoader, valLoader } = s;
  const classes = data.classes;
  const channelsLast = args.channelsLast ?? MODELS[args.model].channelsLast;
  const loss = new DetectionLoss({ nc: classes.length });
  const ctx: EvalContext = { loss, classes, imgsz: args.imgsz, device, channelsLast, truth: data.splits.val.boxes! };
  const modelOpts = { numClasses: classes.length, ...shape };
  return {
    classes, trainLoader, device, channelsLast: MODELS[args.model].channelsLast, skipped: data.skipped, notes: s.notes,
    splitDecay: true,
    trainLoaderFor: (epoch, epochs) => (closeLoader && mosaicClosed(epoch, epochs, args.closeMosaic) ? closeLoader : trainLoader),
    createModel: () => createDetector(args.model, modelOpts),
    loadPretrained: (model, spec) => applyPretrained(model, spec, { head: model.headModule(), classes, task: 'detect' }),
    head: (model) => model.headModule(),
    backbone: (model) => model.backboneModules(),
    argsYaml: () => ({ imgsz: args.imgsz, batch: s.batch, ...optimizerDefaults(args), classes, data: data.yaml }),
    describe: (model) => `${args.model}${model.config.backbone ? ` over ${model.config.backbone}` : ''} · ${model.numParameters().toLocaleString('en-US')} parameters · ${model.gflops(args.imgsz).toFixed(1)} GFLOPs · ${data.name}: ${classes.length} classes, ${data.splits.train.paths.length} train / ${data.splits.val.paths.length} val images · imgsz ${args.imgsz} · ${args.optimizer} · batch ${s.batch}`,
    meta: (model, epoch, metrics): CheckpointMeta => ({
      format: formatOf('detect'), task: 'detect', model: model.config, classes, preprocess, epoch,
      data: { spec: args.data!, seed: args.seed }, ...(metrics ? { metrics } : {}), createdAt: new Date().toISOString(),
    }),
    loss(model, batch) {
      const out = model.forward(toInput(batch.images, ctx));
      const r = loss.forward(out.maps, targetsOf(batch, device), [args.imgsz, args.imgsz]);
      return { loss: r.loss, items: { [LOSS_NAMES.box]: r.items.box, [LOSS_NAMES.cls]: r.items.cls, [LOSS_NAMES.dfl]: r.items.dfl } };
    },
    async validate(model, _epoch, quiet) {
      const sample: ValSample = { images: [], predicted: [] };
      const { summary: m, losses } = await evaluateDetector(model, valLoader, ctx, quiet, sample);
      return {
        row: { val_box_loss: losses.box!, val_cls_loss: losses.cls!, val_dfl_loss: losses.dfl!, precision: m.precision, recall: m.recall, mAP50: m.map50, 'mAP50-95': m.map50_95 },
        fitness: m.fitness,
        metrics: { precision: m.precision, recall: m.recall, map50: m.map50, map50_95: m.map50_95 },
        summary: `P ${f3(m.precision)} · R ${f3(m.recall)} · mAP50 ${f3(m.map50)} · mAP50-95 ${f3(m.map50_95)}`,
        metricsSummary: m,
        sample,
      };
    },
    plotBatch: (batch, path) => writeDetectBatch(batch, classes, path),
    async afterEpoch(run, v, { epoch, isBest }) {
      await trainingCurves(run.rows as Record<string, number>[], run.file('results.png'));
      if (isBest) {
        const m = v.metricsSummary;
        await prCurvePng(m.curves, classes, run.file('PR_curve.png'));
        await f1CurvePng(m.curves, classes, run.file('F1_curve.png'));
        await detectionConfusionPng(m.confusionMatrix, classes, run.file('confusion_matrix.png'), { title: 'Confusion matrix (best epoch, val)' });
        await writeValBatch(v.sample.images, v.sample.predicted, run.path, epoch);
      }
    },
    async close() {
      await trainLoader.close();
      await closeLoader?.close();
      await valLoader.close();
    },
  };
}

export const detectTask: TrainTask<DetectTrainArgs, DetectorModel, DetectValidation> = { name: 'detect', parseArgs: parseDetectArgs, setup };
