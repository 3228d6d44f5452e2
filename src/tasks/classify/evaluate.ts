/** One pass of a classifier over a loader, in eval mode: loss, predictions and class scores. */
import type { DataLoader } from '../../data/loader.js';
import type { Module } from '../../nn/module.js';
import * as F from '../../nn/functional.js';
import type { Device } from '../../tensor/device.js';
import { noGrad } from '../../tensor/runtime.js';
import { tidy } from '../../tensor/scope.js';
import type { Tensor } from '../../tensor/tensor.js';
import { progress } from '../../engine/progress.js';

export interface Predictions {
  loss: number;
  yTrue: number[];
  yPred: number[];
  /** Softmax probabilities per sample. */
  scores: number[][];
  ids: string[];
  /** Dataset index of each sample. */
  indices: number[];
}

export async function predictAll(model: Module, loader: DataLoader, opts: { label?: string; quiet?: boolean; device?: Device; channelsLast?: boolean } = {}): Promise<Predictions> {
  model.eval();
  const out: Predictions = { loss: 0, yTrue: [], yPred: [], scores: [], ids: [], indices: [] };
  const bar = progress({ label: opts.label ?? 'val', total: loader.length, unit: 'batch', quiet: opts.quiet ?? false });
  const onDevice = (t: Tensor): Tensor => (opts.device && opts.device !== 'cpu' ? t.to(opts.device) : t);
  let lossSum = 0;
  let done = 0;
  try {
    for await (const batch of loader.epoch(0)) {
      using _batch = batch;
      const { loss, probs, k } = noGrad(() => tidy(() => {
        const images = onDevice(batch.images);
        const logits = model.forward(opts.channelsLast ? images.contiguous(true) : images);
        const loss = F.crossEntropy(logits, onDevice(batch.labels), { reduction: 'sum' }).item();
        return { loss, probs: logits.softmax(1).toArray(), k: logits.size(1) };
      }));
      lossSum += loss;
      const labels = batch.labels.toArray();
      for (let i = 0; i < labels.length; i++) {
        const row = probs.slice(i * k, (i + 1) * k);
        let best = 0;
        for (let c = 1; c < k; c++) if (row[c]! > row[best]!) best = c;
        out.yTrue.push(labels[i]!);
        out.yPred.push(best);
        out.scores.push(row);
      }
      out.ids.push(...batch.ids);
      out.indices.push(...batch.indices);
      bar.update(++done);
    }
  } finally {
    bar.stop();
  }
  out.loss = lossSum / Math.max(out.yTrue.length, 1);
  return out;
}
