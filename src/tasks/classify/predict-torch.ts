/** Prediction from a `.safetensors` checkpoint on libtorch (loaded only by this back end). */
import { DataLoader } from '../../data/loader.js';
import { loadCheckpoint } from '../../engine/checkpoint.js';
import { MODELS, isModelName } from '../../models/registry.js';
import { noGrad, setNumThreads } from '../../tensor/runtime.js';
import { tidy } from '../../tensor/scope.js';
import type { PredictOptions } from './predict.js';
import { LabelledCopies, round, type Prediction } from './predict-common.js';

export async function* predictTorch(o: PredictOptions, paths: string[]): AsyncGenerator<Prediction> {
  const ckpt = loadCheckpoint(o.weights);
  if (o.threads !== undefined) setNumThreads(o.threads);
  const { classes, preprocess } = ckpt.meta;
  // The layout the model trained in: oneDNN runs the CNNs faster channels-last.
  const channelsLast = isModelName(ckpt.meta.model.name) && MODELS[ckpt.meta.model.name].channelsLast;
  if (channelsLast) ckpt.model.memoryFormat('channelsLast');
  const k = Math.min(o.topk ?? 5, classes.length);
  const skipped: Prediction[] = [];
  const loader = new DataLoader({ kind: 'files', paths, labels: new Int32Array(paths.length) }, {
    batchSize: o.batch ?? 32, shuffle: false, dropLast: false, transforms: preprocess.transforms, seed: 0,
    ...(o.workers === undefined ? {} : { workers: o.workers }),
    onSkip: (path: string, reason: string) => skipped.push({ source: path, error: reason }),
  });
  const out = o.save ? new LabelledCopies(paths, o.project ?? 'runs/classify', o.name ?? 'predict') : null;
  try {
    for await (const batch of loader.epoch(0)) {
      const { values, indices } = noGrad(() => tidy(() => {
        const top = ckpt.model.forward(channelsLast ? batch.images.contiguous(true) : batch.images).softmax(1).topk(k, 1);
        return { values: top.values.toArray(), indices: top.indices.toArray() };
      }));
      batch.images.dispose();
      batch.labels.dispose();
      yield* skipped.splice(0);
      for (let i = 0; i < batch.indices.length; i++) {
        const source = paths[batch.indices[i]!]!;
        const top = Array.from({ length: k }, (_, j) => ({ label: classes[indices[i * k + j]!]!, score: round(values[i * k + j]!) }));
        if (out) await out.save(source, top[0]!);
        yield { source, top };
      }
    }
    yield* skipped.splice(0);
  } finally {
    await loader.close();
    ckpt.model.dispose();
    for (const t of ckpt.extra.values()) t.dispose();
  }
}
