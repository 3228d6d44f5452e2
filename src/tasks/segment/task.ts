/**
 * Segmentation as hooks over the shared Trainer: masks through the seeded augmentation, a model of
 * the segment zoo (U-Net by default), a weighted sum of cross-entropy and Dice with class weights
 * (background-heavy masks need both), and validation by one pixel confusion matrix over the split,
 * whose mIoU picks `best`.
 */
import type { Batch, DataLoader } from '../../data/loader.js';
import { formatOf, type CheckpointMeta } from '../../engine/checkpoint.js';
import { optimizerDefaults } from '../../engine/optimizer.js';
import { applyPretrained, pretrainedInfo } from '../../engine/pretrained.js';
import { isSegmentBackbone } from '../../models/backbones.js';
import { progress } from '../../engine/progress.js';
import type { TaskRun, TrainTask, Validation } from '../../engine/task.js';
import { SegmentConfusion, type SegmentMetrics } from '../../metrics/segment.js';
import { createSegmenter, MODELS, type SegmentationModel, type SegmenterOptions } from '../../models/registry.js';
import { cellHistogramLoss, SegmentationLoss } from '../../nn/segment-loss.js';
import { iouBarPng, segmentConfusionPng, trainingCurves } from '../../plot/index.js';
import type { Device } from '../../tensor/device.js';
import { noGrad } from '../../tensor/runtime.js';
import { tidy } from '../../tensor/scope.js';
import type { Tensor } from '../../tensor/tensor.js';
import { parseSegmentArgs, type SegmentTrainArgs } from './config.js';
import { batchPixels, writeSegmentBatch, writeValBatch, writeValPair, type ValSamples } from './plots.js';
import { prepareSegment } from './setup.js';

export interface SegmentValidation extends Validation {
  report: SegmentMetrics;
  samples: ValSamples | null;
}

interface EvalContext {
  loss: SegmentationLoss;
  classes: string[];
  device: Device;
  channelsLast: boolean;
}

/** Images of the first validation batch kept for val_batch.png. */
const SAMPLES = 8;

const toInput = (images: Tensor, c: { device: Device; channelsLast: boolean }): Tensor => {
  const x = c.device === 'cpu' ? images : images.to(c.device);
  return c.channelsLast ? x.contiguous(true) : x;
};

/** uint8 masks → int64 class targets on the device (255 stays the ignore value). */
const targetsOf = (masks: Tensor, device: Device): Tensor => {
  const t = masks.to('int64');
  return device === 'cpu' ? t : t.to(device);
};

/**
 * One pass over the validation loader at the network's resolution (letterbox padding is 255 in the
 * masks, so it counts nowhere): the split's pixel confusion matrix, the loss terms, and samples.
 */
export async function evaluateSegmenter(model: SegmentationModel, loader: DataLoader, c: EvalContext, quiet: boolean): Promise<{ report: SegmentMetrics; losses: Record<string, number>; samples: ValSamples | null }> {
  model.eval();
  const cm = new SegmentConfusion(c.classes.length);
  const sums: Record<string, number> = {};
  let batches = 0;
  let samples: ValSamples | null = null;
  const bar = progress({ label: '  val', total: loader.length, unit: 'batch', quiet });
  try {
    for await (const batch of loader.epoch(0)) {
      using _batch = batch;
      const { pred, terms } = noGrad(() => tidy(() => {
        const logits = model.forward(toInput(batch.images, c));
        const parts = c.loss.terms(logits, targetsOf(batch.masks!, c.device));
        return { pred: logits.argmax(1).to('uint8').to('cpu').dataSync() as Uint8Array, terms: Object.fromEntries(Object.entries(parts).map(([k, t]) => [k, t.item()])) };
      }));
      const truth = batch.masks!.dataSync() as Uint8Array;
      cm.update(truth, pred);
      for (const [k, v] of Object.entries(terms)) sums[k] = (sums[k] ?? 0) + v;
      if (samples === null) {
        const count = Math.min(SAMPLES, batch.indices.length);
        const pixels = batchPixels(batch.images, count);
        const n = count * pixels.h * pixels.w;
        samples = { pixels, truth: truth.slice(0, n), pred: pred.slice(0, n), count };
      }
      bar.update(++batches);
    }
  } finally {
    bar.stop();
  }
  const losses = Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, v / Math.max(batches, 1)]));
  return { report: cm.compute(c.classes), losses, samples };
}

const f4 = (v: number): string => v.toFixed(4);

