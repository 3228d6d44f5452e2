/**
 * The one training loop every task shares (Ultralytics' engine/trainer.py, typed): epochs and
 * steps, warm-up and cosine schedule, EMA, gradient clipping, exact resume (also mid-epoch),
 * Ctrl-C, a time budget, `best`/`last` checkpoints picked by the task's fitness, results.csv,
 * progress bars, plots and releaseMemory() between epochs. What differs between tasks — the data,
 * the model, the loss of a batch, validation, plots — comes from a `TaskRun` (see task.ts).
 *
 * @example
 * const r = await runTraining(classifyTask, { data: 'mnist', epochs: 1 });
 * console.log(r.best?.row.val_accuracy, r.dir);
 */
import { dirname } from 'node:path';
import type { Batch } from '../data/loader.js';
import { mixSeed, Rng } from '../data/rng.js';
import { clipGradNorm, ModelEMA, type ModelEMAStateDict, type Scheduler } from '../optim/index.js';
import type { TaskModel } from '../models/registry.js';
import { getRngState, manualSeed, releaseMemory, setRngState } from '../tensor/runtime.js';
import { tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { loadCheckpoint, saveCheckpoint, type Checkpoint } from './checkpoint.js';
import type { TrainerArgs } from './config.js';
import { isFitter } from './fitness.js';
import { applyFreeze, backboneParams, decayParamGroups, paramGroups, type FreezePlan, type ModelParts } from './finetune.js';
import { decayGroups, makeOptimizer, makeSchedule, optimizerDefaults, runWarmup } from './optimizer.js';
import { progress } from './progress.js';
import { RunDir } from './run-dir.js';
import type { EpochRow, TrainHooks, TrainTask, TaskRun, TrainerResult, Validation } from './task.js';
import { TimeBudget } from './time-budget.js';
import { withBiasWarmup } from './warmup.js';

/** Where a stopped epoch was, so resume can skip exactly the batches already trained. */
interface Partial {
  epoch: number;
  done: number;
  lossSum: number;
  /** Sums of the loss parts a task reports (detection: box, cls, dfl). */
  itemSums?: Record<string, number>;
  seconds: number;
}

interface TrainState<A> {
  /** Epochs completed. */
  epoch: number;
  partial?: Partial;
  bestFitness: number | null;
  bestEpoch: number;
  args: A;
  scheduler: ReturnType<Scheduler['stateDict']>;
  optimizer: unknown;
  ema?: ModelEMAStateDict['meta'];
  /** Epochs the schedule spans now (a time budget re-plans them) and training seconds so far. */
  plannedEpochs?: number;
  trainSeconds?: number;
}

/** A `last` checkpoint is also written mid-epoch when the previous one is this old (kill -9 loses less). */
const SAVE_EVERY_MS = 10 * 60 * 1000;

const prefixed = (m: Map<string, Tensor>, prefix: string): Map<string, Tensor> =>
  new Map([...m].filter(([k]) => k.startsWith(prefix)).map(([k, t]) => [k.slice(prefix.length), t]));

const withPrefix = (m: Map<string, Tensor>, prefix: string): Map<string, Tensor> => new Map([...m].map(([k, t]) => [`${prefix}${k}`, t]));

const disposeCheckpoint = (c: Checkpoint | null): void => {
  c?.model.dispose();
  for (const t of c?.extra.values() ?? []) t.dispose();
};

/** The checkpoint a --resume names, its training state, and the settings it ran with. */
function openResume<A extends TrainerArgs, M extends TaskModel>(task: TrainTask<A, M>, args: A): { args: A; ckpt: Checkpoint<M> | null; state: TrainState<A> | null; dir: string | null } {
  if (!args.resume) return { args, ckpt: null, state: null, dir: null };
  const path = args.resume.endsWith('.safetensors') ? args.resume : `${args.resume}/weights/last.safetensors`;
  const ckpt = loadCheckpoint<M>(path, { task: task.name, trainingState: true });
  const state = ckpt.train as unknown as TrainState<A> | null;
  if (!state) {
    disposeCheckpoint(ckpt);
    throw new Error(`${path}: has no training state to resume (a best checkpoint?)`);
  }
  const resumed = task.parseArgs({ ...state.args, resume: args.resume, ...(args.workers === undefined ? {} : { workers: args.workers }) });
  return { args: resumed, ckpt, state, dir: dirname(dirname(path)) };
}

/** Builds the task's run; a setup error leaves no run folder and frees what resume loaded. */
async function setUp<A extends TrainerArgs, M extends TaskModel, V extends Validation>(task: TrainTask<A, M, V>, args: A, ckpt: Checkpoint<M> | null): Promise<TaskRun<M, V>> {
  let run: TaskRun<M, V> | null = null;
  try {
    run = await task.setup(args);
    const saved = ckpt?.meta.classes;
    if (saved && saved.join('\n') !== run.classes.join('\n')) throw new Error(`the data's classes (${run.classes.join(', ')}) differ from the run's (${saved.join(', ')})`);
    return run;
  } catch (e) {
    await run?.close();
    disposeCheckpoint(ckpt);
    throw e;
  }
}

const partsOf = <M extends TaskModel>(t: TaskRun<M, Validation>, model: M): ModelParts => ({ head: t.head?.(model) ?? null, backbone: t.backbone?.(model) });

/**
 * --pretrained (a fresh run only: a resumed one has its own weights) and --freeze, before the
 * run folder exists; on error the task's loaders and the model are freed.
 */
async function startFrom<A extends TrainerArgs, M extends TaskModel, V extends Validation>(t: TaskRun<M, V>, model: M, args: A, resumed: boolean): Promise<{ plan: FreezePlan; lines: string[] }> {
  try {
    let lines: string[] = [];
    if (args.pretrained !== undefined && !resumed) {
      if (!t.loadPretrained) throw new Error('--pretrained: this task cannot start from pretrained weights yet');
      lines = await t.loadPretrained(model, args.pretrained);
    }
    const freeze = args.freeze === undefined ? undefined : String(args.freeze);
    return { plan: applyFreeze(model, freeze, partsOf(t, model)), lines };
  } catch (e) {
    await t.close();
    model.dispose();
    throw e;
  }
}

export async function runTraining<A extends TrainerArgs, M extends TaskModel, V extends Validation>(task: TrainTask<A, M, V>, input: unknown, hooks: TrainHooks = {}): Promise<TrainerResult> {
  const log = hooks.log ?? ((l: string) => void process.stdout.write(`${l}\n`));
  const quiet = hooks.quiet ?? false;
  const resume = openResume(task, task.parseArgs(input));
  const { args, state: resumed } = resume;
  const t = await setUp(task, args, resume.ckpt);
  const { trainLoader, device } = t;
  const steps = trainLoader.length;

  manualSeed(args.seed);
  const model = resume.ckpt?.model ?? t.createModel();
  const { plan, lines: pretrainedLines } = await startFrom(t, model, args, resume.ckpt !== null);
  if (device !== 'cpu') model.to(device);
  const channelsLast = args.channelsLast ?? t.channelsLast;
  if (channelsLast) model.memoryFormat('channelsLast');
  const { lr } = optimizerDefaults(args);
  const parts = partsOf(t, model);
  const split = t.splitDecay ? decayParamGroups(decayGroups(model), args.backboneLr === 1 ? null : backboneParams(model, parts), lr, args.backboneLr) : null;
  const optimizer = makeOptimizer(args, split?.params ?? paramGroups(model, parts, lr, args.backboneLr));
  const budget = args.time === undefined ? null : new TimeBudget(args.time * 60, resumed?.trainSeconds ?? 0);
  let planned = resumed?.plannedEpochs ?? args.epochs;
  const warmup = runWarmup(args, steps);
  const schedule = (): Scheduler => withBiasWarmup(makeSchedule(optimizer, warmup, planned, steps), args, Math.min(warmup, planned * steps - 1), t.splitDecay ?? false, split?.biasGroups);
  let scheduler = schedule();
  const ema = args.ema ? new ModelEMA(model, { decay: 0.9999, tau: 2000 }) : null;
  const evalModel = ema ? t.createModel() : model;
  if (evalModel !== model && device !== 'cpu') evalModel.to(device);
  if (evalModel !== model && channelsLast) evalModel.memoryFormat('channelsLast');
  let bestFitness = -Infinity;
  let bestEpoch = 0;
  let completed = 0;
  let partial: Partial | null = null;
  if (resume.ckpt && resumed) {
    const extra = resume.ckpt.extra;
    optimizer.loadStateDict({ state: prefixed(extra, 'optimizer.'), meta: resumed.optimizer as never });
    scheduler.loadStateDict(resumed.scheduler);
    if (ema && resumed.ema) ema.loadStateDict({ state: prefixed(extra, 'ema.'), meta: resumed.ema });
    const rng = extra.get('rng_state');
    if (rng) setRngState(rng);
    for (const x of extra.values()) x.dispose();
    completed = resumed.epoch;
    partial = resumed.partial ?? null;
    bestFitness = resumed.bestFitness ?? -Infinity;
    bestEpoch = resumed.bestEpoch;
  }

  const run = resume.dir ? RunDir.open(resume.dir) : RunDir.create(args.project, args.name, args.existOk);
  const say = (line: string): void => {
    log(line);
    run.log('train.log', line);
  };
  if (t.skipped.length > 0) {
    say(`skipped ${t.skipped.length} unreadable file(s) (listed in ${run.file('train.log')}):`);
    for (const s of t.skipped) run.log('train.log', `  skipped ${s.path}: ${s.reason}`);
    for (const s of t.skipped.slice(0, 5)) log(`  ${s.path}: ${s.reason}`);
  }
  if (resume.ckpt) say(`resuming ${run.path} from epoch ${partial?.epoch ?? completed + 1}${partial ? ` step ${partial.done + 1}` : ''}`);
  else run.writeYaml('args.yaml', { task: task.name, ...args, ...t.argsYaml() });
  say(`${t.describe(model)} · ${budget ? `${args.time} min budget` : `${args.epochs} epoch${args.epochs === 1 ? '' : 's'}`} · ${device} → ${run.path}`);
  for (const note of t.notes ?? []) say(`note: ${note}`);
  for (const line of pretrainedLines) say(line);
  if (args.pretrained !== undefined || args.freeze !== undefined) say(plan.summary);

  let stop = false;
  const force = (): never => process.exit(130);
  const onSigint = (): void => {
    stop = true;
    log('\ninterrupt: finishing this step, saving last, exiting (Ctrl-C again to force)');
    process.once('SIGINT', force);
  };
  process.once('SIGINT', onSigint);

  const saveLast = (epoch: number, part: Partial | null, trainSeconds: number): void => {
    const opt = optimizer.stateDict();
    const tensors = withPrefix(opt.state, 'optimizer.');
    const rng = getRngState();
    tensors.set('rng_state', rng);
    const emaState = ema?.stateDict();
    for (const [k, x] of emaState?.state ?? []) tensors.set(`ema.${k}`, x);
    const st: TrainState<A> = {
      epoch, ...(part ? { partial: part } : {}), bestFitness: Number.isFinite(bestFitness) ? bestFitness : null, bestEpoch, args,
      scheduler: scheduler.stateDict(), optimizer: opt.meta, ...(emaState ? { ema: emaState.meta } : {}),
      plannedEpochs: planned, trainSeconds,
    };
    try {
      saveCheckpoint(`${run.weights}/last.safetensors`, model, t.meta(model, epoch), { tensors, train: st as unknown as Record<string, unknown> });
    } finally {
      rng.dispose();
    }
  };
  /** A time budget re-plans the epochs from the measured epoch time; the schedule follows. */
  const replan = (epochsNow: number): void => {
    if (epochsNow === planned) return;
    planned = epochsNow;
    const step = scheduler.stateDict().lastEpoch;
    scheduler = schedule();
    for (let i = 0; i < step; i++) scheduler.step();
  };

  let interrupted = false;
  let lastSave = Date.now();
  try {
    // Until the first epoch ends there is nothing to resume from: an initial `last` makes a run
    // killed in its first epoch resumable (it restarts that epoch, bit for bit).
    if (!resume.ckpt) saveLast(0, null, 0);
    for (let epoch = partial?.epoch ?? completed + 1; epoch <= planned && !stop; epoch++) {
      const resumeAt = partial?.epoch === epoch ? partial : null;
      const t0 = performance.now() - (resumeAt?.seconds ?? 0) * 1000;
      const seconds = (): number => (performance.now() - t0) / 1000;
      model.train();
      for (const m of plan.frozen) m.eval();
      const bar = progress({ label: `epoch ${epoch}/${planned}`, total: steps, unit: 'batch', quiet, write: say });
      let lossSum = resumeAt?.lossSum ?? 0;
      const itemSums: Record<string, number> = { ...resumeAt?.itemSums };
      const means = (): Record<string, number> => Object.fromEntries(Object.entries(itemSums).map(([k, v]) => [k, v / Math.max(done, 1)]));
      let done = 0;
      let timeUp = false;
      try {
        const loader = t.trainLoaderFor?.(epoch, planned) ?? trainLoader;
        for await (const batch of loader.epoch(epoch)) {
          using _batch = batch;
          if (resumeAt && done < resumeAt.done) {
            done++;
            continue;
          }
          if (epoch === 1 && done === 0 && t.plotBatch) await t.plotBatch(batch, run.file('train_batch.png'));
          const step = trainStep(t, model, batch, { epoch, step: done, rng: new Rng(mixSeed(args.seed, epoch, done)) }, () => {
            if (args.clipGrad) clipGradNorm(model.parameters(), args.clipGrad);
            optimizer.step();
            optimizer.zeroGrad();
            scheduler.step();
            ema?.update(model);
          });
          lossSum += step.loss;
          for (const [k, v] of Object.entries(step.items)) itemSums[k] = (itemSums[k] ?? 0) + v;
          done++;
          bar.update(done, { loss: lossSum / done, ...means(), lr: scheduler.getLastLr()[0]! });
          if (hooks.onStep?.(epoch, done) === false) stop = true;
          await nextPoll();
          if (stop) break;
          if (budget?.exceeded()) {
            timeUp = true;
            break;
          }
          if (Date.now() - lastSave > SAVE_EVERY_MS && done < steps) {
            saveLast(epoch - 1, { epoch, done, lossSum, itemSums, seconds: seconds() }, budget?.spent ?? 0);
            lastSave = Date.now();
          }
        }
      } finally {
        bar.stop();
      }
      partial = null;
      if (stop && done < steps) {
        interrupted = true;
        saveLast(epoch - 1, { epoch, done, lossSum, itemSums, seconds: seconds() }, budget?.spent ?? 0);
        say(`interrupted in epoch ${epoch} after ${done}/${steps} steps: saved ${run.weights}/last.safetensors (continue with --resume ${run.path})`);
        break;
      }
      if (ema) ema.applyTo(evalModel);
      const v = await t.validate(evalModel, epoch, quiet);
      const parts = Object.fromEntries(Object.entries(means()).map(([k, m]) => [`train_${k}`, m]));
      const row: EpochRow = { epoch, train_loss: lossSum / Math.max(done, 1), ...parts, ...v.row, lr: scheduler.getLastLr()[0]!, seconds: seconds() };
      run.addResult(row);
      completed = epoch;
      const isBest = isFitter(v.fitness, bestFitness);
      if (isBest) {
        bestFitness = v.fitness;
        bestEpoch = epoch;
        saveCheckpoint(`${run.weights}/best.safetensors`, evalModel, t.meta(evalModel, epoch, v.metrics));
      }
      if (budget && !timeUp) replan(budget.plan(epoch));
      saveLast(epoch, null, budget?.spent ?? 0);
      lastSave = Date.now();
      await t.afterEpoch?.(run, v, { epoch, isBest, say });
      // The epoch's garbage (validation outputs, the last batches, anything dropped undisposed)
      // is freed now, so memory between epochs stays flat rather than waiting on V8's schedule.
      await releaseMemory();
      say(`epoch ${epoch}: train_loss ${row.train_loss.toFixed(4)} · ${v.summary} · ${row.seconds.toFixed(1)} s`);
      if (stop) {
        interrupted = true;
        say(`interrupted after epoch ${epoch}: saved ${run.weights}/last.safetensors (continue with --resume ${run.path})`);
      } else if (timeUp || (budget && epoch >= planned)) {
        say(`time budget of ${args.time} min reached after epoch ${epoch}${timeUp ? ` (${done}/${steps} steps)` : ''}`);
        break;
      } else if (hooks.onEpoch?.(row) === false) {
        say(`stopped after epoch ${epoch} by the caller`);
        break;
      } else if (args.patience > 0 && epoch - bestEpoch >= args.patience) {
        say(`early stop: no improvement for ${args.patience} epochs (best epoch ${bestEpoch})`);
        break;
      }
    }
  } catch (e) {
    // A run that failed keeps its folder (it may be resumable) but says why, in its own log.
    run.log('train.log', `failed: ${(e as Error).message}`);
    throw e;
  } finally {
    process.removeListener('SIGINT', onSigint);
    process.removeListener('SIGINT', force);
    await t.close();
    if (evalModel !== model) evalModel.dispose();
    ema?.dispose();
    optimizer.dispose();
    model.dispose();
  }
  const bestRow = run.rows.find((r) => r.epoch === bestEpoch);
  const result: TrainerResult = {
    dir: run.path, epochs: completed, last: `${run.weights}/last.safetensors`, interrupted, skipped: t.skipped,
    best: bestRow === undefined ? null : { epoch: bestEpoch, path: `${run.weights}/best.safetensors`, row: bestRow },
  };
  // A separate test split (not the one validated on) gets one evaluation with the best weights.
  if (t.test && result.best && !interrupted) {
    const test = await t.test(result.best.path, say, quiet);
    if (test) result.test = test;
    // For the web UI, which reads files rather than train.log.
    if (test) run.writeJson('test_metrics.json', { split: 'test', epoch: result.best.epoch, ...test });
  }
  return result;
}

/**
 * Prefetched batches resolve without a trip through the event loop, so a Ctrl-C (a signal handler,
 * run from libuv's poll phase) could wait many steps. Two check-phase turns put one poll phase
 * between steps: the run stops right after the step under way.
 */
async function nextPoll(): Promise<void> {
  await new Promise<void>((r) => setImmediate(r));
  await new Promise<void>((r) => setImmediate(r));
}

/** One optimisation step in one scope: the task's loss, backward, then `update`; returns the loss and its parts. */
function trainStep<M extends TaskModel>(t: TaskRun<M, Validation>, model: M, batch: Batch, ctx: Parameters<TaskRun<M, Validation>['loss']>[2], update: () => void): { loss: number; items: Record<string, number> } {
  return tidy(() => {
    const out = t.loss(model, batch, ctx);
    const [loss, items] = 'items' in out ? [out.loss, out.items] : [out, {}];
    loss.backward();
    update();
    // A task that reports parts logs their sum: detection's loss tensor is scaled by the batch
    // size for its gradients (as Ultralytics'), which would make train_loss dwarf its parts.
    const parts = Object.values(items);
    return { loss: parts.length > 0 ? parts.reduce((a, b) => a + b, 0) : loss.item(), items };
  });
}
