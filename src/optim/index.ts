export {
  Optimizer, type GroupOptions, type JsonValue, type OptimizerMeta, type OptimizerStateDict, type ParamGroup, type Params,
  type ParamState, type Slot,
} from './optimizer.js';
export { SGD, type SGDOptions } from './sgd.js';
export { Adam, AdamW, type AdamOptions } from './adam.js';
export { clipGradNorm, clipGradValue } from './clip.js';
export {
  LRScheduler, StepLR, MultiStepLR, LinearLR, CosineAnnealingLR, SequentialLR, warmupCosine, warmupSteps, MAX_WARMUP_SHARE,
  type AnyOptimizer, type Scheduler,
  type SchedulerStateDict, type WarmupCosineOptions,
} from './scheduler.js';
export { OneCycleLR, type OneCycleOptions } from './one-cycle.js';
export { ModelEMA, type HasStateDict, type ModelEMAOptions, type ModelEMAStateDict } from './ema.js';
