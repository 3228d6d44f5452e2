import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TensorStats, type CalibrationBatch } from '../../src/export/calibrate.js';
import { constantsToInitializers, foldBatchNorm } from '../../src/export/prepare.js';
import { DataType, encodeModel, type GraphProto, type ModelProto, type NodeProto } from '../../src/onnx/proto.js';
import { activationParams, fakeQuant, quantizeWeight, roundHalfEven } from '../../src/export/qparams.js';
import { quantizeStatic } from '../../src/export/quantize.js';
import { attrInt, readFloats } from '../../src/onnx/tensor-data.js';
import { argmaxRows, batchNorm, conv, cosine, flippedConfident, GraphBuilder, hasOnnxPython, images, linear, onnxCheck, optimizedOps, run } from './graphs.js';

/** conv-BN-ReLU, conv-ReLU, maxpool, a residual block, global pool, an MLP head with a MatMul. */
function convNet(): ModelProto {
  const b = new GraphBuilder(11);
  let x = b.input('images', ['N', 1, 16, 16]);
  x = b.op('Relu', [batchNorm(b, conv(b, x, 1, 16, 3, { bias: false, name: 'stem' }), 16)]);
  x = b.op('MaxPool', [b.op('Relu', [conv(b, x, 16, 16, 3)])], { kernel_shape: [2, 2], strides: [2, 2] });
  const y = conv(b, b.op('Relu', [conv(b, x, 16, 32, 3)]), 32, 16, 3);
  x = b.op('Relu', [b.op('Add', [y, x])]);
  x = b.op('Flatten', [b.op('GlobalAveragePool', [x])]);
  x = b.op('Relu', [linear(b, x, 16, 64, 'fc1')]);
  x = b.op('Sigmoid', [b.op('MatMul', [x, b.randn('proj', [64, 32], 0.3)], {}, 'mm')]);
  b.nodes.push({ name: 'head', opType: 'Gemm', input: [x, b.randn('head.weight', [10, 32], 0.5), b.randn('head.bias', [10], 0.1)], output: ['logits'], attribute: [{ name: 'transB', type: 2, i: 1 }] });
  b.output('logits', DataType.FLOAT, ['N', 10]);
  return b.model(17, { kestrel: 'kestrel.onnx/1', precision: 'fp32' });
}

const N = 64;
const X = images(N, 1, 16, 16, 21);
const calib = (data = X, n = N, batch = 16): CalibrationBatch[] =>
  Array.from({ length: Math.ceil(n / batch) }, (_, i) => ({ data: data.subarray(i * batch * 256, Math.min(n, (i + 1) * batch) * 256), dims: [Math.min(batch, n - i * batch), 1, 16, 16] }));

const init = (g: GraphProto, name: string) => g.initializer!.find((t) => t.name === name)!;
const producer = (g: GraphProto, v: string): NodeProto => g.node.find((n) => n.output.includes(v))!;
const scalar = (g: GraphProto, name: string): number => readFloats(init(g, name))[0]!;

