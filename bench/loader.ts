// DataLoader throughput, alone and under a simulated training step.
// Usage (after npm run build): node dist/bench/loader.js [workers=1,2] [images=512] [stepMs=20]
//   (a) MNIST 28×28, light augmentation (randomCrop pad 4 + normalize), batch 64
//   (b) generated 256×256 JPEGs → randomResizedCrop 224 + hflip + normalize, batch 32
//   (c) as (b) with standard augmentation (+ trivialAugment), batch 32
// For each: images/s of the loader alone (the better of two epochs after a warm-up epoch: the
// machine may be shared), then the main thread's wait for data per batch in steady state (time
// inside next(), tensor creation included) while it spends `stepMs` busy per batch.
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { DataLoader } from '../src/data/loader.js';
import { buildTransforms } from '../src/data/presets.js';
import { resolveClassifyData } from '../src/data/sources.js';
import type { DataSource } from '../src/data/source.js';
import type { TransformSpec } from '../src/data/transforms.js';
import { writeJpegs } from './jpegs.js';

const workerCounts = (process.argv[2] ?? '1,2').split(',').map(Number);
const nImages = Number(process.argv[3] ?? 512);
const stepMs = Number(process.argv[4] ?? 20);

const busy = (ms: number): void => {
  const end = performance.now() + ms;
  while (performance.now() < end);
};

async function measure(name: string, source: DataSource, batchSize: number, transforms: TransformSpec[], workers: number): Promise<void> {
  const loader = new DataLoader(source, { batchSize, shuffle: true, dropLast: true, transforms, seed: 0, workers });
  for await (const b of loader.epoch(0)) b.dispose(); // warm-up: workers started, JIT warm
  let rate = 0;
  for (const epoch of [1, 2]) {
    let n = 0;
    const t0 = performance.now();
    for await (const b of loader.epoch(epoch)) {
      n += b.indices.length;
      b.dispose();
    }
    rate = Math.max(rate, n / ((performance.now() - t0) / 1000));
  }
  // Steady state under a training step: skip the first 3 batches (the prefetch queue filling).
  let waited = 0;
  let waits = 0;
  let k = 0;
  let t = performance.now();
  for await (const b of loader.epoch(3)) {
    const got = performance.now();
    if (k++ >= 3) {
      waited += got - t;
      waits++;
    }
    b.dispose();
    busy(stepMs);
    t = performance.now();
  }
  await loader.close();
  const perBatch = waits ? waited / waits : 0;
  console.log(`${name.padEnd(42)} workers ${workers}: ${rate.toFixed(0).padStart(6)} img/s alone · wait ${perBatch.toFixed(2)} ms/batch with a ${stepMs} ms step`);
}

console.log(`loader benchmark: ${availableParallelism()} cores, node ${process.version}, sharp ${sharp.versions.sharp}, ${nImages} JPEGs`);
const mnist = await resolveClassifyData('mnist');
const dir = mkdtempSync(join(tmpdir(), 'kestrel-bench-'));
try {
  await writeJpegs(dir, nImages, { width: 256, height: 256 });
  const jpegs = await resolveClassifyData(dir, { valFraction: 0.01, verify: 'header' });
  const light = buildTransforms('train', { imgsz: 28, channels: 1, augment: 'light', mean: [0.1307], std: [0.3081], nativeSize: [28, 28] });
  const rrc: TransformSpec[] = [{ op: 'randomResizedCrop', size: 224 }, { op: 'hflip', p: 0.5 }, { op: 'normalize', mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] }];
  const standard = buildTransforms('train', { imgsz: 224, channels: 3, augment: 'standard' });
  for (const w of workerCounts) await measure('(a) MNIST 28×28 light, batch 64', mnist.splits.train, 64, light, w);
  for (const w of workerCounts) await measure('(b) JPEG 256 → RRC 224 + flip, batch 32', jpegs.splits.train, 32, rrc, w);
  for (const w of workerCounts) await measure('(c) JPEG 256 → standard (+TrivialAug), b 32', jpegs.splits.train, 32, standard, w);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
