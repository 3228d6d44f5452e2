/**
 * Checkpoints of every task: one safetensors file holding the model's state dict (PyTorch names)
 * and, in its metadata, everything needed to use it alone: task, model config, class names,
 * preprocessing. The format names the task (`kestrel.classify/1`, `kestrel.detect/1`…), so a
 * detector is never loaded where a classifier is expected. `last` checkpoints add the training
 * state (optimizer tensors under `optimizer.`, RNG, schedule).
 */
import { existsSync } from 'node:fs';
import { CheckpointError, loadSafetensors, readSafetensorsHeader, saveSafetensors } from '../checkpoint/index.js';
import { checkFinite, checkMeta, checkTensors } from './checkpoint-checks.js';
import type { TransformSpec } from '../data/transforms.js';
import { buildModel, type ModelConfig, type TaskModel } from '../models/registry.js';
import { isTaskName, type TaskName } from '../task.js';
import type { Device } from '../tensor/device.js';
import type { Tensor } from '../tensor/tensor.js';

/** The checkpoint format of each task. */
export const formatOf = <T extends TaskName>(task: T): `kestrel.${T}/1` => `kestrel.${task}/1`;

/** The classification format (the first one; kept as a name for existing callers). */
export const FORMAT = formatOf('classify');

/** What a deployed model needs to turn an image into the network's input. */
export interface Preprocess {
  imgsz: number;
  channels: 1 | 3;
  /** Per-channel mean and std on the 0–1 scale. */
  mean: number[];
  std: number[];
  /** The eval pipeline (resize, center crop, normalize) as data. */
  transforms: TransformSpec[];
}

export interface CheckpointMeta<T extends TaskName = TaskName> {
  format: `kestrel.${T}/1`;
  task: T;
  model: ModelConfig;
  classes: string[];
  preprocess: Preprocess;
  epoch: number;
  /** The data the model was trained on, so `val` rebuilds the same split by default. */
  data?: { spec: string; seed: number; valFraction?: number };
  metrics?: Record<string, number>;
  createdAt: string;
}

export type ClassifierMeta = CheckpointMeta<'classify'>;

export interface Checkpoint<M extends TaskModel = TaskModel, T extends TaskName = TaskName> {
  model: M;
  meta: CheckpointMeta<T>;
  /** Tensors beyond the model's (optimizer state, RNG) — present in `last` checkpoints. */
  extra: Map<string, Tensor>;
  /** JSON training state saved with `last` (epoch, schedule, best fitness…), or null. */
  train: Record<string, unknown> | null;
}

/** Writes a checkpoint atomically. `extra` tensor names must not clash with the model's. */
export function saveCheckpoint(path: string, model: TaskModel, meta: CheckpointMeta, extra?: { tensors?: Map<string, Tensor>; train?: Record<string, unknown> }): void {
  const tensors = new Map(model.stateDict());
  for (const [k, t] of extra?.tensors ?? []) {
    if (tensors.has(k)) throw new Error(`checkpoint: extra tensor '${k}' clashes with a model tensor`);
    tensors.set(k, t);
  }
  const metadata: Record<string, string> = { kestrel: JSON.stringify(meta) };
  if (extra?.train) metadata['kestrel.train'] = JSON.stringify(extra.train);
  saveSafetensors(path, tensors, metadata);
}

export interface LoadOptions<T extends TaskName = TaskName> {
  device?: Device;
  /** The task the caller needs: a checkpoint of another task is refused with a one-line error. */
  task?: T;
  /** Also read the training state's tensors into `extra` (resume); otherwise they are never read. */
  trainingState?: boolean;
}

/** Reads only the metadata of a checkpoint (fast: no tensor data). */
export function readCheckpointMeta(path: string, opts: Pick<LoadOptions, 'task'> = {}): CheckpointMeta {
  if (!existsSync(path)) throw new CheckpointError(path, `no such checkpoint`);
  return parseMeta(path, readSafetensorsHeader(path).metadata, opts.task);
}

function parseMeta(path: string, metadata: Record<string, string>, want?: TaskName): CheckpointMeta {
  const raw = metadata.kestrel;
  if (raw === undefined) throw new CheckpointError(path, `not a Kestrel checkpoint (no 'kestrel' metadata)`);
  let meta: CheckpointMeta;
  try {
    meta = JSON.parse(raw) as CheckpointMeta;
  } catch {
    throw new CheckpointError(path, `the 'kestrel' metadata is not valid JSON`);
  }
  const task = typeof meta.task === 'string' && isTaskName(meta.task) ? meta.task : null;
  if (task === null || meta.format !== formatOf(task)) {
    throw new CheckpointError(path, `unsupported checkpoint format '${String(meta.format)}' (expected ${formatOf(want ?? 'classify')})`);
  }
  if (want !== undefined && task !== want) throw new CheckpointError(path, `is a ${task} checkpoint; this needs a ${want} one`);
  return meta;
}

/**
 * Loads a checkpoint and rebuilds its model (eval mode). The metadata is checked before the model
 * is built and the tensors' shapes and dtypes before their data is read (checkpoint-checks.ts);
 * weights with NaN or infinite values are refused.
 */
export function loadCheckpoint<M extends TaskModel = TaskModel, T extends TaskName = TaskName>(path: string, opts: LoadOptions<T> = {}): Checkpoint<M, T> {
  if (!existsSync(path)) throw new CheckpointError(path, `no such checkpoint`);
  const header = readSafetensorsHeader(path);
  const meta = parseMeta(path, header.metadata, opts.task) as CheckpointMeta<T>;
  checkMeta(path, meta);
  let model: M;
  try {
    // The task checked above decides the model family; the registry builds it by name.
    model = buildModel(meta.model) as M;
  } catch (e) {
    // A config createModel refuses (unknown name, bad size) is the file's fault; anything else
    // (the addon missing, out of memory) is not, and keeps its own message.
    if (e instanceof RangeError || /^unknown model/.test((e as Error).message)) throw new CheckpointError(path, `metadata model: ${(e as Error).message}`);
    throw e;
  }
  let tensors = new Map<string, Tensor>();
  try {
    const own = model.stateDict();
    checkTensors(path, own, header.tensors);
    tensors = loadSafetensors(path, { only: (name) => own.has(name) || opts.trainingState === true }).tensors;
    const mine = new Map([...tensors].filter(([k]) => own.has(k)));
    checkFinite(path, mine);
    try {
      model.loadStateDict(mine);
    } catch (e) {
      throw new CheckpointError(path, `${(e as Error).message}`);
    }
    for (const t of mine.values()) t.dispose();
    if (opts.device && opts.device !== 'cpu') model.to(opts.device);
    const extra = new Map([...tensors].filter(([k]) => !own.has(k)));
    const train = parseTrainState(path, header.metadata['kestrel.train']);
    model.eval();
    return { model, meta, extra, train };
  } catch (e) {
    for (const t of tensors.values()) if (!t.isDisposed) t.dispose();
    model.dispose();
    throw e;
  }
}

function parseTrainState(path: string, raw: string | undefined): Record<string, unknown> | null {
  if (raw === undefined) return null;
  try {
    return JSON.parse(raw) as Record<string, unknown>;
  } catch {
    throw new CheckpointError(path, `the 'kestrel.train' metadata is not valid JSON`);
  }
}
