// Transfer measured (issue 15, acceptance 2): a smallcnn pretrained by Kestrel on MNIST, fine-tuned
// on 200 images of another handwritten-digit collection, against the same recipe from random
// weights at equal epochs. The other collection is built here from MNIST's *test* digits (writers
// the pretraining never saw), re-rendered: strokes thickened (3×3 dilation), rotated up to ±25°,
// shrunk to 60–90 % and shifted, on a light background with dark ink (MNIST is light on dark).
// 200 train / 200 val / 2,000 test images; the test split is scored once with each run's best weights.
//   node dist/bench/transfer.js --out DIR [--epochs 15] [--pretrain-epochs 1] [--seed 0] [--pretrained mnist-best.safetensors]
// Prints one JSON line: {"pretrainedMnist": …, "fromPretrained": test accuracy, "fromScratch": …}.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { readSafetensorsHeader } from '../src/checkpoint/index.js';
import { readIdx } from '../src/data/idx.js';
import { mnistDir } from '../src/data/mnist.js';
import { Rng } from '../src/data/rng.js';
import { train } from '../src/tasks/classify/train.js';

const { values } = parseArgs({ options: { out: { type: 'string' }, pretrained: { type: 'string' }, epochs: { type: 'string', default: '15' }, 'pretrain-epochs': { type: 'string', default: '1' }, seed: { type: 'string', default: '0' } } });
if (!values.out) throw new Error('--out is required');
const out = values.out;
const epochs = Number(values.epochs);
const seed = Number(values.seed);
const S = 28;

/** Max over a 3×3 window: thicker strokes. */
function dilate(src: Uint8Array): Uint8Array {
  const dst = new Uint8Array(S * S);
  for (let y = 0; y < S; y++) {
    for (let x = 0; x < S; x++) {
      let m = 0;
      for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) {
        const yy = y + dy;
        const xx = x + dx;
        if (yy >= 0 && yy < S && xx >= 0 && xx < S) m = Math.max(m, src[yy * S + xx]!);
      }
      dst[y * S + x] = m;
    }
  }
  return dst;
}

/** Rotates, scales and shifts about the centre (bilinear), then inverts: dark ink on light paper. */
function rerender(src: Uint8Array, rng: Rng): Uint8Array {
  const a = ((rng.next() * 2 - 1) * 25 * Math.PI) / 180;
  const s = 0.6 + rng.next() * 0.3;
  const tx = (rng.next() * 2 - 1) * 3;
  const ty = (rng.next() * 2 - 1) * 3;
  const [c, si] = [Math.cos(a), Math.sin(a)];
  const dst = new Uint8Array(S * S);
  const at = (x: number, y: number): number => (x >= 0 && x < S && y >= 0 && y < S ? src[y * S + x]! : 0);
  for (let y = 0; y < S; y++) {
    for (let x = 0; x < S; x++) {
      // Inverse map: output pixel → source position.
      const u = x - 13.5 - tx;
      const v = y - 13.5 - ty;
      const sx = (c * u + si * v) / s + 13.5;
      const sy = (-si * u + c * v) / s + 13.5;
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const fx = sx - x0;
      const fy = sy - y0;
      const val = at(x0, y0) * (1 - fx) * (1 - fy) + at(x0 + 1, y0) * fx * (1 - fy) + at(x0, y0 + 1) * (1 - fx) * fy + at(x0 + 1, y0 + 1) * fx * fy;
      dst[y * S + x] = 235 - Math.round((val * 205) / 255);
    }
  }
  return dst;
}

async function buildSet(dir: string): Promise<void> {
  const images = readIdx(join(mnistDir(), 't10k-images-idx3-ubyte')).data as Uint8Array;
  const labels = readIdx(join(mnistDir(), 't10k-labels-idx1-ubyte')).data as Uint8Array;
  const rng = new Rng(1234);
  const want: Record<string, number> = { train: 20, val: 20, test: 200 };
  const have: Record<string, number[]> = { train: Array(10).fill(0), val: Array(10).fill(0), test: Array(10).fill(0) };
  for (let i = 0; i < labels.length; i++) {
    const d = labels[i]!;
    const split = ['train', 'val', 'test'].find((s) => have[s]![d]! < want[s]!);
    if (split === undefined) continue;
    have[split]![d]!++;
    const img = rerender(dilate(images.subarray(i * S * S, (i + 1) * S * S)), rng);
    mkdirSync(join(dir, split, String(d)), { recursive: true });
    await sharp(Buffer.from(img), { raw: { width: S, height: S, channels: 1 } }).png().toFile(join(dir, split, String(d), `${i}.png`));
  }
}

const data = join(out, 'thick-digits');
await buildSet(data);
const quiet = { quiet: true, log: (l: string) => void (l.startsWith('pretrained') || l.startsWith('froze') ? process.stderr.write(`${l}\n`) : undefined) };
// --pretrained reuses an MNIST run's best weights (pretraining is most of the time).
const pre = values.pretrained
  ? { best: { path: values.pretrained, metrics: { accuracy: Number((JSON.parse(readSafetensorsHeader(values.pretrained).metadata.kestrel!) as { metrics?: { accuracy?: number } }).metrics?.accuracy) } } }
  : await train({ data: 'mnist', model: 'smallcnn', epochs: Number(values['pretrain-epochs']), seed, workers: 0, project: join(out, 'runs'), name: 'mnist', existOk: true }, quiet);
const recipe = { data, model: 'smallcnn', epochs, seed, workers: 0, batch: 32, project: join(out, 'runs'), existOk: true };
const fine = await train({ ...recipe, pretrained: pre.best!.path, name: 'pretrained' }, quiet);
const scratch = await train({ ...recipe, name: 'scratch' }, quiet);
process.stdout.write(`${JSON.stringify({ pretrainedMnist: pre.best!.metrics.accuracy, fromPretrained: fine.test?.accuracy, fromScratch: scratch.test?.accuracy, epochs, train: 200, test: 2000 })}\n`);
