/**
 * Training and validation runs under a project folder (`runs/` or `runs/classify/`), read for the
 * web UI: what each run was asked to do (args.yaml), how it went (results.csv, metrics.json,
 * test_metrics.json), which epoch the trainer kept as best (weights/best.safetensors' header), the
 * best epoch's confusion matrix and the validation images it got wrong (classification) or its
 * validation images with ground truth beside predictions (detection, segmentation). Ids are folder paths
 * relative to the project, and every path a request names is checked to stay inside its run.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { extname, isAbsolute, join, relative, sep } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { bestRow } from '../engine/fitness.js';
import { parseCsv } from '../engine/run-dir.js';
import { classifyRowFitness } from '../tasks/classify/fitness.js';
import { detectRowFitness } from '../tasks/detect/fitness.js';

/** The segmentation trainer's fitness: validation mIoU. */
const segmentRowFitness = (row: Record<string, unknown>): number | null => (typeof row.mIoU === 'number' ? row.mIoU : null);
import type { ValErrorsIndex } from '../tasks/classify/val-errors.js';
import { HttpError } from '../http/index.js';
import { readCheckpointMeta } from './checkpoint-meta.js';
import { readInside, realInside } from './safe-path.js';

export interface RunSummary {
  /** The run folder relative to the project, with `/` separators. */
  id: string;
  name: string;
  /** train: results.csv per epoch; val: one evaluation (metrics.json). */
  kind: 'train' | 'val';
  /** args.yaml's `task`, else read from the run's columns (`classify`, `detect`, `segment`); null when unknown. */
  task: string | null;
  model: string | null;
  data: string | null;
  epochs: { done: number; total: number | null } | null;
  /** The last results.csv row (train) or the evaluation's headline numbers (val). */
  final: Record<string, number>;
  /**
   * The epoch the trainer kept as best: from weights/best.safetensors (its `epoch` and metrics),
   * or by the trainer's own rule on results.csv when that is unreadable.
   */
  best: BestEpoch | null;
  /** The best weights on the held-out test split (test_metrics.json), when the data has one. */
  test: TestMetrics | null;
  /** Last change to any of the run's files (ISO time). */
  updated: string;
}

/** A classification run's best epoch by validation accuracy, a detection run's by mAP, a segmentation run's by mIoU. */
export type BestEpoch =
  | { epoch: number; val_accuracy: number }
  | { epoch: number; mAP50: number; 'mAP50-95': number }
  | { epoch: number; mIoU: number; mean_dice: number; pixel_accuracy: number };

export interface TestMetrics {
  /** The best epoch, whose weights were tested. */
  epoch: number;
  accuracy: number;
  top5: number | null;
  count: number;
}

export interface Confusion {
  classes: string[];
  matrix: number[][];
  epoch?: number;
}

export interface RunDetail extends RunSummary {
  args: Record<string, unknown> | null;
  /** results.csv as rows (numbers where the cell is one). */
  results: Record<string, number | string>[];
  confusion: Confusion | null;
  errors: ValErrorsIndex | null;
  /** The plots present, of results.png, confusion_matrix.png, train_batch.png, PR_curve.png, F1_curve.png. */
  plots: string[];
  /** Detection and segmentation: validation batches drawn with their labels and with the best epoch's predictions. */
  valBatches: { labels: string; pred: string }[];
}

const MARKERS = ['args.yaml', 'results.csv', 'metrics.json'];
const PLOTS = ['results.png', 'confusion_matrix.png', 'train_batch.png', 'PR_curve.png', 'F1_curve.png', 'iou_per_class.png'];
/** Ultralytics writes up to three validation batches; the detection trainer writes the first. */
const VAL_BATCHES = [0, 1, 2].map((i) => ({ labels: `val_batch${i}_labels.jpg`, pred: `val_batch${i}_pred.jpg` }));
/** Folders inside a run that never hold another run. */
const INNER = new Set(['weights', 'val_errors']);
const MAX_DEPTH = 3;

/** What a run folder may serve, by extension. */
export const RUN_FILE_TYPES: Record<string, string> = {
  '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.webp': 'image/webp',
  '.csv': 'text/csv; charset=utf-8', '.yaml': 'text/yaml; charset=utf-8', '.json': 'application/json; charset=utf-8',
  '.log': 'text/plain; charset=utf-8', '.txt': 'text/plain; charset=utf-8',
};

const isRun = (dir: string): boolean => MARKERS.some((m) => existsSync(join(dir, m)));
const toId = (project: string, dir: string): string => relative(project, dir).split(sep).join('/') || '.';

