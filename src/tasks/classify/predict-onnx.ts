/**
 * Prediction from an `.onnx` file on ONNX Runtime. Imports nothing from the libtorch side: images
 * go through the same BatchStream (decode, eval transforms) as the libtorch back end's DataLoader.
 */
import { BatchStream } from '../../data/stream.js';
import { OnnxClassifier } from '../../runtime/classifier.js';
import type { PredictOptions } from './predict.js';
import { LabelledCopies, round, type Prediction } from './predict-common.js';

export async function* predictOnnx(o: PredictOptions, paths: string[]): AsyncGenerator<Prediction> {
  const clf = await OnnxClassifier.load(o.weights, {
    ...(o.provider === undefined ? {} : { provider: o.provider }),
    ...(o.threads === undefined ? {} : { threads: o.threads }),
    ...(o.preprocess === undefined ? {} : { preprocess: o.preprocess }),
    ...(o.preprocessFile === undefined ? {} : { preprocessFile: o.preprocessFile }),
  });
  const { transforms, channels, names } = clf.preprocessing;
  const k = Math.min(o.topk ?? 5, names.length);
  const stream = new BatchStream({ kind: 'files', paths, labels: new Int32Array(paths.length) }, {
    batchSize: o.batch ?? 32, transforms, channels, seed: 0,
    ...(o.workers === undefined ? {} : { workers: o.workers }),
  });
  try {
    const out = o.save ? new LabelledCopies(paths, o.project ?? 'runs/classify', o.name ?? 'predict') : null;
    for await (const r of stream.epoch(0)) {
      const tops = r.kept.length > 0 ? await clf.classify(r.data, r.kept.length, r.shape, k) : [];
      for (const f of r.failed) yield { source: paths[f.index]!, error: f.reason };
      for (const [i, index] of r.kept.entries()) {
        const source = paths[index]!;
        const top = tops[i]!.map((t) => ({ label: t.label, score: round(t.score) }));
        if (out) await out.save(source, top[0]!);
        yield { source, top };
      }
    }
  } finally {
    await stream.close();
    await clf.dispose();
  }
}
