// Exports the seeded model bench/infer.ts builds (same seed, config and 1000 classes) to ONNX with a
// dynamic batch, optionally quantized to int8 (calibrated on random normal batches: the weights are
// random too, so only the speed of the int8 graph is meaningful). Used by the ONNX Runtime sides of
// the infer cases:
//   node dist/bench/export-model.js --model NAME --channels C --img S --out FILE [--int8]
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { writeFileAtomic } from '../src/checkpoint/atomic.js';
import { createModel } from '../src/models/index.js';
import { buildOnnxModel } from '../src/export/export.js';
import { encodeModel } from '../src/onnx/proto.js';
import { quantizeStatic } from '../src/export/quantize.js';
import { manualSeed } from '../src/tensor/index.js';

const { values } = parseArgs({
  options: { model: { type: 'string' }, channels: { type: 'string' }, img: { type: 'string' }, out: { type: 'string' }, int8: { type: 'boolean', default: false } },
});
const [channels, img] = [Number(values.channels), Number(values.img)];
manualSeed(0);
const net = createModel(values.model!, { numClasses: 1000, inChannels: channels, imgSize: img });
net.eval();
let proto = buildOnnxModel(net, { imgsz: img }, { dynamicBatch: true });
if (values.int8) {
  const batches = Array.from({ length: 4 }, () => ({
    data: Float32Array.from({ length: 8 * channels * img * img }, () => Math.sqrt(-2 * Math.log(1 - Math.random())) * Math.cos(2 * Math.PI * Math.random())),
    dims: [8, channels, img, img],
  }));
  proto = await quantizeStatic(proto, batches, { calibSize: 32 });
}
mkdirSync(dirname(values.out!), { recursive: true });
writeFileAtomic(values.out!, [encodeModel(proto)]);
net.dispose();
