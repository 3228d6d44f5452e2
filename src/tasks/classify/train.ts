/**
 * Classification training: data → model → optimizer and schedule → epochs of train + val, with a
 * run folder (args.yaml, results.csv, weights/last and best, plots, log) and exact resume.
 *
 * @example
 * const r = await train({ data: 'mnist', model: 'smallcnn', epochs: 5 });
 * console.log(r.best.metrics.accuracy, r.dir);
 */
import { availableParallelism } from 'node:os';
import { dirname } from 'node:path';
import { resolveClassifyData, type ClassifyData, type DataSource } from '../../data/sources.js';
import { DataLoader } from '../../data/loader.js';
import { cutmix, mixup } from '../../data/mix.js';
import { mixSeed, Rng } from '../../data/rng.js';
import { buildTransforms } from '../../data/transforms.js';
import { loadCheckpoint, saveCheckpoint, FORMAT, type ClassifierMeta, type Preprocess } from '../../engine/checkpoint.js';
import { progress } from '../../engine/progress.js';
import { RunDir } from '../../engine/run-dir.js';
import { classificationReport } from '../../metrics/classify.js';
import { createModel, MODELS, type ClassifierModel } from '../../models/registry.js';
import * as F from '../../nn/functional.js';
import { Adam, AdamW, clipGradNorm, ModelEMA, SGD, warmupCosine, type Scheduler } from '../../optim/index.js';
import type { Optimizer } from '../../optim/optimizer.js';
import { checkDevice } from '../../tensor/device.js';
import { getRngState, manualSeed, setRngState } from '../../tensor/runtime.js';
import { tidy } from '../../tensor/scope.js';
import type { Tensor } from '../../tensor/tensor.js';
import { parseTrainArgs, type TrainArgs, type TrainInput } from './config.js';
import { predictAll } from './evaluate.js';
import { writeTrainPlots, writeSampleGrid } from './plots.js';
import { channelStats } from './stats.js';

export interface EpochRow extends Record<string, number> {
  epoch: number;
  train_loss: number;
  val_loss: number;
  val_accuracy: number;
  lr: number;
  seconds: number;
}

export interface TrainResult {
  dir: string;
  epochs: number;
  best: { epoch: number; path: string; metrics: { accuracy: number; top5: number | null; loss: number } };
  last: string;
  interrupted: boolean;
  skipped: { path: string; reason: string }[];
  /** The best weights on the held-out test split, when the data has one besides val. */
  test?: { accuracy: number; top5: number | null; count: number };
}

export interface TrainHooks {
  log?: (line: string) => void;
  /** Called after each epoch (its checkpoints saved) with its results.csv row; `false` stops training there. */
  onEpoch?: (row: EpochRow) => boolean | void;
  quiet?: boolean;
}

interface TrainState {
  epoch: number;
  bestFitness: number;
  bestEpoch: number;
  args: TrainArgs;
  scheduler: ReturnType<Scheduler['stateDict']>;
  optimizer: unknown;
  ema?: { updates: number };
  interrupted?: boolean;
}

/** Learning rate and weight decay the optimizer gets when the user names none. */
function optimizerDefaults(a: TrainArgs): { lr: number; weightDecay: number } {
  const lr = a.lr ?? (a.optimizer === 'sgd' ? 0.01 : 1e-3);
  return { lr, weightDecay: a.weightDecay ?? { sgd: 5e-4, adam: 0, adamw: 0.05 }[a.optimizer] };
}

function makeOptimizer(a: TrainArgs, params: Tensor[]): Optimizer<never> {
  const { lr, weightDecay } = optimizerDefaults(a);
  if (a.optimizer === 'sgd') return new SGD(params, { lr, momentum: a.momentum, nesterov: true, weightDecay }) as unknown as Optimizer<never>;
  if (a.optimizer === 'adam') return new Adam(params, { lr, weightDecay }) as unknown as Optimizer<never>;
  return new AdamW(params, { lr, weightDecay }) as unknown as Optimizer<never>;
}

/** The model a data set gets when none is named: smallcnn for 28-px sets, resnet18 otherwise. */
const defaultModel = (data: ClassifyData): string => (data.nativeSize && data.nativeSize[0] <= 32 ? 'smallcnn' : 'resnet18');

