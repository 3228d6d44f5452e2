/**
 * Evaluates a classifier (a checkpoint on libtorch, or an `.onnx` file on ONNX Runtime) on a data split: metrics.json, predictions.csv,
 * confusion_matrix.png in a run folder, and a readable table.
 *
 * @example
 * const { metrics } = await val({ weights: 'runs/classify/train/weights/best.safetensors', data: 'mnist', split: 'test' });
 */
import { sampleId, type DataSource } from '../../data/source.js';
import { resolveClassifyData } from '../../data/sources.js';
import { progress } from '../../engine/progress.js';
import { MODELS, isModelName } from '../../models/registry.js';
import { RunDir, toCsv } from '../../engine/run-dir.js';
import { classificationReport, formatReport, type ClassificationMetrics } from '../../metrics/classify.js';
import { confusionMatrixPng } from '../../plot/index.js';
import type { Predictions } from './evaluate.js';
import { writeValErrors } from './val-errors.js';

export interface ValOptions {
  weights: string;
  data: string;
  split?: 'train' | 'val' | 'test';
  batch?: number;
  workers?: number;
  project?: string;
  name?: string;
  seed?: number;
  /** ONNX Runtime threads (`.onnx` weights). */
  threads?: number;
  quiet?: boolean;
  log?: (line: string) => void;
}

export interface ValResult {
  metrics: ClassificationMetrics;
  dir: string;
  split: string;
  count: number;
}

/** What val needs from a model file: its classes and eval pipeline, and a pass over a split. */
interface Scorer {
  classes: string[];
  /** The data the checkpoint was trained on (same seed and held-out share by default). */
  trained?: { spec: string; seed: number; valFraction?: number } | undefined;
  /** The training epoch the weights come from, when known. */
  epoch: number;
  score(source: DataSource, label: string, quiet: boolean): Promise<Predictions>;
  dispose(): Promise<void>;
}

/** A libtorch checkpoint, run channels-last where the model trains that way. */
async function torchScorer(o: ValOptions): Promise<Scorer> {
  const [{ loadCheckpoint }, { DataLoader }, { predictAll }] = await Promise.all([
    import('../../engine/checkpoint.js'), import('../../data/loader.js'), import('./evaluate.js'),
  ]);
  const ckpt = loadCheckpoint(o.weights);
  const { classes, preprocess } = ckpt.meta;
  return {
    classes,
    trained: ckpt.meta.data,
    epoch: ckpt.meta.epoch,
    async score(source, label, quiet) {
      const loader = new DataLoader(source, { batchSize: o.batch ?? 256, shuffle: false, dropLast: false, transforms: preprocess.transforms, seed: 0, ...(o.workers === undefined ? {} : { workers: o.workers }) });
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
async function onnxScorer(o: ValOptions): Promise<Scorer> {
  const [{ OnnxClassifier }, { BatchStream }] = await Promise.all([import('../../runtime/classifier.js'), import('../../data/stream.js')]);
  const clf = await OnnxClassifier.load(o.weights, o.threads === undefined ? {} : { threads: o.threads });
  const { names, transforms, channels } = clf.preprocessing;
  return {
    classes: names,
    epoch: 0,
    async score(source, label, quiet) {
      const stream = new BatchStream(source, { batchSize: o.batch ?? 256, transforms, channels, ...(o.workers === undefined ? {} : { workers: o.workers }) });
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

export async function val(o: ValOptions): Promise<ValResult> {
  const log = o.log ?? ((l: string) => void process.stdout.write(`${l}\n`));
  const split = o.split ?? 'val';
  const scorer = o.weights.toLowerCase().endsWith('.onnx') ? await onnxScorer(o) : await torchScorer(o);
  try {
    const { classes, trained } = scorer;
    // The split the model was validated on in training: same seed and held-out share by default.
    const valFraction = trained?.spec === o.data ? trained.valFraction : undefined;
    const data = await resolveClassifyData(o.data, { seed: o.seed ?? trained?.seed ?? 0, ...(valFraction === undefined ? {} : { valFraction }) });
    if (data.classes.join('\n') !== classes.join('\n')) {
      const missing = classes.filter((c) => !data.classes.includes(c));
      const extra = data.classes.filter((c) => !classes.includes(c));
      throw new Error(`the data's classes differ from the model's${missing.length ? `; missing: ${missing.join(', ')}` : ''}${extra.length ? `; not in the model: ${extra.join(', ')}` : ''}`);
    }
    const source = data.splits[split];
    if (!source) throw new Error(`${o.data} has no '${split}' split`);
    const preds = await scorer.score(source, split, o.quiet ?? false);
    const metrics = classificationReport(preds.yTrue, preds.yPred, classes, { scores: preds.scores });
    const run = RunDir.create(o.project ?? 'runs/classify', o.name ?? 'val');
    run.writeJson('metrics.json', { weights: o.weights, data: o.data, split, count: preds.yTrue.length, loss: preds.loss, ...metrics });
    run.writeText('predictions.csv', toCsv(preds.ids.map((id, i) => ({
      path_or_index: id, true: classes[preds.yTrue[i]!], pred: classes[preds.yPred[i]!], confidence: preds.scores[i]![preds.yPred[i]!],
    }))));
    await confusionMatrixPng(metrics.confusionMatrix, classes, run.file('confusion_matrix.png'), { title: `Confusion matrix (${split})` });
    await writeValErrors(run.path, source, preds, classes, scorer.epoch);
    for (const s of data.skipped) run.log('val.log', `skipped ${s.path}: ${s.reason}`);
    log(formatReport(metrics));
    log(`${split}: ${preds.yTrue.length} images · accuracy ${(metrics.accuracy * 100).toFixed(2)}%${metrics.top5 === null ? '' : ` · top5 ${(metrics.top5 * 100).toFixed(2)}%`} → ${run.path}`);
    return { metrics, dir: run.path, split, count: preds.yTrue.length };
  } finally {
    await scorer.dispose();
  }
}
