/** The ONNX Runtime back end of classification prediction (imports nothing from the libtorch side). */
import type { PredictBackend } from '../../engine/predictor.js';
import { OnnxClassifier } from '../../runtime/classifier.js';
import type { PredictOptions } from './predict.js';
import { round, type TopResult } from './predict-common.js';

export async function onnxBackend(o: PredictOptions): Promise<PredictBackend<TopResult> & { names: string[] }> {
  const clf = await OnnxClassifier.load(o.weights, {
    ...(o.provider === undefined ? {} : { provider: o.provider }),
    ...(o.threads === undefined ? {} : { threads: o.threads }),
    ...(o.preprocess === undefined ? {} : { preprocess: o.preprocess }),
    ...(o.preprocessFile === undefined ? {} : { preprocessFile: o.preprocessFile }),
  });
  const { transforms, channels, names } = clf.preprocessing;
  const k = Math.min(o.topk ?? 5, names.length);
  return {
    transforms, channels, names,
    async run(data, n, chw) {
      const tops = await clf.classify(data, n, chw, k);
      return tops.map((top) => ({ top: top.map((t) => ({ label: t.label, score: round(t.score) })) }));
    },
    dispose: () => clf.dispose(),
  };
}
