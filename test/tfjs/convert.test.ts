// TF.js → ONNX on small models made here: a graph model with every weight encoding (float32,
// float16, uint8) and the spatial ops of the human-models graphs, and a Keras layers model built
// and saved by TF.js itself. Each converted model runs on ONNX Runtime and must give TF.js's
// outputs; the reader's dequantisation and its one-line errors are checked on their own.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { toHalfArray } from '../../src/onnx/half.js';
import { bundleExports, bundleShard } from '../../src/tfjs/bundle.js';
import { convertGraphModel } from '../../src/tfjs/convert-graph.js';
import { kerasToGraph } from '../../src/tfjs/keras.js';
import { loadTfjs } from '../../src/tfjs/load.js';
import { readWeights, TfjsError, type GraphNode, type WeightSpec } from '../../src/tfjs/model-json.js';
import { encodeConverted } from '../../src/tfjs/write.js';
import type { io, SymbolicTensor } from '@tensorflow/tfjs';
import { maxAbsDiff, ortRun, tfCpu, tfjsRun, toNhwc } from './tfjs-ref.js';

const dir = mkdtempSync(join(tmpdir(), 'kestrel-tfjs-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let seed = 7;
const rand = (n: number, lo = -1, hi = 1): Float32Array => Float32Array.from({ length: n }, () => lo + (hi - lo) * ((seed = (seed * 16807) % 2147483647) / 2147483647));
const b64 = (s: string): string => Buffer.from(s).toString('base64');
const ints = (v: number[]) => ({ list: { i: v.map(String) } });
const NHWC = { data_format: { s: b64('NHWC') }, dilations: ints([1, 1, 1, 1]) };

interface W { spec: WeightSpec; bytes: Uint8Array }
const f32 = (name: string, shape: number[], data = rand(shape.reduce((a, b) => a * b, 1))): W => ({ spec: { name, shape, dtype: 'float32' }, bytes: new Uint8Array(data.buffer) });
const i32 = (name: string, v: number[], shape = [v.length]): W => ({ spec: { name, shape, dtype: 'int32' }, bytes: new Uint8Array(Int32Array.from(v).buffer) });
const f16 = (name: string, shape: number[]): W => ({
  spec: { name, shape, dtype: 'float32', quantization: { dtype: 'float16', original_dtype: 'float32' } },
  bytes: new Uint8Array(toHalfArray(rand(shape.reduce((a, b) => a * b, 1))).buffer),
});
const u8 = (name: string, shape: number[], scale: number, min: number): W => ({
  spec: { name, shape, dtype: 'float32', quantization: { dtype: 'uint8', scale, min, original_dtype: 'float32' } },
  bytes: Uint8Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => (i * 37) % 256),
});

/** Writes `<name>.json` and its one shard (w.bin) and returns the json's path. */
function writeGraphModel(name: string, nodes: GraphNode[], weights: W[], outputs: string[]): string {
  const shard = Buffer.concat(weights.map((w) => w.bytes));
  const model = {
    format: 'graph-model', generatedBy: 'test', convertedBy: 'test',
    modelTopology: { node: nodes, versions: { producer: 1 } },
    weightsManifest: [{ paths: ['w.bin'], weights: weights.map((w) => w.spec) }],
    signature: { outputs: Object.fromEntries(outputs.map((o) => [o, { name: o }])) },
  };
  writeFileSync(join(dir, `${name}.json`), JSON.stringify(model));
  writeFileSync(join(dir, 'w.bin'), shard);
  return join(dir, `${name}.json`);
}

const SPATIAL: GraphNode[] = [
  { name: 'x', op: 'Placeholder', attr: { shape: { shape: { dim: [{ size: 1 }, { size: 8 }, { size: 8 }, { size: 3 }] } } } },
  { name: 'w1', op: 'Const' }, { name: 'b1', op: 'Const' }, { name: 'wd', op: 'Const' }, { name: 'axes', op: 'Const' },
  { name: 'size', op: 'Const' }, { name: 'cat_axis', op: 'Const' }, { name: 'shape', op: 'Const' }, { name: 'k', op: 'Const' },
  { name: 'wt', op: 'Const' }, { name: 'out_shape', op: 'Const' }, { name: 'pads', op: 'Const' },
  { name: 'conv', op: '_FusedConv2D', input: ['x', 'w1', 'b1'], attr: { ...NHWC, strides: ints([1, 2, 2, 1]), padding: { s: b64('SAME') }, fused_ops: { list: { s: [b64('BiasAdd'), b64('Relu6')] } }, num_args: { i: '1' } } },
  { name: 'dw', op: 'DepthwiseConv2dNative', input: ['conv', 'wd'], attr: { ...NHWC, strides: ints([1, 1, 1, 1]), padding: { s: b64('SAME') } } },
  { name: 'mean', op: 'Mean', input: ['dw', 'axes'], attr: { keep_dims: { b: true } } },
  { name: 'mul', op: 'Mul', input: ['dw', 'mean'] },
  { name: 'up', op: 'ResizeBilinear', input: ['mul', 'size'], attr: { half_pixel_centers: { b: true } } },
  { name: 'cat', op: 'ConcatV2', input: ['up', 'x', 'cat_axis'] },
  { name: 'pad', op: 'Pad', input: ['cat', 'pads'] },
  { name: 'pool', op: 'AvgPool', input: ['pad', '^x'], attr: { ...NHWC, ksize: ints([1, 3, 3, 1]), strides: ints([1, 2, 2, 1]), padding: { s: b64('SAME') } } },
  { name: 'deconv', op: 'Conv2DBackpropInput', input: ['out_shape', 'wt', 'pool'], attr: { ...NHWC, strides: ints([1, 2, 2, 1]), padding: { s: b64('SAME') } } },
  { name: 'flat', op: 'Reshape', input: ['pool', 'shape'] },
  { name: 'top', op: 'TopKV2', input: ['flat', 'k'], attr: { sorted: { b: true } } },
  { name: 'idx', op: 'Cast', input: ['top:1'], attr: { DstT: { type: 'DT_FLOAT' } } },
  { name: 'sig', op: 'Sigmoid', input: ['deconv'] },
];

const SPATIAL_WEIGHTS = (): W[] => [
  f16('w1', [3, 3, 3, 4]), u8('b1', [4], 0.01, -1.2), f32('wd', [3, 3, 4, 1]), i32('axes', [1, 2]),
  i32('size', [8, 8]), i32('cat_axis', [3], []), i32('shape', [1, -1]), i32('k', [5], []),
  f32('wt', [2, 2, 2, 7]), i32('out_shape', [1, 10, 10, 2]), i32('pads', [0, 0, 1, 1, 1, 1, 0, 0], [4, 2]),
];

describe('TF.js graph models', () => {
  it('a graph with float16, uint8 and float32 weights and the detectors\' spatial ops gives TF.js\'s outputs on ONNX Runtime', async () => {
    const path = writeGraphModel('spatial', SPATIAL, SPATIAL_WEIGHTS(), ['sig', 'top', 'idx']);
    const loaded = loadTfjs(path);
    const { g, vals, outputs, inputs } = convertGraphModel(loaded.model, loaded.weights);
    for (const [name, v] of outputs) g.output(vals.as(v), name);
    const input = [...inputs.values()][0]!;
    assert.deepEqual(input.shape, [1, 3, 8, 8], 'the NHWC image input becomes NCHW');
    const x = rand(3 * 64, 0, 1);
    const names = ['sig', 'top', 'idx'];
    const got = await ortRun(encodeConverted(g, 'spatial', 'test'), input.name, x, [1, 3, 8, 8], names);
    const want = await tfjsRun(loaded, [readFileSync(join(dir, 'w.bin'))], toNhwc(x, [1, 3, 8, 8]), [1, 8, 8, 3], names);
    assert.equal(got[0]!.length, 10 * 10 * 2);
    names.forEach((n, i) => assert.ok(maxAbsDiff(got[i]!, want[i]!) < 1e-5, `${n}: max |ONNX - TF.js| = ${maxAbsDiff(got[i]!, want[i]!)}`));
  });

  it('uint8 weights are q * scale + min, float16 weights their halves, as TF.js decodes them', () => {
    const ws = [u8('a', [4], 0.5, -3), f16('h', [2]), i32('i', [7, -2])];
    const shard = Buffer.concat(ws.map((w) => w.bytes));
    const out = readWeights([{ paths: ['s'], weights: ws.map((w) => w.spec) }], () => shard);
    assert.deepEqual([...out.get('a')!.data], [0, 37, 74, 111].map((q) => q * 0.5 - 3));
    assert.deepEqual([...out.get('i')!.data], [7, -2]);
    assert.equal(out.get('a')!.dtype, 'float32');
  });

  it('a short shard, an unknown op and a missing file each fail in one line that names them', () => {
    const ws = [f32('a', [4]), f32('b', [4])];
    const shard = Buffer.concat(ws.map((w) => w.bytes)).subarray(0, 20);
    assert.throws(() => readWeights([{ paths: ['s.bin'], weights: ws.map((w) => w.spec) }], () => shard), /shards of \[s\.bin\] hold 20 bytes; b needs bytes 16–32/);
    const path = writeGraphModel('odd', [
      { name: 'x', op: 'Placeholder', attr: { shape: { shape: { dim: [{ size: 1 }, { size: 4 }] } } } },
      { name: 'y', op: 'Cumsum', input: ['x'] }, { name: 'z', op: 'Erfinv', input: ['y'] },
    ], [], ['z']);
    const loaded = loadTfjs(path);
    assert.throws(() => convertGraphModel(loaded.model, loaded.weights), (e: Error) => e instanceof TfjsError && e.message === 'the graph uses ops Kestrel cannot convert yet: Cumsum, Erfinv');
    assert.throws(() => loadTfjs(join(dir, 'nope.json')), /nope\.json does not exist/);
  });

  it('reads nsfwjs-style bundles (a minified module.exports literal, a base64 shard) without running them', () => {
    const text = '!function(e){"object"==typeof exports?module.exports=e():0}(function(){return {1:[function(e,a,n){a.exports={modelTopology:{keras_version:"2.2.4",x:[.5,-1e-3,!0,!1,null]},weightsManifest:[{paths:["s"],weights:[]}],q:"a\\"b"}},{}]}});';
    assert.deepEqual(bundleExports(text, 'm'), { modelTopology: { keras_version: '2.2.4', x: [0.5, -0.001, true, false, null] }, weightsManifest: [{ paths: ['s'], weights: [] }], q: 'a"b' });
    assert.deepEqual([...bundleShard('x(function(e,a,n){a.exports="AQID"})', 's')], [1, 2, 3]);
    assert.throws(() => bundleExports('module.exports=e()', 'm.js'), /m\.js is not a bundle Kestrel reads/);
    assert.equal(bundleExports(String.raw`a.exports='x\\y\u00e9\n\'z'`, 'm'), 'x\\y\u00e9\n\'z');
    assert.throws(() => bundleExports('a.exports="AQID', 's.js'), /does not parse at character 15: unterminated string/);
  });
});

describe('TF.js layers models', () => {
  it('a Keras model saved by TF.js (conv, depthwise, batch norm, ReLU6, add, pads, pools, concat, dense) gives TF.js\'s scores', async () => {
    const tf = await tfCpu();
    const on = (layer: { apply: (x: SymbolicTensor | SymbolicTensor[]) => unknown }, x: SymbolicTensor | SymbolicTensor[]): SymbolicTensor => layer.apply(x) as SymbolicTensor;
    const L = tf.layers;
    const x = tf.input({ shape: [12, 12, 3] });
    const r = on(L.reLU({ maxValue: 6 }), on(L.batchNormalization({ epsilon: 1e-3 }), on(L.conv2d({ filters: 6, kernelSize: 3, strides: 2, padding: 'same', useBias: false }), on(L.zeroPadding2d({ padding: [[0, 1], [0, 1]] }), x))));
    const sum = on(L.add(), [r, on(L.depthwiseConv2d({ kernelSize: 3, padding: 'same', activation: 'relu' }), r)]);
    const mp = on(L.maxPooling2d({ poolSize: 2 }), sum);
    const ap = on(L.averagePooling2d({ poolSize: 2 }), on(L.averagePooling2d({ poolSize: 3, strides: 1, padding: 'same' }), sum));
    const cat = on(L.concatenate({ axis: 3 }), [mp, ap]);
    const d = on(L.dense({ units: 5, activation: 'softmax' }), on(L.dropout({ rate: 0.5 }), on(L.flatten(), on(L.activation({ activation: 'tanh' }), cat))));
    const m = tf.model({ inputs: x, outputs: d });
    // Non-trivial batch-norm statistics, so the test sees them.
    for (const w of m.layers[3]!.weights) w.write(tf.randomUniform(w.shape as number[], 0.2, 1.5));
    let saved: io.ModelArtifacts | undefined;
    await m.save(tf.io.withSaveHandler(async (a) => ((saved = a), { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } })));
    const shard = new Uint8Array(saved!.weightData as ArrayBuffer);
    writeFileSync(join(dir, 'layers.json'), JSON.stringify({ modelTopology: saved!.modelTopology, weightsManifest: [{ paths: ['layers.bin'], weights: saved!.weightSpecs }] }));
    writeFileSync(join(dir, 'layers.bin'), shard);
    const loaded = loadTfjs(join(dir, 'layers.json'));
    const graph = kerasToGraph(loaded.model, loaded.weights);
    const { g, vals, outputs, inputs } = convertGraphModel(graph.model, graph.weights);
    const [[name, out]] = [...outputs];
    g.output(vals.as(out!), name!);
    const input = [...inputs.values()][0]!;
    const img = rand(3 * 144, 0, 1);
    const [got] = await ortRun(encodeConverted(g, 'layers', 'test'), input.name, img, [1, 3, 12, 12], [name!]);
    const [want] = await tfjsRun(loaded, [shard], toNhwc(img, [1, 3, 12, 12]), [1, 12, 12, 3], [name!]);
    assert.equal(got!.length, 5);
    assert.ok(Math.abs(got!.reduce((a, b) => a + b, 0) - 1) < 1e-5, 'softmax scores sum to 1');
    assert.ok(maxAbsDiff(got!, want!) < 1e-6, `max |ONNX - TF.js| = ${maxAbsDiff(got!, want!)}`);
    m.dispose();
  });
});