describe('quantizeStatic on a small conv classifier', async () => {
  const fp32 = convNet();
  const q = await quantizeStatic(fp32, calib());
  const g = q.graph;

  test('int8 logits agree with float32 (cosine, top-1)', async () => {
    const ref = await run(fp32, X, [N, 1, 16, 16]);
    const got = await run(q, X, [N, 1, 16, 16]);
    assert.ok(cosine(ref, got) > 0.999, `cosine ${cosine(ref, got)}`);
    const [a, b] = [argmaxRows(ref, 10), argmaxRows(got, 10)];
    assert.ok(a.filter((v, i) => v === b[i]).length >= 0.95 * N);
    assert.deepEqual(flippedConfident(ref, got, 10, 0.05), []);
    assert.ok(got.some((v, i) => v !== ref[i]), 'int8 must differ from float a little');
  });

  test('weights: int8 per output channel, scales max|w|/127 of the BN-folded weights', () => {
    const folded = foldBatchNorm(fp32.graph);
    for (const node of g.node.filter((n) => ['Conv', 'Gemm', 'MatMul'].includes(n.opType))) {
      const dq = producer(g, node.input[1]!);
      assert.equal(dq.opType, 'DequantizeLinear', node.name);
      const [wq, scale, zp] = dq.input.map((n) => init(g, n!));
      assert.equal(wq!.dataType, DataType.INT8);
      assert.equal(zp!.dataType, DataType.INT8);
      assert.ok(new Int8Array(zp!.rawData!.slice().buffer).every((v) => v === 0), 'symmetric: zero points 0');
      // Independent computation from the float weights the planner started from.
      const floatName = folded.node.find((n) => n.name === node.name)!.input[1]!;
      const wv = readFloats(init(folded, floatName));
      const axis = node.opType === 'Conv' || attrInt(node, 'transB', 0) === 1 ? 0 : 1;
      assert.equal(attrInt(dq, 'axis', 1), axis, `${node.name} axis`);
      const channels = Number(init(folded, floatName).dims![axis]);
      const channelOf = (i: number) => (axis === 0 ? Math.floor(i / (wv.length / channels)) : i % channels);
      const absMax = new Array<number>(channels).fill(0);
      wv.forEach((v, i) => { absMax[channelOf(i)] = Math.max(absMax[channelOf(i)]!, Math.abs(v)); });
      const scales = readFloats(scale!);
      assert.deepEqual(Array.from(scales), absMax.map((m) => Math.fround(m / 127)), node.name);
      const qv = new Int8Array(wq!.rawData!.slice().buffer);
      assert.equal(qv.length, wv.length);
      wv.forEach((v, i) => assert.ok(Math.abs(qv[i]! * scales[channelOf(i)]! - v) <= scales[channelOf(i)]! / 2 + 1e-7));
      assert.ok(qv.some((v) => v === 127 || v === -127));
    }
    // No float copy of any weight is left in the file.
    assert.deepEqual(g.initializer!.filter((t) => t.dataType === DataType.FLOAT && (t.dims?.length ?? 0) > 1).map((t) => t.name), []);
  });

  test('biases: int32 with scale = input scale × weight scale; activations uint8', () => {
    for (const node of g.node.filter((n) => n.input[2] && ['Conv', 'Gemm'].includes(n.opType))) {
      const bdq = producer(g, node.input[2]!);
      const [bq, bscale] = bdq.input.map((n) => init(g, n!));
      assert.equal(bq!.dataType, DataType.INT32);
      const xdq = producer(g, node.input[0]!);
      const xscale = scalar(g, xdq.input[1]!);
      const wscale = readFloats(init(g, producer(g, node.input[1]!).input[1]!));
      assert.deepEqual(Array.from(readFloats(bscale!)), Array.from(wscale, (s) => Math.fround(xscale * s)), node.name);
      assert.equal(init(g, xdq.input[2]!).dataType, DataType.UINT8);
    }
  });

  test('QDQ layout: ReLUs merge into the Q after them, MaxPool and Flatten reuse their input’s parameters, logits stay float', () => {
    // Every Relu that follows a quantized op sits between the op and its output Q.
    for (const relu of g.node.filter((n) => n.opType === 'Relu')) {
      const q0 = g.node.filter((n) => n.input[0] === relu.output[0]);
      assert.deepEqual(q0.map((n) => n.opType), ['QuantizeLinear']);
      assert.equal(init(g, q0[0]!.input[2]!).rawData![0], 0, 'zero point 0: the range starts at 0');
    }
    const pool = g.node.find((n) => n.opType === 'MaxPool')!;
    const qAfter = g.node.find((n) => n.opType === 'QuantizeLinear' && n.input[0] === pool.output[0])!;
    assert.equal(qAfter.input[1], producer(g, pool.input[0]!).input[1], 'MaxPool output shares its input scale');
    assert.equal(producer(g, 'logits').name, 'head');
    assert.deepEqual(q.metadataProps!.find((p) => p.key === 'precision'), { key: 'precision', value: 'int8' });
    assert.equal(g.node.filter((n) => n.opType === 'BatchNormalization').length, 0);
  });

  test('ORT fuses every QDQ group into integer kernels', async () => {
    const ops = await optimizedOps(q, 'extended');
    for (const fused of ['QLinearConv', 'QLinearAdd', 'QLinearGlobalAveragePool', 'QGemm', 'QLinearMatMul', 'QLinearSigmoid']) {
      assert.ok(ops.includes(fused), `${fused} missing from ${ops.join(' ')}`);
    }
    assert.deepEqual(ops.filter((o) => ['Conv', 'Gemm', 'MatMul', 'Relu', 'Add', 'DequantizeLinear'].includes(o)), []);
    assert.equal(ops.filter((o) => o === 'QuantizeLinear').length, 1, 'one Q at the input, int8 all the way to the logits');
  });

  test('onnx.checker accepts the int8 model', { skip: !hasOnnxPython() && 'needs /usr/bin/python3 with onnx' }, () => {
    assert.equal(onnxCheck(q), '');
  });
});

