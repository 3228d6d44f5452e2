// Kestrel side of the input-pipeline benchmark (peer: bench/pipeline.py): the DataLoader over a
// folder of JPEGs (root/<class>/*.jpg) with torchvision's standard training transforms —
// RandomResizedCrop 224 (scale 0.08–1), horizontal flip, normalize (ImageNet's) — batches of
// `batch`, shuffled, last partial batch dropped. One warm-up epoch (starts the workers), then
// `epochs` timed epochs. Prints one JSON line: {"imgPerSec": ...}.
//   node dist/bench/pipeline.js --dir DIR --batch 32 --workers N --epochs 2
import { parseArgs } from 'node:util';
import { DataLoader } from '../src/data/loader.js';
import { IMAGENET_MEAN, IMAGENET_STD } from '../src/data/presets.js';
import type { TransformSpec } from '../src/data/transforms.js';
import { folderSource } from './jpegs.js';

const { values } = parseArgs({
  options: {
    dir: { type: 'string' },
    batch: { type: 'string', default: '32' },
    workers: { type: 'string', default: '0' },
    epochs: { type: 'string', default: '2' },
  },
});
if (!values.dir) throw new Error('--dir is required');
const [batch, workers, epochs] = [Number(values.batch), Number(values.workers), Math.max(1, Number(values.epochs))];
// buildTransforms('train', { imgsz: 224, channels: 3, augment: 'standard' }) without its TrivialAugment.
const transforms: TransformSpec[] = [
  { op: 'randomResizedCrop', size: 224 },
  { op: 'hflip', p: 0.5 },
  { op: 'normalize', mean: IMAGENET_MEAN, std: IMAGENET_STD },
];
const loader = new DataLoader(folderSource(values.dir), { batchSize: batch, shuffle: true, dropLast: true, transforms, seed: 0, workers });
for await (const b of loader.epoch(0)) b.dispose();
let n = 0;
const t0 = performance.now();
for (let e = 1; e <= epochs; e++) {
  for await (const b of loader.epoch(e)) {
    n += b.indices.length;
    b.dispose();
  }
}
const dt = (performance.now() - t0) / 1000;
await loader.close();
console.log(JSON.stringify({ imgPerSec: n / dt }));
