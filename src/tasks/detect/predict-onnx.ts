/** The ONNX Runtime back end of detection prediction (an exported `.onnx`; imports nothing from the libtorch side). */
import type { PredictBackend } from '../../engine/predictor.js';
import type { NmsOptions } from '../../metrics/nms.js';
import { OnnxDetector } from '../../runtime/detector.js';
import { predictedBoxes } from './postprocess.js';
import type { DetectPredictOptions, DetectResult } from './predict.js';

export async function detectOnnxBackend(o: DetectPredictOptions, nms: NmsOptions): Promise<PredictBackend<DetectResult>> {
  const det = await OnnxDetector.load(o.weights, {
    ...(o.provider === undefined ? {} : { provider: o.provider }),
    ...(o.threads === undefined ? {} : { threads: o.threads }),
  });
  const { transforms, channels, names } = det.contract;
  return {
    transforms, channels, geometry: true,
    async run(data, n, chw, geometry) {
      const { data: decoded, anchors } = await det.run(data, n, chw);
      return Array.from({ length: n }, (_, b) => ({ boxes: predictedBoxes(decoded, b, names, anchors, geometry![b]!, nms) }));
    },
    dispose: () => det.dispose(),
  };
}