describe('quantizeStatic numerics and options', () => {
  /** y = Gemm(x, W, b) with W [K=6, N=3] not transposed (axis 1), then one float op after. */
  function gemm(): ModelProto {
    const b = new GraphBuilder(4);
    const x = b.input('x', ['N', 6]);
    b.nodes.push({ name: 'g', opType: 'Gemm', input: [x, b.randn('W', [6, 3], 0.7), b.init('C', [1, 3], [0.3, -0.2, 0.05])], output: ['y'] });
    b.output('y');
    return b.model(13);
  }
  const r = new GraphBuilder(8).r;
  const xs = Float32Array.from({ length: 8 * 6 }, () => r.normal());

  test('a Gemm computes exactly dequant(x_q)·dequant(W_q) + dequant(b_q) (checked in JS)', async () => {
    const m = gemm();
    const q = await quantizeStatic(m, [{ data: xs, dims: [8, 6] }]);
    const got = await run(q, xs, [8, 6]);
    // Reference from the float model's own tensors and the QDQ definitions.
    const lo = Math.min(...xs), hi = Math.max(...xs);
    const p = activationParams(lo, hi);
    assert.equal(scalar(q.graph, producer(q.graph, producer(q.graph, 'y').input[0]!).input[1]!), p.scale);
    const W = readFloats(init(m.graph, 'W'));
    const wq = quantizeWeight(W, [6, 3], 1);
    const C = [0.3, -0.2, 0.05];
    for (let i = 0; i < 8; i++) {
      for (let n = 0; n < 3; n++) {
        const bscale = Math.fround(p.scale * wq.scales[n]!);
        let acc = roundHalfEven(Math.fround(C[n]!) / bscale) * bscale;
        for (let k = 0; k < 6; k++) acc += fakeQuant(xs[i * 6 + k]!, p) * wq.q[k * 3 + n]! * wq.scales[n]!;
        assert.ok(Math.abs(got[i * 3 + n]! - acc) < 1e-5, `y[${i},${n}] = ${got[i * 3 + n]} vs ${acc}`);
      }
    }
  });

  test('percentile and entropy ranges are the calibration statistics’ thresholds', async () => {
    // x → MatMul: x's parameters come straight from its statistics (inputs always use min–max,
    // so the calibrated tensor here is the Relu output fed to the MatMul).
    const b = new GraphBuilder(2);
    const h = b.op('Relu', [b.input('x', ['N', 6])]);
    b.nodes.push({ name: 'mm', opType: 'MatMul', input: [h, b.randn('W', [6, 3], 1)], output: ['y'] });
    b.output('y');
    const m = b.model(13);
    // Enough samples for a dense histogram: entropy cannot clip where the bins run empty.
    const data = Float32Array.from({ length: 20_000 * 6 }, () => r.normal());
    data[5] = 40; // an outlier
    const stats = new TensorStats();
    stats.add(data.map((v) => Math.max(0, v)));
    for (const method of ['minmax', 'percentile', 'entropy'] as const) {
      const q = await quantizeStatic(m, [{ data, dims: [20_000, 6] }], { method, percentile: 99.9, calibSize: 20_000 });
      const [lo, hi] = stats.threshold(method, 99.9);
      const dq = producer(q.graph, q.graph.node.find((n) => n.opType === 'MatMul')!.input[0]!);
      assert.equal(scalar(q.graph, dq.input[1]!), activationParams(lo, hi).scale, method);
      if (method !== 'minmax') assert.ok(hi < 10, `${method} clips the outlier (${hi})`);
    }
  });

  test('calibSize stops early, async iterables work, perChannel false gives one scale', async () => {
    async function* batches(): AsyncGenerator<CalibrationBatch> {
      for (let i = 0; i < 10; i++) yield { data: new Float32Array(8 * 6).fill(i < 1 ? 1 : 1000), dims: [8, 6] };
    }
    const q = await quantizeStatic(gemm(), batches(), { calibSize: 12, perChannel: false });
    const g = q.graph;
    const xdq = producer(g, producer(g, 'y').input[0]!);
    // Images 9–12 (batch 2, cut to 4 images) carry 1000s: calibration read them.
    assert.equal(scalar(g, xdq.input[1]!), Math.fround(1000 / 255));
    const wdq = producer(g, producer(g, 'y').input[1]!);
    assert.equal(readFloats(init(g, wdq.input[1]!)).length, 1);
    assert.equal(wdq.attribute!.length, 0, 'no axis for a per-tensor scale');
    const q2 = await quantizeStatic(gemm(), batches(), { calibSize: 8 });
    assert.equal(scalar(q2.graph, producer(q2.graph, producer(q2.graph, 'y').input[0]!).input[1]!), Math.fround(1 / 255));
  });

  test('exclude keeps nodes (by name or op type) in float32', async () => {
    const fp32 = convNet();
    const q = await quantizeStatic(fp32, calib(X, 16), { exclude: ['Gemm', 'mm'], calibSize: 16 });
    const g = q.graph;
    for (const name of ['head', 'fc1', 'mm']) {
      const node = g.node.find((n) => n.name === name)!;
      assert.equal(init(g, node.input[1]!).dataType, DataType.FLOAT, name);
    }
    assert.equal(producer(g, g.node.find((n) => n.name === 'stem')!.input[1]!).opType, 'DequantizeLinear');
  });

  test('bad input gets one-line errors', async () => {
    const one = [{ data: xs, dims: [8, 6] }];
    await assert.rejects(quantizeStatic({ ...gemm(), opsetImport: [{ domain: '', version: 11 }] }, one), /model uses opset 11; per-channel QDQ needs opset 13/);
    await assert.rejects(quantizeStatic(gemm(), [{ data: xs, dims: [8, 5] }]), /^Error: calibration batch 1: 48 values do not fill dims \[8, 5\]$/);
    await assert.rejects(quantizeStatic(gemm(), [{ data: xs.subarray(0, 40), dims: [4, 10] }]), /^Error: calibration batch 1: dims \[4, 10\] do not fit the model input "x" \[\?, 6\]$/);
    await assert.rejects(quantizeStatic(gemm(), []), /calibration data yielded no images/);
    await assert.rejects(quantizeStatic(gemm(), one, { exclude: ['Conv'] }), /exclude names no node or op type of this model: Conv/);
    await assert.rejects(quantizeStatic(gemm(), one, { method: 'kl' as 'entropy' }), /method must be one of minmax, percentile, entropy, got "kl"/);
    await assert.rejects(quantizeStatic(gemm(), one, { calibSize: 0 }), /calibSize must be a positive integer/);
    await assert.rejects(quantizeStatic(gemm(), [{ data: xs.map(() => NaN), dims: [8, 6] }]), /non-finite activation \(NaN\)/);
  });
});

