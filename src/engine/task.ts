/**
 * What a task gives the shared loops: the Trainer calls these hooks for everything that differs
 * between classification, detection and segmentation, and keeps the loop itself. A task is a
 * `TrainTask` (its settings schema and a `setup`) whose setup returns a `TaskRun` (data, model
 * factory, loss, validation, plots) for one run.
 */
import type { Module } from '../nn/module.js';
import type { Batch, DataLoader } from '../data/loader.js';
import type { Rng } from '../data/rng.js';
import type { Skipped } from '../data/source.js';
import type { TaskModel } from '../models/registry.js';
import type { TaskName } from '../task.js';
import type { Device } from '../tensor/device.js';
import type { Tensor } from '../tensor/tensor.js';
import type { CheckpointMeta } from './checkpoint.js';
import type { TrainerArgs } from './config.js';
import type { RunDir } from './run-dir.js';

/** One results.csv row: the loop's columns plus the task's validation columns. */
export interface EpochRow extends Record<string, number> {
  epoch: number;
  train_loss: number;
  lr: number;
  seconds: number;
}

/** A validation pass as the loop needs it. */
export interface Validation {
  /** results.csv columns (`val_loss`, `val_accuracy`, `val_map50`…). */
  row: Record<string, number>;
  /** One number, higher is better, that picks `best` (Ultralytics' fitness). */
  fitness: number;
  /** The metrics a best checkpoint records in its metadata. */
  metrics: Record<string, number>;
  /** The epoch's log line, after train_loss. */
  summary: string;
}

export interface StepContext {
  epoch: number;
  /** Steps already taken in this epoch. */
  step: number;
  /** Seeded by (seed, epoch, step): batch-level randomness (MixUp…) that resume reproduces. */
  rng: Rng;
}

/** One run of a task: built by `TrainTask.setup` before any run folder exists. */
export interface TaskRun<M extends TaskModel, V extends Validation = Validation> {
  /** Class names; a resumed run's data must have the same. */
  classes: string[];
  trainLoader: DataLoader;
  /**
   * The loader an epoch trains on, when it changes during a run (detection closes mosaic for the
   * last epochs); it must have trainLoader's length. `epochs` is the current plan.
   */
  trainLoaderFor?(epoch: number, epochs: number): DataLoader;
  device: Device;
  /** Whether the model trains channels-last unless the settings say otherwise. */
  channelsLast: boolean;
  /** Files left out while reading the data. */
  skipped: Skipped[];
  /** Lines for the log after the first (a lowered batch, a run with few steps…). */
  notes?: string[];
  /**
   * Ultralytics' parameter groups: weight decay on the weights of convolutions and linear layers
   * only, none on biases and normalisation weights (detection); otherwise one group, all decayed.
   */
  splitDecay?: boolean;
  /** A fresh model (the Trainer seeds the generator first). */
  createModel(): M;
  /**
   * Loads `--pretrained` weights into a fresh model (a file, hub name or checkpoint) and returns
   * lines for the log (what loaded, whether the head was re-initialised). A task without this
   * hook refuses --pretrained; detection and segmentation add it for their backbones.
   */
  loadPretrained?(model: M, spec: string): Promise<string[]>;
  /** The module that maps features to the task's outputs: re-initialised when the classes differ. */
  head?(model: M): Module<never[], unknown>;
  /**
   * The modules --freeze backbone keeps and --backbone-lr scales, by name, where that is not
   * everything but the head (a detector's neck belongs to neither).
   */
  backbone?(model: M): [string, Module<never[], unknown>][];
  /** Keys args.yaml records besides the settings (resolved model, image size, classes…). */
  argsYaml(): Record<string, unknown>;
  /** The run's first line: what trains on what. */
  describe(model: M): string;
  /** What a checkpoint of `model` after `epoch` says about itself. */
  meta(model: M, epoch: number, metrics?: Record<string, number>): CheckpointMeta;
  /**
   * The loss of one batch (inside the step's scope); with `items`, its parts for the log and
   * results.csv (`train_<name>` columns: detection's box, cls and dfl), whose sum is then the
   * logged train_loss.
   */
  loss(model: M, batch: Batch, ctx: StepContext): Tensor | { loss: Tensor; items: Record<string, number> };
  /** Validates (eval mode) after an epoch. */
  validate(model: M, epoch: number, quiet: boolean): Promise<V>;
  /** Draws the first training batch (train_batch.png). */
  plotBatch?(batch: Batch, path: string): Promise<void>;
  /** Plots and files after an epoch's checkpoints are saved. */
  afterEpoch?(run: RunDir, v: V, at: { epoch: number; isBest: boolean; say: (line: string) => void }): Promise<void>;
  /** One evaluation of the best weights on a held-out test split, when there is one. */
  test?(bestPath: string, say: (line: string) => void, quiet: boolean): Promise<Record<string, number | null> | undefined>;
  /** Stops the loaders. */
  close(): Promise<void>;
}

export interface TrainTask<A extends TrainerArgs, M extends TaskModel, V extends Validation = Validation> {
  readonly name: TaskName;
  /** Validates settings (CLI, API, a resumed run's args.yaml). */
  parseArgs(input: unknown): A;
  setup(args: A): Promise<TaskRun<M, V>>;
}

export interface TrainHooks {
  log?: (line: string) => void;
  /** After each epoch (checkpoints saved) with its results.csv row; `false` stops training there. */
  onEpoch?: (row: EpochRow) => boolean | void;
  /** After each training step; `false` stops as Ctrl-C does (last saved mid-epoch, resumable). */
  onStep?: (epoch: number, step: number) => boolean | void;
  quiet?: boolean;
}

export interface TrainerResult {
  dir: string;
  /** Epochs completed. */
  epochs: number;
  /** The best epoch's checkpoint and its results.csv row, or null when no epoch completed. */
  best: { epoch: number; path: string; row: Readonly<Record<string, number | string>> } | null;
  last: string;
  interrupted: boolean;
  skipped: Skipped[];
  /** The best weights on the held-out test split, when the data has one besides val. */
  test?: Record<string, number | null>;
}
