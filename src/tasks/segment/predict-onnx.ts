/** The ONNX Runtime back end of segmentation prediction (imports nothing from the libtorch side). */
import { OnnxSegmenter } from '../../runtime/segmenter.js';
import { maskFromLogits } from './postprocess.js';
import type { SegmentBackend, SegmentPredictOptions } from './predict.js';

export async function segmentOnnxBackend(o: SegmentPredictOptions): Promise<SegmentBackend> {
  const seg = await OnnxSegmenter.load(o.weights, { ...(o.provider === undefined ? {} : { provider: o.provider }), ...(o.threads === undefined ? {} : { threads: o.threads }) });
  const { transforms, channels, names } = seg.contract;
  return {
    transforms, channels, geometry: true, names,
    async run(data, n, chw, geometry) {
      const { logits, shape: [, C, h, w] } = await seg.run(data, n, chw);
      return Array.from({ length: n }, (_, b) => maskFromLogits(logits.subarray(b * C * h * w, (b + 1) * C * h * w), C, [h, w], geometry![b]!, { probs: o.probs === true }));
    },
    dispose: () => seg.dispose(),
  };
}
