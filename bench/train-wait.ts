// Does the training step wait on data? A real training loop (model forward/backward/AdamW step)
// fed by the worker-thread DataLoader from a folder of generated 256×256 JPEGs with the standard
// training augmentation; reports the step time and the time spent waiting in next() per batch,
// after a warm-up batch. Usage (after npm run build):
//   node dist/bench/train-wait.js [model=resnet18] [imgsz=224] [batch=32] [batches=12] [workers=2]
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { DataLoader } from '../src/data/loader.js';
import { buildTransforms } from '../src/data/presets.js';
import { createModel } from '../src/models/registry.js';
import { F } from '../src/nn/index.js';
import { AdamW } from '../src/optim/index.js';
import { tidy } from '../src/tensor/index.js';

const [model = 'resnet18', imgsz = '224', batch = '32', batches = '12', workers = '2'] = process.argv.slice(2);
const [size, b, n, w] = [Number(imgsz), Number(batch), Number(batches), Number(workers)];
const dir = mkdtempSync(join(tmpdir(), 'kestrel-wait-'));
const paths: string[] = [];
for (let k = 0; k < b * n; k++) {
  const px = Buffer.alloc(256 * 256 * 3);
  for (let i = 0; i < px.length; i++) px[i] = (i * 7 + k * 13 + ((i / 768) | 0)) & 255;
  mkdirSync(join(dir, `c${k % 4}`), { recursive: true });
  const p = join(dir, `c${k % 4}`, `${k}.jpg`);
  await sharp(px, { raw: { width: 256, height: 256, channels: 3 } }).jpeg({ quality: 90 }).toFile(p);
  paths.push(p);
}
const net = createModel(model, { numClasses: 4, imgSize: size });
const opt = new AdamW(net.parameters(), { lr: 1e-3 });
const loader = new DataLoader({ kind: 'files', paths, labels: Int32Array.from(paths, (_, i) => i % 4) }, {
  batchSize: b, shuffle: true, dropLast: true, workers: w,
  transforms: buildTransforms('train', { imgsz: size, channels: 3, augment: 'standard' }),
});
let wait = 0;
let step = 0;
let count = 0;
const it = loader.epoch(1)[Symbol.asyncIterator]();
for (;;) {
  const t0 = performance.now();
  const r = await it.next();
  const t1 = performance.now();
  if (r.done) break;
  tidy(() => {
    const loss = F.crossEntropy(net.forward(r.value.images), r.value.labels);
    loss.backward();
    opt.step();
    opt.zeroGrad();
  });
  r.value.dispose();
  const t2 = performance.now();
  if (count++ > 0) {
    wait += t1 - t0;
    step += t2 - t1;
  }
}
await loader.close();
rmSync(dir, { recursive: true, force: true });
const k = count - 1;
console.log(JSON.stringify({ model, imgsz: size, batch: b, workers: w, batches: k, stepMs: +(step / k).toFixed(1), waitMs: +(wait / k).toFixed(1), imgPerSec: +((b * k * 1000) / (step + wait)).toFixed(1) }));
net.dispose();
opt.dispose();
