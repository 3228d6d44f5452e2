// Where CenterNet's |ONNX − TF.js| comes from: its outputs and a few tensors along the way, from
// TF.js (CPU backend), ONNX Runtime with graph optimisations on (as Kestrel runs it) and off, and
// PyTorch float32, each measured against a float64 run of the same converted graph
// (bench/onnx_f64.py). Conversion errors would stand out as one run far from float64 while the
// others agree; float32 rounding puts every run at the same distance. Prints one markdown table per
// photo. Usage (after npm run build and sh test/fixtures/fetch_tfjs.sh):
//   node dist/bench/tfjs-precision.js [sample1.jpg sample6.jpg]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import sharp from 'sharp';
import { convertGraphModel } from '../src/tfjs/convert-graph.js';
import { loadTfjs } from '../src/tfjs/load.js';
import { encodeConverted } from '../src/tfjs/write.js';
import { tfjsModel, toNhwc } from '../test/tfjs/tfjs-ref.js';

const FIX = join(process.cwd(), 'test', 'fixtures', 'tfjs');
const MODEL = join(FIX, '@vladmandic', 'human-models', 'models', 'centernet.json');
const SIZE = 512;
/** The first convolution, blocks of the backbone, the head's features, the box-size convolution (×16 is wh), the outputs. */
const TENSORS = [
  'tower_0/MobilenetV3/Conv/BatchNorm/FusedBatchNorm', 'tower_0/MobilenetV3/expanded_conv_5/add', 'tower_0/MobilenetV3/expanded_conv_14/add',
  'tower_0/CenternetHead/Relu_2', 'tower_0/CenternetHead/centernet_wh_output/BiasAdd', 'tower_0/keypoints', 'tower_0/wh', 'tower_0/detections',
];
const photos = process.argv.length > 2 ? process.argv.slice(2) : ['sample1.jpg', 'sample6.jpg'];
const file = (name: string): string => name.replace(/\W/g, '_');

const loaded = loadTfjs(MODEL);
const withOutputs = { ...loaded.model, signature: { outputs: Object.fromEntries(TENSORS.map((t) => [t, {}])) } };
const { g, vals, inputs, outputs } = convertGraphModel(withOutputs, loaded.weights, { input: { scale: 255, offset: 0 } });
for (const [name, v] of outputs) g.output(vals.as(v), file(name));
const bytes = encodeConverted(g, 'centernet', 'bench/tfjs-precision.ts');
const input = [...inputs.keys()][0]!;
const dir = mkdtempSync(join(tmpdir(), 'kestrel-tfjs-precision-'));
writeFileSync(join(dir, 'centernet.onnx'), bytes);
const tf = await tfjsModel(loaded, [readFileSync(MODEL.replace(/\.json$/, '.bin'))]);
const sessions = await Promise.all((['all', 'disabled'] as const).map((level) => ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, logSeverityLevel: 3, graphOptimizationLevel: level })));

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};
const e = (v: number): string => v.toExponential(2);

try {
  for (const p of photos) {
    const { data } = await sharp(join(FIX, '@vladmandic', 'face-api', 'demo', p)).removeAlpha().resize(SIZE, SIZE, { fit: 'fill' }).raw().toBuffer({ resolveWithObject: true });
    const x = new Float32Array(3 * SIZE * SIZE);
    for (let i = 0; i < SIZE * SIZE; i++) for (let c = 0; c < 3; c++) x[c * SIZE * SIZE + i] = data[i * 3 + c]! / 255;
    writeFileSync(join(dir, 'input.f32'), x);
    const py = spawnSync('/usr/bin/python3', [join('bench', 'onnx_f64.py'), join(dir, 'centernet.onnx'), join(dir, 'input.f32'), `1,3,${SIZE},${SIZE}`, dir], { encoding: 'utf8' });
    if (py.status !== 0) throw new Error(`bench/onnx_f64.py failed: ${py.stderr.trim().split('\n').at(-1)}`);
    const read = (name: string, kind: string): Float64Array => new Float64Array(readFileSync(join(dir, `${file(name)}.${kind}.f64`)).buffer.slice(0));
    const [onnxOpt, onnxPlain] = await Promise.all(sessions.map(async (s) => {
      const r = await s.run({ [input]: new ort.Tensor('float32', x, [1, 3, SIZE, SIZE]) });
      return TENSORS.map((t) => r[file(t)]!.data as Float32Array);
    }));
    const tfOut = await tf.run(toNhwc(x, [1, 3, SIZE, SIZE]).map((v) => v * 255), [1, SIZE, SIZE, 3], TENSORS);
    console.log(`\n${p}: max |run − float64| per tensor; last columns between float32 runs\n`);
    console.log('| tensor | largest \\|value\\| | TF.js CPU | ORT | ORT, no graph opt. | PyTorch f32 | ORT − TF.js | ORT opt. on − off |');
    console.log('|---|---|---|---|---|---|---|---|');
    TENSORS.forEach((t, k) => {
      const f64 = read(t, 'f64');
      const largest = f64.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
      const cols = [tfOut[k]!, onnxOpt![k]!, onnxPlain![k]!, read(t, 'f32')].map((r) => e(maxDiff(r, f64)));
      console.log(`| ${t.replace('tower_0/', '')} | ${largest.toPrecision(4)} | ${cols.join(' | ')} | ${e(maxDiff(onnxOpt![k]!, tfOut[k]!))} | ${e(maxDiff(onnxOpt![k]!, onnxPlain![k]!))} |`);
    });
  }
} finally {
  tf.dispose();
  await Promise.all(sessions.map((s) => s.release()));
  rmSync(dir, { recursive: true, force: true });
}
