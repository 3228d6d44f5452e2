/**
 * Evaluates a classifier checkpoint on a data split: metrics.json, predictions.csv,
 * confusion_matrix.png in a run folder, and a readable table.
 *
 * @example
 * const { metrics } = await val({ weights: 'runs/classify/train/weights/best.safetensors', data: 'mnist', split: 'test' });
 */
import { DataLoader } from '../../data/loader.js';
import { resolveClassifyData } from '../../data/sources.js';
import { loadCheckpoint } from '../../engine/checkpoint.js';
import { MODELS, isModelName } from '../../models/registry.js';
import { RunDir, toCsv } from '../../engine/run-dir.js';
import { classificationReport, formatReport, type ClassificationMetrics } from '../../metrics/classify.js';
import { confusionMatrixPng } from '../../plot/index.js';
import { predictAll } from './evaluate.js';

export interface ValOptions {
  weights: string;
  data: string;
  split?: 'train' | 'val' | 'test';
  batch?: number;
  workers?: number;
  project?: string;
  name?: string;
  seed?: number;
  quiet?: boolean;
  log?: (line: string) => void;
}

export interface ValResult {
  metrics: ClassificationMetrics;
  dir: string;
  split: string;
  count: number;
}

export async function val(o: ValOptions): Promise<ValResult> {
  const log = o.log ?? ((l: string) => void process.stdout.write(`${l}\n`));
  const split = o.split ?? 'val';
  const ckpt = loadCheckpoint(o.weights);
  try {
    const { classes, preprocess } = ckpt.meta;
    // The split the model was validated on in training: same seed and held-out share by default.
    const trained = ckpt.meta.data;
    const valFraction = trained?.spec === o.data ? trained.valFraction : undefined;
    const data = await resolveClassifyData(o.data, { seed: o.seed ?? trained?.seed ?? 0, ...(valFraction === undefined ? {} : { valFraction }) });
    if (data.classes.join('\n') !== classes.join('\n')) {
      const missing = classes.filter((c) => !data.classes.includes(c));
      const extra = data.classes.filter((c) => !classes.includes(c));
      throw new Error(`the data's classes differ from the model's${missing.length ? `; missing: ${missing.join(', ')}` : ''}${extra.length ? `; not in the model: ${extra.join(', ')}` : ''}`);
    }
    const source = data.splits[split];
    if (!source) throw new Error(`${o.data} has no '${split}' split`);
    const loader = new DataLoader(source, { batchSize: o.batch ?? 256, shuffle: false, dropLast: false, transforms: preprocess.transforms, seed: 0, ...(o.workers === undefined ? {} : { workers: o.workers }) });
    let preds;
    try {
      const channelsLast = isModelName(ckpt.meta.model.name) && MODELS[ckpt.meta.model.name].channelsLast;
      if (channelsLast) ckpt.model.memoryFormat('channelsLast');
      preds = await predictAll(ckpt.model, loader, { label: split, quiet: o.quiet ?? false, channelsLast });
    } finally {
      await loader.close();
    }
    const metrics = classificationReport(preds.yTrue, preds.yPred, classes, { scores: preds.scores });
    const run = RunDir.create(o.project ?? 'runs/classify', o.name ?? 'val');
    run.writeJson('metrics.json', { weights: o.weights, data: o.data, split, count: preds.yTrue.length, loss: preds.loss, ...metrics });
    run.writeText('predictions.csv', toCsv(preds.ids.map((id, i) => ({
      path_or_index: id, true: classes[preds.yTrue[i]!], pred: classes[preds.yPred[i]!], confidence: preds.scores[i]![preds.yPred[i]!],
    }))));
    await confusionMatrixPng(metrics.confusionMatrix, classes, run.file('confusion_matrix.png'), { title: `Confusion matrix (${split})` });
    for (const s of data.skipped) run.log('val.log', `skipped ${s.path}: ${s.reason}`);
    log(formatReport(metrics));
    log(`${split}: ${preds.yTrue.length} images · accuracy ${(metrics.accuracy * 100).toFixed(2)}%${metrics.top5 === null ? '' : ` · top5 ${(metrics.top5 * 100).toFixed(2)}%`} → ${run.path}`);
    return { metrics, dir: run.path, split, count: preds.yTrue.length };
  } finally {
    ckpt.model.dispose();
    for (const t of ckpt.extra.values()) t.dispose();
  }
}
