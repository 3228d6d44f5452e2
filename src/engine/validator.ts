/**
 * The one validation loop every task shares (Ultralytics' engine/validator.py): open the weights
 * (a libtorch checkpoint or an `.onnx` file, through the task's scorer), rebuild the split the model
 * was validated on, check the classes, score, then write metrics.json and the task's files into a
 * run folder and print the task's report. Libtorch-free: scorers import it when they need it.
 */
import type { DataSource, Skipped } from '../data/source.js';
import { RunDir } from './run-dir.js';

export interface ValOptionsBase {
  weights: string;
  data: string;
  split?: 'train' | 'val' | 'test';
  project?: string;
  name?: string;
  seed?: number;
  /** Images with more pixels than this are skipped (and logged); default DEFAULT_MAX_PIXELS. */
  maxPixels?: number;
  quiet?: boolean;
  log?: (line: string) => void;
}

/** What val needs from a model file: its classes, where it came from, and a pass over a split. */
export interface Scorer<P> {
  classes: string[];
  /** The data the checkpoint was trained on (same seed and held-out share by default). */
  trained?: { spec: string; seed: number; valFraction?: number } | undefined;
  /** The training epoch the weights come from, when known (0 for `.onnx`). */
  epoch: number;
  score(source: DataSource, label: string, quiet: boolean): Promise<P>;
  dispose(): Promise<void>;
}

export interface ValTask<O extends ValOptionsBase, P, R> {
  /** Default parent folder of val runs. */
  project: string;
  open(o: O): Promise<Scorer<P>>;
  /** The data set, split the way training split it (same seed and share). */
  resolveData(spec: string, opts: { seed: number; valFraction?: number; maxPixels?: number }): Promise<{ classes: string[]; splits: Partial<Record<'train' | 'val' | 'test', DataSource>>; skipped: Skipped[] }>;
  /** Metrics from the predictions; `json` goes into metrics.json beside weights/data/split/count. */
  report(p: P, classes: string[], split: string): { metrics: R; count: number; json: Record<string, unknown>; lines: (dir: string) => string[] };
  /** The task's own files (predictions, plots) in the run folder. */
  write(run: RunDir, p: P, metrics: R, ctx: { source: DataSource; classes: string[]; epoch: number; split: string }): Promise<void>;
}

export interface ValRun<R> {
  metrics: R;
  dir: string;
  split: string;
  count: number;
}

export async function runValidation<O extends ValOptionsBase, P, R>(task: ValTask<O, P, R>, o: O): Promise<ValRun<R>> {
  const log = o.log ?? ((l: string) => void process.stdout.write(`${l}\n`));
  const split = o.split ?? 'val';
  const scorer = await task.open(o);
  try {
    const { classes, trained } = scorer;
    // The split the model was validated on in training: same seed and held-out share by default.
    const valFraction = trained?.spec === o.data ? trained.valFraction : undefined;
    const data = await task.resolveData(o.data, {
      seed: o.seed ?? trained?.seed ?? 0, ...(valFraction === undefined ? {} : { valFraction }), ...(o.maxPixels === undefined ? {} : { maxPixels: o.maxPixels }),
    });
    if (data.classes.join('\n') !== classes.join('\n')) {
      const missing = classes.filter((c) => !data.classes.includes(c));
      const extra = data.classes.filter((c) => !classes.includes(c));
      throw new Error(`the data's classes differ from the model's${missing.length ? `; missing: ${missing.join(', ')}` : ''}${extra.length ? `; not in the model: ${extra.join(', ')}` : ''}`);
    }
    const source = data.splits[split];
    if (!source) throw new Error(`${o.data} has no '${split}' split`);
    const preds = await scorer.score(source, split, o.quiet ?? false);
    const { metrics, count, json, lines } = task.report(preds, classes, split);
    const run = RunDir.create(o.project ?? task.project, o.name ?? 'val');
    run.writeJson('metrics.json', { weights: o.weights, data: o.data, split, count, ...json });
    await task.write(run, preds, metrics, { source, classes, epoch: scorer.epoch, split });
    for (const s of data.skipped) run.log('val.log', `skipped ${s.path}: ${s.reason}`);
    for (const line of lines(run.path)) log(line);
    return { metrics, dir: run.path, split, count };
  } finally {
    await scorer.dispose();
  }
}
