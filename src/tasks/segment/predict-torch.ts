/** The libtorch back end of segmentation prediction (a `.safetensors` checkpoint; loaded only here). */
import { loadCheckpoint } from '../../engine/checkpoint.js';
import { MODELS, isModelName, type SegmentationModel } from '../../models/registry.js';
import { adoptArray } from '../../tensor/creation.js';
import { noGrad, setNumThreads } from '../../tensor/runtime.js';
import { tidy } from '../../tensor/scope.js';
import { maskFromLogits } from './postprocess.js';
import type { SegmentBackend, SegmentPredictOptions } from './predict.js';

export async function segmentTorchBackend(o: SegmentPredictOptions): Promise<SegmentBackend> {
  const ckpt = loadCheckpoint<SegmentationModel, 'segment'>(o.weights, { task: 'segment' });
  if (o.threads !== undefined) setNumThreads(o.threads);
  const { classes, preprocess } = ckpt.meta;
  const channelsLast = isModelName(ckpt.meta.model.name) && MODELS[ckpt.meta.model.name].channelsLast;
  if (channelsLast) ckpt.model.memoryFormat('channelsLast');
  return {
    transforms: preprocess.transforms, channels: preprocess.channels, geometry: true, names: classes,
    async run(data, n, chw, geometry) {
      const { logits, shape } = noGrad(() => tidy(() => {
        const images = adoptArray(data.subarray(0, n * chw[0] * chw[1] * chw[2]), [n, ...chw]);
        const out = ckpt.model.forward(channelsLast ? images.contiguous(true) : images);
        return { logits: out.contiguous().dataSync() as Float32Array, shape: out.shape as [number, number, number, number] };
      }));
      const [, C, h, w] = shape;
      return Array.from({ length: n }, (_, b) => maskFromLogits(logits.subarray(b * C * h * w, (b + 1) * C * h * w), C, [h, w], geometry![b]!, { probs: o.probs === true }));
    },
    async dispose() {
      ckpt.model.dispose();
    },
  };
}
