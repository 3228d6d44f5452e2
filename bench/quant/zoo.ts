// Kestrel's int8 and fp16 conversions across zoo architectures (random weights, synthetic images:
// this checks coverage and fidelity, not accuracy): float32 vs converted logits (cosine), file
// size, and the integer kernels ORT's optimizer fuses the QDQ graph into.
//   /usr/bin/python3 bench/quant/zoo_onnx.py tmp/zoo && node dist/bench/quant/zoo.js tmp/zoo
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { convertToFloat16 } from '../../src/export/fp16.js';
import { decodeModel, encodeModel } from '../../src/onnx/proto.js';
import { quantizeStatic } from '../../src/export/quantize.js';
import { cosine, images, optimizedOps, run } from '../../test/export/graphs.js';

const dir = process.argv[2] ?? 'tmp/zoo';
const zoo: [string, number][] = [['resnet18', 64], ['mobilenet_v2', 64], ['mobilenet_v3_small', 64], ['efficientnet_b0', 64], ['vit_tiny', 32]];
console.log('| model | int8 smaller | int8 cosine | fp16 smaller | fp16 cosine | ORT kernels after QDQ fusion (extended) |');
console.log('|---|---:|---:|---:|---:|---|');
for (const [name, img] of zoo) {
  const m = decodeModel(readFileSync(join(dir, `${name}.onnx`)));
  const dims = [8, 3, img, img];
  const calib = [0, 1, 2, 3].map((s) => ({ data: images(8, 3, img, img, s), dims }));
  const q = await quantizeStatic(m, calib);
  const h = convertToFloat16(m);
  const x = images(8, 3, img, img, 99);
  const ref = await run(m, x, dims);
  const counts = new Map<string, number>();
  for (const op of await optimizedOps(q, 'extended')) counts.set(op, (counts.get(op) ?? 0) + 1);
  const kernels = [...counts].filter(([op]) => /^Q|Integer|DequantizeLinear/.test(op)).map(([op, n]) => `${op} ×${n}`).join(', ');
  const size = encodeModel(m).byteLength;
  console.log(`| ${name} | ${(size / encodeModel(q).byteLength).toFixed(2)}× | ${cosine(ref, await run(q, x, dims)).toFixed(5)} | ${(size / encodeModel(h).byteLength).toFixed(2)}× | ${cosine(ref, await run(h, x, dims)).toFixed(6)} | ${kernels} |`);
}
