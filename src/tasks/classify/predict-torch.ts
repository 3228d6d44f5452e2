/** The libtorch back end of classification prediction (a `.safetensors` checkpoint; loaded only here). */
import { fitPipeline } from '../../data/input-size.js';
import { loadCheckpoint } from '../../engine/checkpoint.js';
import type { PredictBackend } from '../../engine/predictor.js';
import { MODELS, isModelName, type ClassifierModel } from '../../models/registry.js';
import { adoptArray } from '../../tensor/creation.js';
import { noGrad, setNumThreads } from '../../tensor/runtime.js';
import { tidy } from '../../tensor/scope.js';
import type { PredictOptions } from './predict.js';
import { round, type TopResult } from './predict-common.js';

export async function torchBackend(o: PredictOptions): Promise<PredictBackend<TopResult>> {
  const ckpt = loadCheckpoint<ClassifierModel, 'classify'>(o.weights, { task: 'classify' });
  for (const t of ckpt.extra.values()) t.dispose();
  if (o.threads !== undefined) setNumThreads(o.threads);
  const { classes, preprocess } = ckpt.meta;
  // The layout the model trained in: oneDNN runs the CNNs faster channels-last.
  const channelsLast = isModelName(ckpt.meta.model.name) && MODELS[ckpt.meta.model.name].channelsLast;
  if (channelsLast) ckpt.model.memoryFormat('channelsLast');
  const k = Math.min(o.topk ?? 5, classes.length);
  return {
    // Checkpoints whose eval pipeline has no fixed size (28-px sets: just normalize) still get any image to imgsz.
    transforms: fitPipeline(preprocess.transforms, preprocess.imgsz), channels: preprocess.channels,
    async run(data, n, chw) {
      const { values, indices } = noGrad(() => tidy(() => {
        const images = adoptArray(data.subarray(0, n * chw[0] * chw[1] * chw[2]), [n, ...chw]);
        const top = ckpt.model.forward(channelsLast ? images.contiguous(true) : images).softmax(1).topk(k, 1);
        return { values: top.values.toArray(), indices: top.indices.toArray() };
      }));
      return Array.from({ length: n }, (_, i) => ({ top: Array.from({ length: k }, (_, j) => ({ label: classes[indices[i * k + j]!]!, score: round(values[i * k + j]!) })) }));
    },
    async dispose() {
      ckpt.model.dispose();
    },
  };
}
