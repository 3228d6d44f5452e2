/**
 * Evaluates a classifier (a checkpoint on libtorch, or an `.onnx` file on ONNX Runtime) on a data split: metrics.json, predictions.csv,
 * confusion_matrix.png in a run folder, and a readable table.
 *
 * @example
 * const { metrics } = await val({ weights: 'runs/classify/train/weights/best.safetensors', data: 'mnist', split: 'test' });
 */
import { fitPipeline } from '../../data/input-size.js';
import { sampleId } from '../../data/source.js';
import { resolveClassifyData } from '../../data/sources.js';
import { progress } from '../../engine/progress.js';
import { MODELS, isModelName, type ClassifierModel } from '../../models/registry.js';
import { toCsv } from '../../engine/run-dir.js';
import { runValidation, type Scorer, type ValOptionsBase, type ValRun, type ValTask } from '../../engine/validator.js';
import { classificationReport, formatReport, type ClassificationMetrics } from '../../metrics/classify.js';
import { confusionMatrixPng } from '../../plot/index.js';
import type { Predictions } from './evaluate.js';
import { writeValErrors } from './val-errors.js';

export interface ValOptions extends ValOptionsBase {
  batch?: number;
  workers?: number;
  /** ONNX Runtime threads (`.onnx` weights). */
  threads?: number;
}

export type ValResult = ValRun<ClassificationMetrics>;

const streamOpts = (o: ValOptions): { workers?: number; maxPixels?: number } => ({
  ...(o.workers === undefined ? {} : { workers: o.workers }), ...(o.maxPixels === undefined ? {} : { maxPixels: o.maxPixels }),
});

/** A libtorch checkpoint, run channels-last where the model trains that way. */
async function torchScorer(o: ValOptions): Promise<Scorer<Predictions>> {
  const [{ loadCheckpoint }, { DataLoader }, { predictAll }] = await Promise.all([
    import('../../engine/checkpoint.js'), import('../../data/loader.js'), import('./evaluate.js'),
  ]);
  const ckpt = loadCheckpoint<ClassifierModel, 'classify'>(o.weights, { task: 'classify' });
  const { classes, preprocess } = ckpt.meta;
  return {
    classes,
    trained: ckpt.meta.data,
    epoch: ckpt.meta.epoch,
    async score(source, label, quiet) {
      const loader = new DataLoader(source, {
        batchSize: o.batch ?? 256, shuffle: false, dropLast: false, transforms: fitPipeline(preprocess.transforms, preprocess.imgsz), seed: 0, ...streamOpts(o),
      });
      try {
        const channelsLast = isModelName(ckpt.meta.model.name) && MODELS[ckpt.meta.model.name].channelsLast;
        if (channelsLast) ckpt.model.memoryFormat('channelsLast');
        return await predictAll(ckpt.model, loader, { label, quiet, channelsLast });
      } finally {
        await loader.close();
      }
    },
    async dispose() {
      ckpt.model.dispose();
      for (const t of ckpt.extra.values()) t.dispose();
    },
  };
}

/** An `.onnx` file on ONNX Runtime (no libtorch): the same images through the file's own preprocessing. */
async function onnxScorer(o: ValOptions): Promise<Scorer<Predictions>> {
  const [{ OnnxClassifier }, { BatchStream }] = await Promise.all([import('../../runtime/classifier.js'), import('../../data/stream.js')]);
  const clf = await OnnxClassifier.load(o.weights, o.threads === undefined ? {} : { threads: o.threads });
  const { names, transforms, channels } = clf.preprocessing;
  return {
    classes: names,
    epoch: 0,
    async score(source, label, quiet) {
      const stream = new BatchStream(source, { batchSize: o.batch ?? 256, transforms, channels, ...streamOpts(o) });
      const out: Predictions = { loss: 0, yTrue: [], yPred: [], scores: [], ids: [], indices: [] };
      const bar = progress({ label, total: stream.length, unit: 'batch', quiet });
      const k = names.length;
      let lossSum = 0;
      let done = 0;
      try {
        for await (const r of stream.epoch(0)) {
          const n = r.kept.length;
          const probs = n === 0 ? new Float32Array(0) : await clf.run(r.data, n, r.shape);
          for (let i = 0; i < n; i++) {
            const row = Array.from(probs.subarray(i * k, (i + 1) * k));
            const truth = source.labels[r.kept[i]!]!;
            let best = 0;
            for (let c = 1; c < k; c++) if (row[c]! > row[best]!) best = c;
            lossSum -= Math.log(Math.max(row[truth]!, 1e-12));
            out.yTrue.push(truth);
            out.yPred.push(best);
            out.scores.push(row);
            out.ids.push(sampleId(source, r.kept[i]!));
            out.indices.push(r.kept[i]!);
          }
          bar.update(++done);
        }
      } finally {
        bar.stop();
        await stream.close();
      }
      out.loss = lossSum / Math.max(out.yTrue.length, 1);
      return out;
    },
    dispose: () => clf.dispose(),
  };
}

/** Classification over the shared Validator: accuracy, top-5, confusion matrix, misclassified images. */
const classifyVal: ValTask<ValOptions, Predictions, ClassificationMetrics> = {
  project: 'runs/classify',
  open: (o) => (o.weights.toLowerCase().endsWith('.onnx') ? onnxScorer(o) : torchScorer(o)),
  resolveData: (spec, opts) => resolveClassifyData(spec, opts),
  report(preds, classes, split) {
    const metrics = classificationReport(preds.yTrue, preds.yPred, classes, { scores: preds.scores });
    const pct = (v: number): string => `${(v * 100).toFixed(2)}%`;
    return {
      metrics, count: preds.yTrue.length, json: { loss: preds.loss, ...metrics },
      lines: (dir) => [formatReport(metrics), `${split}: ${preds.yTrue.length} images · accuracy ${pct(metrics.accuracy)}${metrics.top5 === null ? '' : ` · top5 ${pct(metrics.top5)}`} → ${dir}`],
    };
  },
  async write(run, preds, metrics, { source, classes, epoch, split }) {
    run.writeText('predictions.csv', toCsv(preds.ids.map((id, i) => ({
      path_or_index: id, true: classes[preds.yTrue[i]!], pred: classes[preds.yPred[i]!], confidence: preds.scores[i]![preds.yPred[i]!],
    }))));
    await confusionMatrixPng(metrics.confusionMatrix, classes, run.file('confusion_matrix.png'), { title: `Confusion matrix (${split})` });
    await writeValErrors(run.path, source, preds, classes, epoch);
  },
};

export const val = (o: ValOptions): Promise<ValResult> => runValidation(classifyVal, o);
