/**
 * Classification training: epochs of train + val over a prepared setup, with a run folder
 * (args.yaml, results.csv, weights/last and best, plots, log) and exact resume, also from the
 * middle of an epoch (Ctrl-C).
 *
 * @example
 * const r = await train({ data: 'mnist', model: 'smallcnn', epochs: 5 });
 * console.log(r.best?.metrics.accuracy, r.dir);
 */
import { dirname } from 'node:path';
import type { Batch } from '../../data/loader.js';
import { cutmix, mixup } from '../../data/mix.js';
import { mixSeed, Rng } from '../../data/rng.js';
import { loadCheckpoint, saveCheckpoint, FORMAT, type Checkpoint, type ClassifierMeta } from '../../engine/checkpoint.js';
import { progress } from '../../engine/progress.js';
import { RunDir } from '../../engine/run-dir.js';
import { classificationReport } from '../../metrics/classify.js';
import { createModel, MODELS, type ClassifierModel } from '../../models/registry.js';
import * as F from '../../nn/functional.js';
import { clipGradNorm, ModelEMA, warmupCosine, type ModelEMAStateDict, type Scheduler } from '../../optim/index.js';
import { getRngState, manualSeed, releaseMemory, setRngState } from '../../tensor/runtime.js';
import { tidy } from '../../tensor/scope.js';
import type { Tensor } from '../../tensor/tensor.js';
import { parseTrainArgs, type TrainArgs, type TrainInput } from './config.js';
import { predictAll } from './evaluate.js';
import { makeOptimizer, optimizerDefaults } from './optimizer.js';
import { writeSampleGrid, writeTrainPlots } from './plots.js';
import { prepare, type Setup } from './setup.js';
import { testBest } from './test-split.js';
import { writeValErrors } from './val-errors.js';

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
  /** Epochs completed. */
  epochs: number;
  /** The best epoch's checkpoint and validation metrics, or null when no epoch completed. */
  best: { epoch: number; path: string; metrics: { accuracy: number; top5: number | null; loss: number } } | null;
  last: string;
  interrupted: boolean;
  skipped: { path: string; reason: string }[];
  /** The best weights on the held-out test split, when the data has one besides val. */
  test?: { accuracy: number; top5: number | null; count: number };
}

export interface TrainHooks {
  log?: (line: string) => void;
  /** After each epoch (checkpoints saved) with its results.csv row; `false` stops training there. */
  onEpoch?: (row: EpochRow) => boolean | void;
  /** After each training step; `false` stops as Ctrl-C does (last saved mid-epoch, resumable). */
  onStep?: (epoch: number, step: number) => boolean | void;
  quiet?: boolean;
}

/** Where a stopped epoch was, so resume can skip exactly the batches already trained. */
interface Partial {
  epoch: number;
  done: number;
  lossSum: number;
  seconds: number;
}

interface TrainState {
  /** Epochs completed. */
  epoch: number;
  partial?: Partial;
  bestFitness: number | null;
  bestEpoch: number;
  args: TrainArgs;
  scheduler: ReturnType<Scheduler['stateDict']>;
  optimizer: unknown;
  ema?: ModelEMAStateDict['meta'];
}

/** The checkpoint a --resume names, its training state, and the args it ran with. */
function openResume(args: TrainArgs): { args: TrainArgs; ckpt: Checkpoint | null; state: TrainState | null; dir: string | null } {
  if (!args.resume) return { args, ckpt: null, state: null, dir: null };
  const path = args.resume.endsWith('.safetensors') ? args.resume : `${args.resume}/weights/last.safetensors`;
  const ckpt = loadCheckpoint(path);
  const state = ckpt.train as unknown as TrainState | null;
  if (!state) {
    ckpt.model.dispose();
    throw new Error(`${path}: has no training state to resume (a best checkpoint?)`);
  }
  return { args: { ...state.args, resume: args.resume, ...(args.workers === undefined ? {} : { workers: args.workers }) }, ckpt, state, dir: dirname(dirname(path)) };
}

const prefixed = (m: Map<string, Tensor>, prefix: string): Map<string, Tensor> =>
  new Map([...m].filter(([k]) => k.startsWith(prefix)).map(([k, t]) => [k.slice(prefix.length), t]));

