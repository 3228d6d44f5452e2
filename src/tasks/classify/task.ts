/**
 * Classification as hooks over the shared Trainer: data and loaders from `prepare`, the model
 * from the zoo, cross-entropy (with MixUp/CutMix and label smoothing) as the loss, accuracy as
 * the fitness, and the confusion matrix and misclassified images as its plots.
 */
import type { Batch } from '../../data/loader.js';
import { cutmix, mixup } from '../../data/mix.js';
import type { Rng } from '../../data/rng.js';
import { FORMAT, type ClassifierMeta } from '../../engine/checkpoint.js';
import { optimizerDefaults } from '../../engine/optimizer.js';
import { applyPretrained } from '../../engine/pretrained.js';
import type { TaskRun, TrainTask, Validation } from '../../engine/task.js';
import { classificationReport, type ClassificationMetrics } from '../../metrics/classify.js';
import { createModel, MODELS, type ClassifierModel } from '../../models/registry.js';
import * as F from '../../nn/functional.js';
import type { Tensor } from '../../tensor/tensor.js';
import { parseTrainArgs, type TrainArgs } from './config.js';
import { predictAll, type Predictions } from './evaluate.js';
import { classifyFitness } from './fitness.js';
import { writeSampleGrid, writeTrainPlots } from './plots.js';
import { describeChoices, prepare } from './setup.js';
import { testBest } from './test-split.js';
import { writeValErrors } from './val-errors.js';

export interface ClassifyValidation extends Validation {
  report: ClassificationMetrics;
  predictions: Predictions;
}

export const pct = (v: number): string => `${(v * 100).toFixed(2)}%`;

/** MixUp or CutMix of a batch when the settings ask for one, drawn from the step's generator. */
function mixed(args: TrainArgs, batch: Batch, k: number, rng: Rng): { images: Tensor; target: Tensor } {
  if (args.mixup === 0 && args.cutmix === 0) return { images: batch.images, target: batch.labels };
  const useCutmix = args.cutmix > 0 && (args.mixup === 0 || rng.next() < 0.5);
  const m = useCutmix ? cutmix(batch.images, batch.labels, k, args.cutmix, rng) : mixup(batch.images, batch.labels, k, args.mixup, rng);
  return { images: m.images, target: m.targets };
}

async function setup(args: TrainArgs): Promise<TaskRun<ClassifierModel, ClassifyValidation>> {
  const s = await prepare(args);
  const { data, preprocess, device, trainLoader, valLoader, modelName } = s;
  const classes = data.classes;
  const channelsLast = args.channelsLast ?? MODELS[modelName].channelsLast;
  const toDevice = (t: Tensor): Tensor => (device === 'cpu' ? t : t.to(device));
  const toInput = (t: Tensor): Tensor => (channelsLast ? toDevice(t).contiguous(true) : toDevice(t));
  return {
    classes, trainLoader, device, channelsLast: MODELS[modelName].channelsLast, skipped: data.skipped, notes: s.notes,
    createModel: () => createModel(modelName, { numClasses: classes.length, inChannels: preprocess.channels, imgSize: preprocess.imgsz }),
    loadPretrained: (model, spec) => applyPretrained(model, spec, { head: model.getClassifier(), classes, task: 'classify' }),
    head: (model) => model.getClassifier(),
    argsYaml: () => ({ model: modelName, imgsz: preprocess.imgsz, batch: s.batch, augment: s.augment, ...optimizerDefaults(args), classes, mean: preprocess.mean, std: preprocess.std }),
    describe: (model) => `${describeChoices(s.choices)} · ${model.numParameters().toLocaleString('en-US')} parameters · ${data.name}: ${classes.length} classes, ${data.splits.train.labels.length} train / ${data.splits.val.labels.length} val images · ${args.optimizer} · batch ${s.batch}`,
    meta: (model, epoch, metrics): ClassifierMeta => ({
      format: FORMAT, task: 'classify', model: model.config, classes, preprocess, epoch,
      data: { spec: args.data!, seed: args.seed, ...(args.valFraction === undefined ? {} : { valFraction: args.valFraction }) },
      ...(metrics ? { metrics } : {}), createdAt: new Date().toISOString(),
    }),
    loss(model, batch, ctx) {
      const { images, target } = mixed(args, batch, classes.length, ctx.rng);
      return F.crossEntropy(model.forward(toInput(images)), toDevice(target), { labelSmoothing: args.labelSmoothing });
    },
    async validate(model, _epoch, quiet) {
      const predictions = await predictAll(model, valLoader, { label: '  val', quiet, device, channelsLast });
      const report = classificationReport(predictions.yTrue, predictions.yPred, classes, { scores: predictions.scores });
      const top5 = report.top5 === null ? {} : { top5: report.top5 };
      return {
        row: { val_loss: predictions.loss, val_accuracy: report.accuracy, ...(report.top5 === null ? {} : { val_top5: report.top5 }) },
        fitness: classifyFitness(report.accuracy, predictions.loss),
        metrics: { accuracy: report.accuracy, loss: predictions.loss, ...top5 },
        summary: `val_loss ${predictions.loss.toFixed(4)} · val_accuracy ${pct(report.accuracy)}${report.top5 === null ? '' : ` · top5 ${pct(report.top5)}`}`,
        report, predictions,
      };
    },
    plotBatch: (batch, path) => writeSampleGrid(path, batch, classes, preprocess.mean, preprocess.std),
    async afterEpoch(run, v, { epoch, isBest, say }) {
      if (isBest) {
        // For the web UI: the best epoch's confusion matrix as numbers and the images it got wrong.
        run.writeJson('confusion_matrix.json', { epoch, classes, matrix: v.report.confusionMatrix });
        try {
          await writeValErrors(run.path, data.splits.val, v.predictions, classes, epoch);
        } catch (e) {
          say(`could not write ${run.file('val_errors')}: ${(e as Error).message}`);
        }
      }
      await writeTrainPlots(run, v.report, isBest, classes);
    },
    ...(data.splits.test && data.splits.test !== data.splits.val
      ? { test: (path: string, say: (l: string) => void, quiet: boolean) => testBest(path, data.splits.test!, args, say, quiet) }
      : {}),
    async close() {
      await trainLoader.close();
      await valLoader.close();
    },
  };
}

export const classifyTask: TrainTask<TrainArgs, ClassifierModel, ClassifyValidation> = { name: 'classify', parseArgs: parseTrainArgs, setup };
