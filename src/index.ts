/**
 * Kestrel: deep-learning image recognition in TypeScript on libtorch.
 *
 * @example
 * import { tensor, tidy, nn, optim } from 'kestrel';
 * const model = new nn.Linear(4, 2);
 * const opt = new optim.AdamW(model.parameters(), { lr: 1e-3 });
 * const loss = tidy(() => {
 *   const l = nn.F.mseLoss(model.forward(tensor([[1, 2, 3, 4]])), tensor([[0, 1]]));
 *   l.backward();
 *   opt.step();
 *   opt.zeroGrad();
 *   return l.item();
 * });
 */
export * from './tensor/index.js';
export * as nn from './nn/index.js';
export * as optim from './optim/index.js';
export * as checkpoint from './checkpoint/index.js';
export { readIdx, parseIdx, IdxError, type IdxArray } from './data/idx.js';
export { train, type TrainResult, type TrainHooks } from './tasks/classify/train.js';
export { val, type ValOptions, type ValResult } from './tasks/classify/val.js';
export { predict, type PredictOptions, type Prediction } from './tasks/classify/predict.js';
export { createModel, listModels } from './models/registry.js';
export { TASKS, type TaskName } from './task.js';
export { detectTask } from './tasks/detect/task.js';
export { valDetect, type DetectValOptions, type DetectValMetrics } from './tasks/detect/val.js';
export { predictDetect, type DetectPredictOptions, type DetectPrediction } from './tasks/detect/predict.js';
export { embedImages, embedToFile, type EmbedOptions, type EmbedResult } from './tasks/embed/embed.js';
export { readEmbeddings, writeEmbeddings, type Embeddings, type EmbedMeta } from './tasks/embed/file.js';
export { search, type SearchOptions } from './tasks/embed/search.js';
export { dedup, type DedupOptions, type Pair } from './tasks/embed/dedup.js';
export { createDetector, createSegmenter, buildModel } from './models/registry.js';
export { isPyramidBackbone, type PyramidBackbone, type PyramidLevel } from './models/pyramid.js';
export { runTraining } from './engine/trainer.js';
export { runValidation, type ValTask, type Scorer } from './engine/validator.js';
export { runPredictor, expandSource, type PredictBackend } from './engine/predictor.js';
export type { TrainTask, TaskRun, Validation, StepContext, TrainerResult } from './engine/task.js';
export { exportCheckpoint, exportOnnx, moduleToOnnx, type OnnxExportOptions, type CheckpointExportOptions, type ModelPass } from './export/export.js';