describe('stream-merging ops', () => {
  test('a transformer residual stream stays float; its MatMuls are quantized; Identity-aliased weights are found', async () => {
    const b = new GraphBuilder(12);
    const x = b.op('Flatten', [b.input('x', ['N', 1, 4, 4])]);
    const ln = b.op('LayerNormalization', [x, b.randn('g', [16], 0.1, 1), b.randn('beta', [16], 0.1)], { axis: -1 });
    const w = b.op('Identity', [b.randn('w', [16, 16], 0.3)]); // exporters alias shared weights so
    const h = b.op('Add', [b.op('MatMul', [ln, w], {}, 'fc'), b.randn('bias', [16], 0.1)], {}, 'bias_add');
    const y = b.op('Add', [x, h], {}, 'residual');
    b.nodes.push({ name: 'head', opType: 'Gemm', input: [y, b.randn('hw', [10, 16], 0.3), b.randn('hb', [10], 0.1)], output: ['logits'], attribute: [{ name: 'transB', type: 2, i: 1 }] });
    b.output('logits');
    const fp32 = b.model(17);
    const data = images(32, 1, 4, 4, 3);
    const q = await quantizeStatic(fp32, [{ data, dims: [32, 1, 4, 4] }]);
    const g = q.graph;
    const node = (name: string) => g.node.find((n) => n.name === name)!;
    assert.deepEqual(node('fc').input.map((i) => producer(g, i).opType), ['DequantizeLinear', 'DequantizeLinear']);
    assert.equal(g.node.filter((n) => n.opType === 'Identity').length, 0);
    // The bias Add reads the quantized MatMul output but is not quantized itself (a float
    // constant input), so the residual Add sees a float stream and stays float too.
    assert.equal(node('bias_add').input[1], 'bias');
    assert.ok(!g.node.some((n) => n.opType === 'QuantizeLinear' && n.input[0] === node('bias_add').output[0]));
    assert.ok(node('residual').input.every((i) => producer(g, i)?.opType !== 'DequantizeLinear'));
    const [ref, got] = [await run(fp32, data, [32, 1, 4, 4]), await run(q, data, [32, 1, 4, 4])];
    assert.ok(cosine(ref, got) > 0.999, `cosine ${cosine(ref, got)}`);
    const ops = await optimizedOps(q, 'extended');
    assert.ok(ops.includes('QLinearMatMul') || ops.includes('MatMulIntegerToFloat'), ops.join(' '));
  });
});

