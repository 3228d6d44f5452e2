/** The libtorch back end of detection prediction (a `.safetensors` checkpoint; loaded only here). */
import { loadCheckpoint } from '../../engine/checkpoint.js';
import type { PredictBackend } from '../../engine/predictor.js';
import type { NmsOptions } from '../../metrics/nms.js';
import { MODELS, isModelName, type DetectorModel } from '../../models/registry.js';
import { adoptArray } from '../../tensor/creation.js';
import { noGrad, setNumThreads } from '../../tensor/runtime.js';
import { tidy } from '../../tensor/scope.js';
import type { DetectPredictOptions, DetectResult } from './predict.js';
import { predictedBoxes } from './postprocess.js';

export async function detectTorchBackend(o: DetectPredictOptions, nms: NmsOptions): Promise<PredictBackend<DetectResult>> {
  const ckpt = loadCheckpoint<DetectorModel, 'detect'>(o.weights, { task: 'detect' });
  if (o.threads !== undefined) setNumThreads(o.threads);
  const { classes, preprocess } = ckpt.meta;
  const channelsLast = isModelName(ckpt.meta.model.name) && MODELS[ckpt.meta.model.name].channelsLast;
  if (channelsLast) ckpt.model.memoryFormat('channelsLast');
  return {
    transforms: preprocess.transforms, channels: preprocess.channels, geometry: true,
    async run(data, n, chw, geometry) {
      const { decoded, anchors } = noGrad(() => tidy(() => {
        const images = adoptArray(data.subarray(0, n * chw[0] * chw[1] * chw[2]), [n, ...chw]);
        const out = ckpt.model.forward(channelsLast ? images.contiguous(true) : images);
        return { decoded: out.decoded!.dataSync() as Float32Array, anchors: out.decoded!.size(2) };
      }));
      return Array.from({ length: n }, (_, b) => ({ boxes: predictedBoxes(decoded, b, classes, anchors, geometry![b]!, nms) }));
    },
    async dispose() {
      ckpt.model.dispose();
    },
  };
}