export async function train(input: TrainInput, hooks: TrainHooks = {}): Promise<TrainResult> {
  const log = hooks.log ?? ((l: string) => void process.stdout.write(`${l}\n`));
  let args = parseTrainArgs(input);
  let resumed: ReturnType<typeof loadCheckpoint> | null = null;
  let resumeDir: string | null = null;
  if (args.resume) {
    const path = args.resume.endsWith('.safetensors') ? args.resume : `${args.resume}/weights/last.safetensors`;
    resumed = loadCheckpoint(path);
    const state = resumed.train as unknown as TrainState | null;
    if (!state) throw new Error(`${path}: has no training state to resume (a best checkpoint?)`);
    args = { ...state.args, resume: args.resume, ...(args.workers === undefined ? {} : { workers: args.workers }) };
    resumeDir = dirname(dirname(path));
  }
  if (args.data === undefined) throw new Error('no data: give --data (a data set name, a folder or a CSV)');
  checkDevice(args.device);
  // Data problems surface before a run folder exists: a failed start leaves nothing behind.
  const data = await resolveClassifyData(args.data, { seed: args.seed, strict: args.strict, ...(args.valFraction === undefined ? {} : { valFraction: args.valFraction }) });
  const modelName = args.model ?? defaultModel(data);
  const spec = MODELS[modelName as keyof typeof MODELS];
  if (!spec) throw new Error(`unknown model '${modelName}' (known: ${Object.keys(MODELS).join(', ')})`);
  const run = resumeDir ? RunDir.open(resumeDir) : RunDir.create(args.project, args.name, args.existOk);
  const say = (line: string): void => {
    log(line);
    run.log('train.log', line);
  };
  if (data.skipped.length > 0) {
    say(`skipped ${data.skipped.length} unreadable file(s):`);
    for (const s of data.skipped) run.log('train.log', `  skipped ${s.path}: ${s.reason}`);
    for (const s of data.skipped.slice(0, 5)) log(`  ${s.path}: ${s.reason}`);
  }
  const imgsz = args.imgsz ?? data.nativeSize?.[0] ?? spec.defaultImgsz;
  const channels = data.inChannels;
  const { mean, std } = channelStats(data, channels);
  const augment = args.augment === 'auto' ? (data.nativeSize && data.nativeSize[0] <= 32 ? 'light' : 'standard') : args.augment;
  const tfOpts = { imgsz, channels, augment, mean, std, nativeSize: data.nativeSize, ...(args.hflip === undefined ? {} : { hflip: args.hflip }) };
  const preprocess: Preprocess = { imgsz, channels, mean, std, transforms: buildTransforms('eval', tfOpts) };
  const trainLoader = new DataLoader(data.splits.train, { batchSize: args.batch, shuffle: true, dropLast: true, transforms: buildTransforms('train', tfOpts), seed: args.seed, ...workerOpt(args) });
  const valLoader = new DataLoader(data.splits.val, { batchSize: Math.max(args.batch, 256), shuffle: false, dropLast: false, transforms: preprocess.transforms, seed: args.seed, ...workerOpt(args) });
  if (trainLoader.length === 0) throw new Error(`the training split has fewer images (${data.splits.train.labels.length}) than one batch (${args.batch})`);

  manualSeed(args.seed);
  const model: ClassifierModel = resumed?.model ?? createModel(modelName, { numClasses: data.classes.length, inChannels: channels, imgSize: imgsz });
  model.train();
  const optimizer = makeOptimizer(args, model.parameters());
  const steps = trainLoader.length;
  const scheduler = warmupCosine(optimizer as never, { warmupSteps: Math.min(Math.round(args.warmupEpochs * steps), args.epochs * steps - 1), totalSteps: args.epochs * steps });
  const ema = args.ema ? new ModelEMA(model, { decay: 0.9999, tau: 2000 }) : null;
  const evalModel = ema ? createModel(modelName, model.config) : model;
  let startEpoch = 1;
  let bestFitness = -Infinity;
  let bestEpoch = 0;
  if (resumed) {
    const state = resumed.train as unknown as TrainState;
    const optState = new Map([...resumed.extra].filter(([k]) => k.startsWith('optimizer.')).map(([k, t]) => [k.slice('optimizer.'.length), t]));
    optimizer.loadStateDict({ state: optState, meta: state.optimizer as never });
    scheduler.loadStateDict(state.scheduler);
    if (ema && state.ema) ema.loadStateDict({ updates: state.ema.updates, state: new Map([...resumed.extra].filter(([k]) => k.startsWith('ema.')).map(([k, t]) => [k.slice(4), t])) } as never);
    const rng = resumed.extra.get('rng_state');
    if (rng) setRngState(rng);
    for (const t of resumed.extra.values()) t.dispose();
    startEpoch = state.epoch + 1;
    bestFitness = state.bestFitness;
    bestEpoch = state.bestEpoch;
    say(`resuming ${run.path} from epoch ${startEpoch}${state.interrupted ? ' (the interrupted epoch restarts)' : ''}`);
  } else {
    run.writeYaml('args.yaml', { task: 'classify', ...args, model: modelName, imgsz, augment, ...optimizerDefaults(args), classes: data.classes, mean, std });
  }
  say(`${modelName} · ${model.numParameters().toLocaleString('en-US')} parameters · ${data.name}: ${data.classes.length} classes, ${data.splits.train.labels.length} train / ${data.splits.val.labels.length} val images · imgsz ${imgsz} · ${args.optimizer} · batch ${args.batch} · ${args.epochs} epochs → ${run.path}`);

  let stop = false;
  const onSigint = (): void => {
    stop = true;
    log('\ninterrupt: finishing this step, saving last, exiting (Ctrl-C again to force)');
    process.once('SIGINT', () => process.exit(130));
  };
  process.once('SIGINT', onSigint);

  const meta = (epoch: number, metrics?: Record<string, number>): ClassifierMeta => ({
    format: FORMAT, task: 'classify', model: model.config, classes: data.classes, preprocess, epoch,
    ...(metrics ? { metrics } : {}), createdAt: new Date().toISOString(),
  });
  const saveLast = (epoch: number, interrupted: boolean): void => {
    const opt = optimizer.stateDict();
    const tensors = new Map<string, Tensor>([...[...opt.state].map(([k, t]) => [`optimizer.${k}`, t] as [string, Tensor])]);
    const rng = getRngState();
    tensors.set('rng_state', rng);
    if (ema) for (const [k, t] of ema.state) tensors.set(`ema.${k}`, t);
    const state: TrainState = { epoch, bestFitness, bestEpoch, args, scheduler: scheduler.stateDict(), optimizer: opt.meta, ...(ema ? { ema: { updates: ema.updates } } : {}), ...(interrupted ? { interrupted } : {}) };
    saveCheckpoint(`${run.weights}/last.safetensors`, model, meta(epoch), { tensors, train: state as unknown as Record<string, unknown> });
    rng.dispose();
  };

  const mixing = args.mixup > 0 || args.cutmix > 0;
  let lastRow: EpochRow | null = null;
  let interrupted = false;
  try {
    for (let epoch = startEpoch; epoch <= args.epochs && !stop; epoch++) {
      const t0 = performance.now();
      model.train();
      const bar = progress({ label: `epoch ${epoch}/${args.epochs}`, total: steps, unit: 'batch', quiet: hooks.quiet ?? false, write: say });
      let lossSum = 0;
      let done = 0;
      const mixRng = new Rng(mixSeed(args.seed, epoch, 0x6d1c));
      for await (const batch of trainLoader.epoch(epoch)) {
        if (epoch === 1 && done === 0 && !resumed) await writeSampleGrid(run.file('train_batch.png'), batch, data.classes, mean, std);
        lossSum += tidy(() => {
          let images = batch.images;
          let target: Tensor = batch.labels;
          if (mixing) {
            const useCutmix = args.cutmix > 0 && (args.mixup === 0 || mixRng.next() < 0.5);
            ({ images, targets: target } = useCutmix ? cutmix(images, batch.labels, data.classes.length, args.cutmix, mixRng) : mixup(images, batch.labels, data.classes.length, args.mixup, mixRng));
          }
          const loss = F.crossEntropy(model.forward(images), target, { labelSmoothing: args.labelSmoothing });
          loss.backward();
          if (args.clipGrad) clipGradNorm(model.parameters(), args.clipGrad);
          optimizer.step();
          optimizer.zeroGrad();
          scheduler.step();
          ema?.update(model);
          return loss.item();
        });
        batch.images.dispose();
        batch.labels.dispose();
        done++;
        bar.update(done, { loss: lossSum / done, lr: scheduler.getLastLr()[0]! });
        if (stop) break;
      }
      bar.stop();
      if (stop) {
        interrupted = true;
        saveLast(epoch - 1, true);
        say(`interrupted in epoch ${epoch}: saved ${run.weights}/last.safetensors (resume with --resume ${run.path})`);
        break;
      }
      if (ema) ema.applyTo(evalModel);
      const val = await predictAll(evalModel, valLoader, { label: '  val', quiet: hooks.quiet ?? false });
      const report = classificationReport(val.yTrue, val.yPred, data.classes, { scores: val.scores });
      const row: EpochRow = {
        epoch, train_loss: lossSum / steps, val_loss: val.loss, val_accuracy: report.accuracy,
        ...(report.top5 === null ? {} : { val_top5: report.top5 }),
        lr: scheduler.getLastLr()[0]!, seconds: (performance.now() - t0) / 1000,
      };
      run.addResult(row);
      lastRow = row;
      const fitness = report.accuracy - 1e-6 * val.loss;
      const isBest = fitness > bestFitness;
      if (isBest) {
        bestFitness = fitness;
        bestEpoch = epoch;
        saveCheckpoint(`${run.weights}/best.safetensors`, evalModel as ClassifierModel, meta(epoch, { accuracy: report.accuracy, loss: val.loss, ...(report.top5 === null ? {} : { top5: report.top5 }) }));
      }
      saveLast(epoch, false);
      await writeTrainPlots(run, report, isBest, data.classes);
      say(`epoch ${epoch}: train_loss ${row.train_loss.toFixed(4)} · val_loss ${val.loss.toFixed(4)} · val_accuracy ${(report.accuracy * 100).toFixed(2)}%${report.top5 === null ? '' : ` · top5 ${(report.top5 * 100).toFixed(2)}%`} · ${row.seconds.toFixed(1)} s`);
      if (hooks.onEpoch?.(row) === false) {
        say(`stopped after epoch ${epoch} by the caller`);
        break;
      }
      if (args.patience > 0 && epoch - bestEpoch >= args.patience) {
        say(`early stop: no improvement for ${args.patience} epochs (best epoch ${bestEpoch})`);
        break;
      }
    }
  } finally {
    process.removeListener('SIGINT', onSigint);
    await trainLoader.close();
    await valLoader.close();
  }
  const result: TrainResult = {
    dir: run.path, epochs: lastRow?.epoch ?? startEpoch - 1,
    best: { epoch: bestEpoch, path: `${run.weights}/best.safetensors`, metrics: { accuracy: lastRowMetric(run, bestEpoch, 'val_accuracy'), top5: lastRowMetricOrNull(run, bestEpoch, 'val_top5'), loss: lastRowMetric(run, bestEpoch, 'val_loss') } },
    last: `${run.weights}/last.safetensors`, interrupted, skipped: data.skipped,
  };
  if (data.splits.test && bestEpoch > 0 && !interrupted) result.test = await testBest(result.best.path, data.splits.test, args, say, hooks.quiet ?? false);
  if (evalModel !== model) evalModel.dispose();
  ema?.dispose();
  optimizer.dispose();
  model.dispose();
  return result;
}

