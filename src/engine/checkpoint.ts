/**
 * Classifier checkpoints: one safetensors file holding the model's state dict (PyTorch names) and,
 * in its metadata, everything needed to use it alone: model config, class names, preprocessing.
 * `last` checkpoints add the training state (optimizer tensors under `optimizer.`, RNG, schedule).
 */
import { existsSync } from 'node:fs';
import { CheckpointError, loadSafetensors, readSafetensorsHeader, saveSafetensors } from '../checkpoint/index.js';
import type { TransformSpec } from '../data/transforms.js';
import { createModel, type ClassifierModel, type ModelConfig } from '../models/registry.js';
import type { Device } from '../tensor/device.js';
import type { Tensor } from '../tensor/tensor.js';

export const FORMAT = 'kestrel.classify/1';

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

export interface ClassifierMeta {
  format: typeof FORMAT;
  task: 'classify';
  model: ModelConfig;
  classes: string[];
  preprocess: Preprocess;
  epoch: number;
  /** The data the model was trained on, so `val` rebuilds the same split by default. */
  data?: { spec: string; seed: number; valFraction?: number };
  metrics?: Record<string, number>;
  createdAt: string;
}

export interface Checkpoint {
  model: ClassifierModel;
  meta: ClassifierMeta;
  /** Tensors beyond the model's (optimizer state, RNG) — present in `last` checkpoints. */
  extra: Map<string, Tensor>;
  /** JSON training state saved with `last` (epoch, schedule, best fitness…), or null. */
  train: Record<string, unknown> | null;
}

/** Writes a checkpoint atomically. `extra` tensor names must not clash with the model's. */
export function saveCheckpoint(path: string, model: ClassifierModel, meta: ClassifierMeta, extra?: { tensors?: Map<string, Tensor>; train?: Record<string, unknown> }): void {
  const tensors = new Map(model.stateDict());
  for (const [k, t] of extra?.tensors ?? []) {
    if (tensors.has(k)) throw new Error(`checkpoint: extra tensor '${k}' clashes with a model tensor`);
    tensors.set(k, t);
  }
  const metadata: Record<string, string> = { kestrel: JSON.stringify(meta) };
  if (extra?.train) metadata['kestrel.train'] = JSON.stringify(extra.train);
  saveSafetensors(path, tensors, metadata);
}

/** Reads only the metadata of a checkpoint (fast: no tensor data). */
export function readCheckpointMeta(path: string): ClassifierMeta {
  if (!existsSync(path)) throw new CheckpointError(path, `no such checkpoint`);
  return parseMeta(path, readSafetensorsHeader(path).metadata);
}

function parseMeta(path: string, metadata: Record<string, string>): ClassifierMeta {
  const raw = metadata.kestrel;
  if (raw === undefined) throw new CheckpointError(path, `not a Kestrel checkpoint (no 'kestrel' metadata)`);
  let meta: ClassifierMeta;
  try {
    meta = JSON.parse(raw) as ClassifierMeta;
  } catch {
    throw new CheckpointError(path, `the 'kestrel' metadata is not valid JSON`);
  }
  if (meta.format !== FORMAT) throw new CheckpointError(path, `unsupported checkpoint format '${String(meta.format)}' (expected ${FORMAT})`);
  return meta;
}

/** Loads a checkpoint and rebuilds its model (eval mode). */
export function loadCheckpoint(path: string, opts: { device?: Device } = {}): Checkpoint {
  if (!existsSync(path)) throw new CheckpointError(path, `no such checkpoint`);
  const { tensors, metadata } = loadSafetensors(path);
  try {
    const meta = parseMeta(path, metadata);
    const model = createModel(meta.model.name, meta.model);
    const own = model.stateDict();
    const mine = new Map([...tensors].filter(([k]) => own.has(k)));
    try {
      model.loadStateDict(mine);
    } catch (e) {
      model.dispose();
      throw new CheckpointError(path, `${(e as Error).message}`);
    }
    for (const t of mine.values()) t.dispose();
    if (opts.device && opts.device !== 'cpu') model.to(opts.device);
    const extra = new Map([...tensors].filter(([k]) => !own.has(k)));
    const train = metadata['kestrel.train'] === undefined ? null : (JSON.parse(metadata['kestrel.train']) as Record<string, unknown>);
    return { model: model.eval(), meta, extra, train };
  } catch (e) {
    for (const t of tensors.values()) if (!t.isDisposed) t.dispose();
    throw e;
  }
}