export async function train(input: TrainInput, hooks: TrainHooks = {}): Promise<TrainResult> {
  const log = hooks.log ?? ((l: string) => void process.stdout.write(`${l}\n`));
  const quiet = hooks.quiet ?? false;
  const resume = openResume(parseTrainArgs(input));
  const { args, state: resumedState } = resume;
  let setup: Setup;
  try {
    setup = await prepare(args);
    const saved = resume.ckpt?.meta.classes;
    if (saved && saved.join('\n') !== setup.data.classes.join('\n')) throw new Error(`the data's classes (${setup.data.classes.join(', ')}) differ from the run's (${saved.join(', ')})`);
  } catch (e) {
    resume.ckpt?.model.dispose();
    for (const t of resume.ckpt?.extra.values() ?? []) t.dispose();
    throw e;
  }
  const { data, preprocess, device, trainLoader, valLoader } = setup;

  manualSeed(args.seed);
  const model: ClassifierModel = resume.ckpt?.model ?? createModel(setup.modelName, { numClasses: data.classes.length, inChannels: preprocess.channels, imgSize: preprocess.imgsz });
  if (device !== 'cpu') model.to(device);
  const channelsLast = args.channelsLast ?? MODELS[setup.modelName].channelsLast;
  if (channelsLast) model.memoryFormat('channelsLast');
  const optimizer = makeOptimizer(args, model.parameters());
  const steps = trainLoader.length;
  const scheduler = warmupCosine(optimizer as never, { warmupSteps: Math.min(Math.round(args.warmupEpochs * steps), args.epochs * steps - 1), totalSteps: args.epochs * steps });
  const ema = args.ema ? new ModelEMA(model, { decay: 0.9999, tau: 2000 }) : null;
  const evalModel = ema ? createModel(setup.modelName, model.config) : model;
  if (evalModel !== model && device !== 'cpu') evalModel.to(device);
  if (evalModel !== model && channelsLast) evalModel.memoryFormat('channelsLast');
  let bestFitness = -Infinity;
  let bestEpoch = 0;
  let completed = 0;
  let partial: Partial | null = null;
  if (resume.ckpt && resumedState) {
    const extra = resume.ckpt.extra;
    optimizer.loadStateDict({ state: prefixed(extra, 'optimizer.'), meta: resumedState.optimizer as never });
    scheduler.loadStateDict(resumedState.scheduler);
    if (ema && resumedState.ema) ema.loadStateDict({ state: prefixed(extra, 'ema.'), meta: resumedState.ema });
    const rng = extra.get('rng_state');
    if (rng) setRngState(rng);
    for (const t of extra.values()) t.dispose();
    completed = resumedState.epoch;
    partial = resumedState.partial ?? null;
    bestFitness = resumedState.bestFitness ?? -Infinity;
    bestEpoch = resumedState.bestEpoch;
  }

  const run = resume.dir ? RunDir.open(resume.dir) : RunDir.create(args.project, args.name, args.existOk);
  const say = (line: string): void => {
    log(line);
    run.log('train.log', line);
  };
  if (data.skipped.length > 0) {
    say(`skipped ${data.skipped.length} unreadable file(s) (listed in ${run.file('train.log')}):`);
    for (const s of data.skipped) run.log('train.log', `  skipped ${s.path}: ${s.reason}`);
    for (const s of data.skipped.slice(0, 5)) log(`  ${s.path}: ${s.reason}`);
  }
  if (resume.ckpt) {
    say(`resuming ${run.path} from epoch ${partial?.epoch ?? completed + 1}${partial ? ` step ${partial.done + 1}` : ''}`);
  } else {
    run.writeYaml('args.yaml', { task: 'classify', ...args, model: setup.modelName, imgsz: preprocess.imgsz, augment: setup.augment, ...optimizerDefaults(args), classes: data.classes, mean: preprocess.mean, std: preprocess.std });
  }
  say(`${setup.modelName} · ${model.numParameters().toLocaleString('en-US')} parameters · ${data.name}: ${data.classes.length} classes, ${data.splits.train.labels.length} train / ${data.splits.val.labels.length} val images · imgsz ${preprocess.imgsz} · ${args.optimizer} · batch ${args.batch} · ${args.epochs} epochs · ${device} → ${run.path}`);

  let stop = false;
  const force = (): never => process.exit(130);
  const onSigint = (): void => {
    stop = true;
    log('\ninterrupt: finishing this step, saving last, exiting (Ctrl-C again to force)');
    process.once('SIGINT', force);
  };
  process.once('SIGINT', onSigint);

  const meta = (epoch: number, metrics?: Record<string, number>): ClassifierMeta => ({
    format: FORMAT, task: 'classify', model: model.config, classes: data.classes, preprocess, epoch,
    data: { spec: args.data!, seed: args.seed, ...(args.valFraction === undefined ? {} : { valFraction: args.valFraction }) },
    ...(metrics ? { metrics } : {}), createdAt: new Date().toISOString(),
  });
  const saveLast = (epoch: number, part: Partial | null): void => {
    const opt = optimizer.stateDict();
    const tensors = prefixedMap(opt.state, 'optimizer.');
    const rng = getRngState();
    tensors.set('rng_state', rng);
    const emaState = ema?.stateDict();
    for (const [k, t] of emaState?.state ?? []) tensors.set(`ema.${k}`, t);
    const st: TrainState = {
      epoch, ...(part ? { partial: part } : {}), bestFitness: Number.isFinite(bestFitness) ? bestFitness : null, bestEpoch, args,
      scheduler: scheduler.stateDict(), optimizer: opt.meta, ...(emaState ? { ema: emaState.meta } : {}),
    };
    try {
      saveCheckpoint(`${run.weights}/last.safetensors`, model, meta(epoch), { tensors, train: st as unknown as Record<string, unknown> });
    } finally {
      rng.dispose();
    }
  };

  const mixing = args.mixup > 0 || args.cutmix > 0;
  /** Mixes a batch as the step would; on a skipped batch it only advances the generator. */
  const mix = (batch: Batch, rng: Rng): { images: Tensor; target: Tensor } => {
    if (!mixing) return { images: batch.images, target: batch.labels };
    const k = data.classes.length;
    const useCutmix = args.cutmix > 0 && (args.mixup === 0 || rng.next() < 0.5);
    const m = useCutmix ? cutmix(batch.images, batch.labels, k, args.cutmix, rng) : mixup(batch.images, batch.labels, k, args.mixup, rng);
    return { images: m.images, target: m.targets };
  };
  const toDevice = (t: Tensor): Tensor => (device === 'cpu' ? t : t.to(device));
  const toInput = (t: Tensor): Tensor => (channelsLast ? toDevice(t).contiguous(true) : toDevice(t));

  let interrupted = false;
  try {
    for (let epoch = (partial?.epoch ?? completed + 1); epoch <= args.epochs && !stop; epoch++) {
      const resumeAt = partial?.epoch === epoch ? partial : null;
      const t0 = performance.now() - (resumeAt?.seconds ?? 0) * 1000;
      model.train();
      const bar = progress({ label: `epoch ${epoch}/${args.epochs}`, total: steps, unit: 'batch', quiet, write: say });
      let lossSum = resumeAt?.lossSum ?? 0;
      let done = 0;
      const mixRng = new Rng(mixSeed(args.seed, epoch, 0x6d1c));
      try {
        for await (const batch of trainLoader.epoch(epoch)) {
          using _batch = batch;
          if (resumeAt && done < resumeAt.done) {
            tidy(() => void mix(batch, mixRng));
            done++;
            continue;
          }
          if (epoch === 1 && done === 0) await writeSampleGrid(run.file('train_batch.png'), batch, data.classes, preprocess.mean, preprocess.std);
          lossSum += tidy(() => {
            const { images, target } = mix(batch, mixRng);
            const loss = F.crossEntropy(model.forward(toInput(images)), toDevice(target), { labelSmoothing: args.labelSmoothing });
            loss.backward();
            if (args.clipGrad) clipGradNorm(model.parameters(), args.clipGrad);
            optimizer.step();
            optimizer.zeroGrad();
            scheduler.step();
            ema?.update(model);
            return loss.item();
          });
          done++;
          bar.update(done, { loss: lossSum / done, lr: scheduler.getLastLr()[0]! });
          if (hooks.onStep?.(epoch, done) === false) stop = true;
          if (stop) break;
        }
      } finally {
        bar.stop();
      }
      partial = null;
      if (stop && done < steps) {
        interrupted = true;
        saveLast(epoch - 1, { epoch, done, lossSum, seconds: (performance.now() - t0) / 1000 });
        say(`interrupted in epoch ${epoch} after ${done}/${steps} steps: saved ${run.weights}/last.safetensors (continue with --resume ${run.path})`);
        break;
      }
      if (ema) ema.applyTo(evalModel);
      const val = await predictAll(evalModel, valLoader, { label: '  val', quiet, device, channelsLast });
      const report = classificationReport(val.yTrue, val.yPred, data.classes, { scores: val.scores });
      const row: EpochRow = {
        epoch, train_loss: lossSum / done, val_loss: val.loss, val_accuracy: report.accuracy,
        ...(report.top5 === null ? {} : { val_top5: report.top5 }),
        lr: scheduler.getLastLr()[0]!, seconds: (performance.now() - t0) / 1000,
      };
      run.addResult(row);
      completed = epoch;
      const fitness = report.accuracy - 1e-6 * val.loss;
      const isBest = fitness > bestFitness;
      if (isBest) {
        bestFitness = fitness;
        bestEpoch = epoch;
        saveCheckpoint(`${run.weights}/best.safetensors`, evalModel as ClassifierModel, meta(epoch, { accuracy: report.accuracy, loss: val.loss, ...(report.top5 === null ? {} : { top5: report.top5 }) }));
        // For the web UI: the best epoch's confusion matrix as numbers and the images it got wrong.
        run.writeJson('confusion_matrix.json', { epoch, classes: data.classes, matrix: report.confusionMatrix });
        try {
          await writeValErrors(run.path, data.splits.val, val, data.classes, epoch);
        } catch (e) {
          say(`could not write ${run.file('val_errors')}: ${(e as Error).message}`);
        }
      }
      saveLast(epoch, null);
      await writeTrainPlots(run, report, isBest, data.classes);
      // The epoch's garbage (validation outputs, the last batches, anything dropped undisposed)
      // is freed now, so memory between epochs stays flat rather than waiting on V8's schedule.
      await releaseMemory();
      say(`epoch ${epoch}: train_loss ${row.train_loss.toFixed(4)} · val_loss ${val.loss.toFixed(4)} · val_accuracy ${pct(report.accuracy)}${report.top5 === null ? '' : ` · top5 ${pct(report.top5)}`} · ${row.seconds.toFixed(1)} s`);
      if (stop) {
        interrupted = true;
        say(`interrupted after epoch ${epoch}: saved ${run.weights}/last.safetensors (continue with --resume ${run.path})`);
      } else if (hooks.onEpoch?.(row) === false) {
        say(`stopped after epoch ${epoch} by the caller`);
        break;
      } else if (args.patience > 0 && epoch - bestEpoch >= args.patience) {
        say(`early stop: no improvement for ${args.patience} epochs (best epoch ${bestEpoch})`);
        break;
      }
    }
  } finally {
    process.removeListener('SIGINT', onSigint);
    process.removeListener('SIGINT', force);
    await trainLoader.close();
    await valLoader.close();
    if (evalModel !== model) evalModel.dispose();
    ema?.dispose();
    optimizer.dispose();
    model.dispose();
  }
  const bestRow = run.rows.find((r) => r.epoch === bestEpoch);
  const result: TrainResult = {
    dir: run.path, epochs: completed, last: `${run.weights}/last.safetensors`, interrupted, skipped: data.skipped,
    best: bestRow === undefined ? null : {
      epoch: bestEpoch, path: `${run.weights}/best.safetensors`,
      metrics: { accuracy: Number(bestRow.val_accuracy), top5: bestRow.val_top5 === undefined || bestRow.val_top5 === '' ? null : Number(bestRow.val_top5), loss: Number(bestRow.val_loss) },
    },
  };
  // A separate test split (not the one validated on) gets one evaluation with the best weights.
  if (data.splits.test && data.splits.test !== data.splits.val && result.best && !interrupted) result.test = await testBest(result.best.path, data.splits.test, args, say, quiet);
  return result;
}

const pct = (v: number): string => `${(v * 100).toFixed(2)}%`;

function prefixedMap(m: Map<string, Tensor>, prefix: string): Map<string, Tensor> {
  return new Map([...m].map(([k, t]) => [`${prefix}${k}`, t]));
}