// A run's own files are read only from inside it: a link to a file elsewhere reads as missing.
function readJson<T>(dir: string, rel: string): T | null {
  try {
    const text = readInside(dir, rel);
    return text === null ? null : (JSON.parse(text) as T);
  } catch {
    return null;
  }
}

function readArgs(dir: string): Record<string, unknown> | null {
  try {
    const doc = parseYaml(readInside(dir, 'args.yaml') ?? '') as unknown;
    return doc !== null && typeof doc === 'object' && !Array.isArray(doc) ? (doc as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function readResults(dir: string): Record<string, number | string>[] {
  try {
    const text = readInside(dir, 'results.csv');
    return text === null ? [] : parseCsv(text);
  } catch {
    return [];
  }
}

function lastModified(dir: string): string {
  let t = statSync(dir).mtimeMs;
  for (const f of readdirSync(dir)) {
    try {
      t = Math.max(t, statSync(join(dir, f)).mtimeMs);
    } catch {
      // removed while listing
    }
  }
  return new Date(t).toISOString();
}

const numbers = (row: Record<string, unknown>): Record<string, number> =>
  Object.fromEntries(Object.entries(row).filter(([, v]) => typeof v === 'number' && Number.isFinite(v))) as Record<string, number>;

interface ValMetrics {
  data?: string;
  weights?: string;
  split?: string;
  accuracy?: number;
  top5?: number | null;
  /** Detection. */
  precision?: number;
  recall?: number;
  map50?: number;
  map50_95?: number;
  /** Segmentation. */
  miou?: number;
  meanDice?: number;
  pixelAccuracy?: number;
  loss?: number;
  count?: number;
  confusionMatrix?: number[][];
  perClass?: { class: string }[];
}

const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** The task a run trained or evaluated: args.yaml says so; older runs are known by their columns. */
function taskOf(args: Record<string, unknown> | null, columns: Record<string, unknown>): string | null {
  if (typeof args?.task === 'string') return args.task;
  if ('mAP50' in columns || 'map50' in columns) return 'detect';
  if ('mIoU' in columns || 'miou' in columns) return 'segment';
  if ('val_accuracy' in columns || 'accuracy' in columns) return 'classify';
  return null;
}

/** The best row's numbers the runs page shows, or null when the row lacks them. */
function bestOf(task: string | null, epoch: unknown, m: Record<string, unknown>): BestEpoch | null {
  if (!isNumber(epoch) || !Number.isInteger(epoch) || epoch < 1) return null;
  if (task === 'detect') {
    const [map50, map50_95] = [m.map50 ?? m.mAP50, m.map50_95 ?? m['mAP50-95']];
    return isNumber(map50) && isNumber(map50_95) ? { epoch, mAP50: map50, 'mAP50-95': map50_95 } : null;
  }
  if (task === 'segment') {
    const [miou, dice, pixels] = [m.miou ?? m.mIoU, m.mean_dice, m.pixel_accuracy];
    return isNumber(miou) && isNumber(dice) && isNumber(pixels) ? { epoch, mIoU: miou, mean_dice: dice, pixel_accuracy: pixels } : null;
  }
  const accuracy = m.accuracy ?? m.val_accuracy;
  return isNumber(accuracy) ? { epoch, val_accuracy: accuracy } : null;
}

/** One definition of `best`, the trainer's: the epoch its best checkpoint records, else its rule on results.csv. */
function bestEpoch(dir: string, task: string | null, results: Record<string, number | string>[]): BestEpoch | null {
  const meta = readCheckpointMeta(dir, 'weights/best.safetensors');
  const epoch = meta?.epoch;
  const fromMeta = bestOf(task, epoch, { ...results.find((r) => r.epoch === epoch), ...(meta?.metrics as Record<string, unknown> | undefined) });
  if (fromMeta) return fromMeta;
  const row = bestRow(results, task === 'detect' ? detectRowFitness : task === 'segment' ? segmentRowFitness : classifyRowFitness);
  return row ? bestOf(task, row.epoch, row) : null;
}

function readTest(dir: string): TestMetrics | null {
  const t = readJson<Record<string, unknown>>(dir, 'test_metrics.json');
  if (!t || !isNumber(t.epoch) || !isNumber(t.accuracy) || !isNumber(t.count)) return null;
  return { epoch: t.epoch, accuracy: t.accuracy, top5: isNumber(t.top5) ? t.top5 : null, count: t.count };
}

function summarise(project: string, dir: string, args: Record<string, unknown> | null, results: Record<string, number | string>[]): RunSummary {
  const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
  const base = { id: toId(project, dir), name: dir.split(sep).pop()!, updated: lastModified(dir) };
  if (results.length === 0 && existsSync(join(dir, 'metrics.json'))) {
    const m = readJson<ValMetrics>(dir, 'metrics.json') ?? {};
    const task = taskOf(args, m as Record<string, unknown>);
    const final = task === 'detect'
      ? { precision: m.precision, recall: m.recall, mAP50: m.map50, 'mAP50-95': m.map50_95, count: m.count }
      : task === 'segment'
        ? { mIoU: m.miou, mean_dice: m.meanDice, pixel_accuracy: m.pixelAccuracy, count: m.count }
        : { accuracy: m.accuracy, top5: m.top5, loss: m.loss, count: m.count };
    return { ...base, kind: 'val', task, model: str(m.weights), data: str(m.data), epochs: null, final: numbers(final), best: null, test: null };
  }
  const last = results.at(-1);
  const total = typeof args?.epochs === 'number' ? args.epochs : null;
  const task = taskOf(args, results[0] ?? {});
  return {
    ...base, kind: 'train', task, model: str(args?.model), data: str(args?.data),
    epochs: { done: typeof last?.epoch === 'number' ? last.epoch : 0, total }, final: last ? numbers(last) : {},
    best: bestEpoch(dir, task, results), test: readTest(dir),
  };
}

/**
 * The runs under `project` (folders holding args.yaml, results.csv or metrics.json, up to three
 * levels down), most recently changed first. A missing project folder has none.
 */
export function listRuns(project: string): RunSummary[] {
  const found: string[] = [];
  const walk = (dir: string, depth: number): void => {
    if (isRun(dir)) {
      found.push(dir);
      return;
    }
    if (depth >= MAX_DEPTH) return;
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) if (e.isDirectory() && !e.name.startsWith('.') && !INNER.has(e.name)) walk(join(dir, e.name), depth + 1);
  };
  if (existsSync(project)) walk(project, 0);
  return found.map((dir) => summarise(project, dir, readArgs(dir), readResults(dir))).sort((a, b) => b.updated.localeCompare(a.updated) || a.id.localeCompare(b.id));
}

/** Rejects names that try to leave their folder: absolute, `..`, dot-files, NUL. */
function checkRelative(what: string, rel: string): string[] {
  const parts = rel.split('/');
  if (rel.length === 0 || rel.includes('\0') || rel.includes('\\') || isAbsolute(rel) || parts.some((p) => p === '' || p === '..' || (p.startsWith('.') && p !== '.'))) {
    throw new HttpError('bad_path', `${what} "${rel}" is not a plain relative path`);
  }
  return parts;
}

/** The folder of run `id`, checked to be a run inside the project. */
export function runDir(project: string, id: string): string {
  checkRelative('run', id);
  const dir = join(project, id);
  if (realInside(project, id, 'the project') === null || !isRun(dir)) throw new HttpError('no_such_run', `no run "${id}" in the project`);
  return dir;
}

/** Everything the runs page shows for one run. */
export function readRun(project: string, id: string): RunDetail {
  const dir = runDir(project, id);
  const args = readArgs(dir);
  const results = readResults(dir);
  const summary = summarise(project, dir, args, results);
  let confusion = readJson<Confusion>(dir, 'confusion_matrix.json');
  // A detection run's matrix has a background row and column, a segmentation run's counts millions
  // of pixels: each has only a picture (confusion_matrix.png, a segmentation one row-normalised).
  if (confusion === null && summary.kind === 'val' && summary.task !== 'detect' && summary.task !== 'segment') {
    const m = readJson<ValMetrics>(dir, 'metrics.json');
    if (m?.confusionMatrix && m.perClass) confusion = { classes: m.perClass.map((p) => p.class), matrix: m.confusionMatrix };
  }
  const errors = readJson<ValErrorsIndex>(dir, 'val_errors/index.json');
  const has = (f: string): boolean => existsSync(join(dir, f));
  return { ...summary, args, results, confusion, errors, plots: PLOTS.filter(has), valBatches: VAL_BATCHES.filter((b) => has(b.labels) && has(b.pred)) };
}

/**
 * A file of run `id` that may be served: a known extension, no dot-files, and (after links are
 * resolved) inside the run folder. Returns its path and content type.
 */
export function runFile(project: string, id: string, rel: string): { path: string; type: string } {
  const dir = runDir(project, id);
  checkRelative('file', rel);
  const type = RUN_FILE_TYPES[extname(rel).toLowerCase()];
  if (type === undefined) throw new HttpError('forbidden_type', `"${rel}": only images, CSV, YAML, JSON and logs are served`);
  const path = realInside(dir, rel, 'the run folder');
  if (path === null || !statSync(path).isFile()) throw new HttpError('no_such_file', `run "${id}" has no file "${rel}"`);
  return { path, type };
}