async function setup(args: SegmentTrainArgs): Promise<TaskRun<SegmentationModel, SegmentValidation>> {
  const s = await prepareSegment(args);
  const { data, preprocess, device, trainLoader, valLoader, imgsz } = s;
  const classes = data.classes;
  const entry = MODELS[s.modelName as keyof typeof MODELS];
  const channelsLast = args.channelsLast ?? entry.channelsLast;
  const loss = new SegmentationLoss({ ce: args.ce, dice: args.dice, focal: args.focal, classWeights: s.classWeights, ignoreIndex: data.ignoreIndex });
  if (device !== 'cpu') loss.to(device);
  const ctx: EvalContext = { loss, classes, device, channelsLast };
  const backbone = args.backbone ?? backboneOf(args);
  if (s.modelName !== 'unet' && (args.aux ?? 0) > 0) throw new Error(`--aux: deep supervision heads are a unet option; ${s.modelName} has none (use --aux 0 or --model unet)`);
  const auxWeight = args.aux ?? (s.modelName === 'unet' ? 5 : 0);
  const modelOpts: SegmenterOptions = {
    numClasses: classes.length, inChannels: preprocess.channels, imgSize: imgsz,
    ...(args.depth === undefined ? {} : { depth: args.depth }), ...(args.width === undefined ? {} : { width: args.width }), ...(backbone === undefined ? {} : { backbone }),
    ...(auxWeight > 0 ? { auxHeads: true } : {}),
  };
  // Built once here so a bad depth/width/backbone fails before any run folder exists.
  createSegmenter(s.modelName, modelOpts).dispose();
  const weights = s.classWeights ? ` · class weights ${s.classWeights.map((w) => w.toFixed(2)).join(' ')}` : '';
  return {
    classes, trainLoader, device, channelsLast: entry.channelsLast, skipped: data.skipped, notes: s.notes,
    createModel: () => createSegmenter(s.modelName, modelOpts),
    loadPretrained: (model, spec) => applyPretrained(model, spec, { head: model.headModule(), classes, task: 'segment' }),
    head: (model) => model.headModule(),
    backbone: (model) => model.backboneModules(),
    argsYaml: () => ({ imgsz, batch: s.batch, ...optimizerDefaults(args), classes, channels: preprocess.channels, classWeightValues: s.classWeights, data: data.source }),
    describe: (model) => `${s.modelName} · ${model.numParameters().toLocaleString('en-US')} parameters · ${data.name}: ${classes.length} classes, ${data.splits.train.paths.length} train / ${data.splits.val.paths.length} val images, ${preprocess.channels} channel${preprocess.channels > 1 ? 's' : ''} · imgsz ${imgsz} · loss ${lossText(args, auxWeight)}${weights} · ${args.optimizer} · batch ${s.batch}`,
    meta: (model, epoch, metrics): CheckpointMeta => ({
      format: formatOf('segment'), task: 'segment', model: model.config, classes, preprocess, epoch,
      data: { spec: args.data!, seed: args.seed }, ...(metrics ? { metrics } : {}), createdAt: new Date().toISOString(),
    }),
    loss(model, batch: Batch) {
      const x = toInput(batch.images, ctx);
      const target = targetsOf(batch.masks!, device);
      const { out, aux } = model.forwardAux ? model.forwardAux(x) : { out: model.forward(x), aux: [] };
      const terms: Record<string, Tensor> = loss.terms(out, target);
      if (aux.length > 0) {
        terms.aux = aux.map((a) => cellHistogramLoss(a, target, { ignoreIndex: data.ignoreIndex, weight: loss.classWeights })).reduce((a, b) => a.add(b)).mul(auxWeight / aux.length);
      }
      const items = Object.fromEntries(Object.entries(terms).map(([k, t]) => [`${k}_loss`, t.item()]));
      return { loss: Object.values(terms).reduce((a, b) => a.add(b)), items };
    },
    async validate(model, _epoch, quiet) {
      const { report: m, losses, samples } = await evaluateSegmenter(model, valLoader, ctx, quiet);
      const valLoss = Object.values(losses).reduce((a, b) => a + b, 0);
      const lossCols = Object.fromEntries(Object.entries(losses).map(([k, v]) => [`val_${k}_loss`, v]));
      return {
        row: { val_loss: valLoss, ...lossCols, mIoU: m.miou, mean_dice: m.meanDice, pixel_accuracy: m.pixelAccuracy },
        fitness: m.miou,
        metrics: { miou: m.miou, mean_dice: m.meanDice, pixel_accuracy: m.pixelAccuracy, loss: valLoss },
        summary: `val_loss ${f4(valLoss)} · mIoU ${f4(m.miou)} · mean Dice ${f4(m.meanDice)} · pixel accuracy ${f4(m.pixelAccuracy)}`,
        report: m, samples,
      };
    },
    plotBatch: (batch, path) => writeSegmentBatch(batch, path),
    async afterEpoch(run, v, { epoch, isBest }) {
      await trainingCurves(run.rows as Record<string, number>[], run.file('results.png'));
      if (isBest) {
        const m = v.report;
        run.writeJson('val_metrics.json', { epoch, miou: m.miou, meanDice: m.meanDice, pixelAccuracy: m.pixelAccuracy, perClass: m.perClass, confusionMatrix: m.confusionMatrix });
        await iouBarPng(m.perClass, run.file('iou_per_class.png'), { miou: m.miou, title: `IoU per class (best epoch ${epoch}, val)` });
        await segmentConfusionPng(m.confusionMatrix, classes, run.file('confusion_matrix.png'));
        if (v.samples) {
          await writeValBatch(v.samples, run.file('val_batch.png'), epoch);
          await writeValPair(v.samples, run.path, epoch);
        }
      }
    },
    async close() {
      loss.dispose();
      await trainLoader.close();
      await valLoader.close();
    },
  };
}

/** A head over any zoo CNN, with classifier weights and no --backbone: the CNN the weights are for. */
function backboneOf(args: SegmentTrainArgs): string | undefined {
  if (args.pretrained === undefined || MODELS[args.model as keyof typeof MODELS]?.defaultBackbone === undefined) return undefined;
  const info = pretrainedInfo(args.pretrained);
  // A classifier of a zoo CNN gives that CNN; a checkpoint of this same model, the CNN it sits on.
  const named = info.model !== undefined && isSegmentBackbone(info.model) ? info.model : info.model === args.model ? info.backbone : undefined;
  return named !== undefined && isSegmentBackbone(named) ? named : undefined;
}

const lossText = (a: SegmentTrainArgs, aux: number): string =>
  Object.entries({ ce: a.ce, dice: a.dice, focal: a.focal, aux }).filter(([, w]) => w > 0).map(([k, w]) => `${w === 1 ? '' : `${w}·`}${k}`).join(' + ');

export const segmentTask: TrainTask<SegmentTrainArgs, SegmentationModel, SegmentValidation> = { name: 'segment', parseArgs: parseSegmentArgs, setup };