describe('weight-dominated model', () => {
  test('an MLP classifier shrinks ≥ 3.5× and keeps its top-1', async () => {
    const b = new GraphBuilder(5);
    let x = b.op('Flatten', [b.input('images', ['N', 1, 16, 16])]);
    x = b.op('Relu', [linear(b, x, 256, 512)]);
    x = b.op('Relu', [b.op('Add', [b.op('MatMul', [x, b.randn('w2', [512, 256], Math.sqrt(2 / 512))]), b.randn('b2', [256], 0.05)])]);
    b.nodes.push({ name: 'head', opType: 'Gemm', input: [x, b.randn('hw', [10, 256], 0.1), b.randn('hb', [10], 0.05)], output: ['logits'], attribute: [{ name: 'transB', type: 2, i: 1 }] });
    b.output('logits');
    const fp32 = b.model(17);
    const q = await quantizeStatic(fp32, calib());
    const ratio = encodeModel(fp32).byteLength / encodeModel(q).byteLength;
    assert.ok(ratio >= 3.5, `only ${ratio.toFixed(2)}× smaller`);
    const ref = await run(fp32, X, [N, 1, 16, 16]);
    const got = await run(q, X, [N, 1, 16, 16]);
    assert.deepEqual(flippedConfident(ref, got, 10, 0.05), []);
    assert.ok(argmaxRows(ref, 10).filter((v, i) => v === argmaxRows(got, 10)[i]).length >= 0.9 * N);
    assert.ok(cosine(ref, got) > 0.999);
  });
});

describe('graph preparation', () => {
  test('Conv → BatchNormalization folds into one Conv with the same outputs', async () => {
    const b = new GraphBuilder(6);
    const y = batchNorm(b, conv(b, b.input('x', ['N', 3, 8, 8]), 3, 4, 3), 4);
    b.nodes.at(-1)!.output = ['y'];
    void y;
    b.output('y');
    const m = b.model(13);
    const folded: ModelProto = { ...m, graph: foldBatchNorm(m.graph) };
    assert.deepEqual(folded.graph.node.map((n) => n.opType), ['Conv']);
    assert.equal(folded.graph.initializer!.length, 2);
    const x = images(2, 3, 8, 8, 1);
    const [ref, got] = [await run(m, x, [2, 3, 8, 8]), await run(folded, x, [2, 3, 8, 8])];
    const diff = ref.reduce((d, v, i) => Math.max(d, Math.abs(v - got[i]!)), 0);
    assert.ok(diff < 1e-5, `max diff ${diff}`);
  });

  test('Constant nodes become initializers', () => {
    const b = new GraphBuilder();
    const c = b.node('Constant', [], { value: { name: '', dataType: DataType.FLOAT, dims: [2], floatData: [1, 2] } })[0]!;
    b.nodes.push({ name: 'add', opType: 'Add', input: [b.input('x', [2]), c], output: ['y'] });
    b.output('y');
    const g = constantsToInitializers(b.model().graph);
    assert.deepEqual(g.node.map((n) => n.opType), ['Add']);
    assert.deepEqual(Array.from(readFloats(init(g, c))), [1, 2]);
  });
});