/** The loader's default thread count unless the user named one. */
const workerOpt = (args: TrainArgs): { workers?: number } => (args.workers === undefined ? {} : { workers: args.workers });

/** Evaluates the best checkpoint once on the test split (never used for model selection). */
async function testBest(path: string, source: DataSource, args: TrainArgs, say: (l: string) => void, quiet: boolean): Promise<NonNullable<TrainResult['test']>> {
  const best = loadCheckpoint(path);
  const loader = new DataLoader(source, { batchSize: Math.max(args.batch, 256), transforms: best.meta.preprocess.transforms, seed: args.seed, ...workerOpt(args) });
  try {
    const p = await predictAll(best.model, loader, { label: '  test', quiet });
    const r = classificationReport(p.yTrue, p.yPred, best.meta.classes, { scores: p.scores });
    say(`test (best epoch ${best.meta.epoch}): accuracy ${(r.accuracy * 100).toFixed(2)}%${r.top5 === null ? '' : ` · top5 ${(r.top5 * 100).toFixed(2)}%`} on ${p.yTrue.length} images`);
    return { accuracy: r.accuracy, top5: r.top5, count: p.yTrue.length };
  } finally {
    await loader.close();
    best.model.dispose();
    for (const t of best.extra.values()) t.dispose();
  }
}

function lastRowMetric(run: RunDir, epoch: number, key: string): number {
  return Number(run.rows.find((r) => r.epoch === epoch)?.[key] ?? NaN);
}

function lastRowMetricOrNull(run: RunDir, epoch: number, key: string): number | null {
  const v = run.rows.find((r) => r.epoch === epoch)?.[key];
  return v === undefined || v === '' ? null : Number(v);
}
