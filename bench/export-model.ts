// Exports the seeded model bench/infer.ts builds (same seed, config and 1000 classes, or --classes
// for a detector) to ONNX with a dynamic batch, optionally quantized to int8 (calibrated on random
// normal batches: the weights are random too, so only the speed of the int8 graph is meaningful).
// Used by the ONNX Runtime sides of the infer cases:
//   node dist/bench/export-model.js --model NAME --channels C --img S [--classes N] --out FILE [--int8]
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { writeFileAtomic } from '../src/checkpoint/atomic.js';
import { createDetector, createModel, isDetectorName } from '../src/models/index.js';
import { buildDetectOnnxModel, buildOnnxModel } from '../src/export/export.js';
import { encodeModel } from '../src/onnx/proto.js';
import { quantizeStatic } from '../src/export/quantize.js';
import { manualSeed } from '../src/tensor/index.js';

const { values } = parseArgs({
  options: { model: { type: 'string' }, channels: { type: 'string' }, img: { type: 'string' }, classes: { type: 'string' }, out: { type: 'string' }, int8: { type: 'boolean', default: false } },
});
const [channels, img] = [Number(values.channels), Number(values.img)];
manualSeed(0);
const detector = isDetectorName(values.model!);
const opts = { numClasses: Number(values.classes ?? 1000), inChannels: channels, imgSize: img };
// Decoded output, as bench/infer.ts's libtorch side runs the detector (its eval forward).
const net = detector ? createDetector(values.model!, opts) : createModel(values.model!, opts);
net.eval();
let proto = detector
  ? buildDetectOnnxModel(net as ReturnType<typeof createDetector>, { imgsz: img }, { dynamicBatch: true })
  : buildOnnxModel(net as ReturnType<typeof createModel>, { imgsz: img }, { dynamicBatch: true });
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
