import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { convertToFloat16, ORT_CPU_FP16_OPS } from '../../src/export/fp16.js';
import { fromHalfBits } from '../../src/onnx/half.js';
import { DataType, decodeModel, encodeModel, type ModelProto } from '../../src/onnx/proto.js';
import { readFloats } from '../../src/onnx/tensor-data.js';
import { batchNorm, conv, GraphBuilder, hasOnnxPython, images, onnxCheck, optimizedOps, run } from './graphs.js';

/** A network touching the ops a classifier uses: conv/BN/activations/pools, LayerNorm, GELU, attention-like MatMul+Softmax, Concat/Gather. */
function kitchenSink(): ModelProto {
  const b = new GraphBuilder(7);
  const x = b.input('images', ['N', 3, 16, 16]);
  const r = b.op('Relu', [batchNorm(b, conv(b, x, 3, 8, 3, { bias: false }), 8)]);
  const c2 = conv(b, r, 8, 8, 3);
  const clip = b.op('Clip', [c2, b.init('clip_min', [], [0]), b.init('clip_max', [], [6])]);
  const m = b.op('Mul', [b.op('HardSwish', [clip]), b.op('HardSigmoid', [c2])]);
  const a = b.op('Add', [b.op('Sigmoid', [m]), r]);
  const pooled = b.op('AveragePool', [b.op('MaxPool', [a], { kernel_shape: [2, 2], strides: [2, 2] })], { kernel_shape: [2, 2], strides: [2, 2] });
  const seq = b.op('Reshape', [b.op('Transpose', [pooled], { perm: [0, 2, 3, 1] }), b.ints('seq_shape', [0, 16, 8])]);
  const ln = b.op('LayerNormalization', [seq, b.randn('ln.weight', [8], 0.1, 1), b.randn('ln.bias', [8], 0.1)], { axis: -1, epsilon: 1e-5 });
  // GELU as PyTorch exports it before opset 20: x * 0.5 * (1 + erf(x / sqrt 2)).
  const sqrt2 = b.node('Constant', [], { value_float: Math.SQRT2 })[0]!;
  const erf = b.op('Erf', [b.op('Div', [ln, sqrt2])]);
  const gelu = b.op('Mul', [b.op('Mul', [ln, b.op('Add', [erf, b.init('one', [], [1])])]), b.init('half', [], [0.5])]);
  const attn = b.op('Softmax', [b.op('MatMul', [gelu, b.randn('proj', [8, 8], 0.4)])], { axis: -1 });
  const tokens = b.op('Gather', [b.op('Concat', [attn, ln], { axis: 2 }), b.ints('keep', [0, 2, 4, 6, 8, 10, 12, 14])], { axis: 1 });
  const pooledR = b.op('Flatten', [b.op('GlobalAveragePool', [r])]);
  const feats = b.op('Concat', [b.op('Flatten', [tokens]), pooledR], { axis: 1 });
  b.nodes.push({ name: 'head', opType: 'Gemm', input: [feats, b.randn('head.weight', [10, 136], 0.1), b.randn('head.bias', [10], 0.05)], output: ['logits'], attribute: [{ name: 'transB', type: 2, i: 1 }] });
  b.output('logits', DataType.FLOAT, ['N', 10]);
  return b.model(17, { kestrel: 'kestrel.onnx/1', precision: 'fp32' });
}

const N = 4;
const X = images(N, 3, 16, 16, 3);
const maxAbs = (a: Float32Array): number => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
const maxDiff = (a: Float32Array, b: Float32Array): number => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

describe('convertToFloat16', () => {
  const fp32 = kitchenSink();
  const bytes32 = encodeModel(fp32);

  test('default (ORT CPU fp16 ops): weights FLOAT16, I/O float32, runs in ORT and matches float32', async () => {
    const half = convertToFloat16(fp32);
    const g = half.graph;
    // Every weight tensor of 64+ values is stored in half precision; small scalars stay exact.
    for (const t of g.initializer!) {
      const n = (t.dims ?? []).reduce<number>((p, d) => p * Number(d), 1);
      if (t.dataType === DataType.INT64) continue;
      assert.equal(t.dataType, n >= 64 || t.name!.startsWith('ln.') ? DataType.FLOAT16 : DataType.FLOAT, t.name);
    }
    assert.equal(g.input[0]!.type!.tensorType!.elemType, DataType.FLOAT);
    assert.equal(g.output[0]!.type!.tensorType!.elemType, DataType.FLOAT);
    assert.equal(g.output[0]!.name, 'logits');
    // LayerNormalization is the one op here ORT's CPU provider computes in fp16: its input is
    // cast to fp16 and its output (read by float32 ops) cast back, with no other activation casts.
    const ln = g.node.find((n) => n.opType === 'LayerNormalization')!;
    const producer = (v: string) => g.node.find((n) => n.output.includes(v));
    assert.equal(producer(ln.input[0]!)!.opType, 'Cast');
    const inits = new Set(g.initializer!.map((t) => t.name));
    const activationCasts = g.node.filter((n) => n.opType === 'Cast' && !inits.has(n.input[0]!));
    assert.equal(activationCasts.length, 2, activationCasts.map((n) => n.input[0]).join(', '));
    assert.equal(readFloats(g.initializer!.find((t) => t.name === 'head.weight')!).length, 1360);
    assert.deepEqual(half.metadataProps!.find((p) => p.key === 'precision'), { key: 'precision', value: 'fp16' });
    // Converted weights take exactly half the bytes; the whole (small) file about two thirds.
    const bytesOf = (m: ModelProto, dt: number) => m.graph.initializer!.filter((t) => t.dataType === dt).reduce((s, t) => s + t.rawData!.byteLength, 0);
    const halfNames = new Set(g.initializer!.filter((t) => t.dataType === DataType.FLOAT16).map((t) => t.name));
    const before = fp32.graph.initializer!.filter((t) => halfNames.has(t.name)).reduce((s, t) => s + t.rawData!.byteLength, 0);
    assert.equal(bytesOf(half, DataType.FLOAT16) * 2, before);
    assert.equal(before, 4 * (216 + 576 + 64 + 1360 + 8 + 8)); // conv1, conv2, proj, head, ln.weight, ln.bias
    assert.ok(encodeModel(half).byteLength < 0.7 * bytes32.byteLength);

    const ref = await run(bytes32, X, [N, 3, 16, 16]);
    const got = await run(half, X, [N, 3, 16, 16]);
    assert.equal(got.length, ref.length);
    // fp16 weights (relative rounding 2^-11) and an fp16 LayerNorm: errors of a few 1e-3 relative.
    assert.ok(maxDiff(ref, got) < 1e-2 * maxAbs(ref), `max diff ${maxDiff(ref, got)} vs max ${maxAbs(ref)}`);
    assert.ok(maxDiff(ref, got) > 0, 'the weights were rounded, so outputs must move a little');
  });

  test("'all': every op in fp16 (for GPU providers) still runs on ORT CPU and matches within fp16 tolerance", async () => {
    const half = convertToFloat16(fp32, { fp16Ops: 'all' });
    const g = half.graph;
    // Gemm now writes fp16 logits under a new name and a Cast restores the float32 output.
    const head = g.node.find((n) => n.name === 'head')!;
    assert.notEqual(head.output[0], 'logits');
    const last = g.node.find((n) => n.output.includes('logits'))!;
    assert.equal(last.opType, 'Cast');
    // The Constant read by an fp16 Div became an fp16 tensor; scalar initializers too.
    const constant = g.node.find((n) => n.opType === 'Constant')!;
    assert.equal(constant.attribute![0]!.t!.dataType, DataType.FLOAT16);
    assert.equal(fromHalfBits(new Uint16Array(constant.attribute![0]!.t!.rawData!.slice().buffer)[0]!), 1.4140625);
    assert.equal(g.initializer!.find((t) => t.name === 'clip_min')!.dataType, DataType.FLOAT16);
    // Only the graph input and output are cast: the whole inside is fp16.
    assert.deepEqual(g.node.filter((n) => n.opType === 'Cast').map((n) => n.input[0] === 'images' || n.output[0] === 'logits'), [true, true]);

    const ref = await run(fp32, X, [N, 3, 16, 16]);
    const got = await run(half, X, [N, 3, 16, 16]);
    assert.ok(maxDiff(ref, got) < 3e-2 * maxAbs(ref), `max diff ${maxDiff(ref, got)} vs max ${maxAbs(ref)}`);
  });

  test('keepNodes keeps a node in float32; large weights are clamped to the fp16 range', async () => {
    const b = new GraphBuilder(3);
    const x = b.input('x', ['N', 4]);
    const w = b.init('w', [4, 2], [1e6, -1e6, 1, 2, 3, 4, 5, 6]);
    const y = b.op('MatMul', [x, w], {}, 'mm');
    b.nodes.push({ name: 'act', opType: 'Relu', input: [y], output: ['y'] });
    b.output('y');
    const half = convertToFloat16(b.model(13), { fp16Ops: 'all', keepNodes: ['act'] });
    assert.deepEqual(Array.from(readFloats(half.graph.initializer![0]!).slice(0, 3)), [65504, -65504, 1]);
    const relu = half.graph.node.find((n) => n.name === 'act')!;
    const castIn = half.graph.node.find((n) => n.output[0] === relu.input[0])!;
    assert.equal(castIn.opType, 'Cast');
    assert.equal(relu.output[0], 'y'); // float32 node writes the graph output directly
    const out = await run(half, Float32Array.of(0, 0, 1, 0), [1, 4]);
    assert.deepEqual(Array.from(out), [3, 4]);
    // A model without a Kestrel contract keeps its metadata untouched.
    assert.equal(half.metadataProps?.length ?? 0, 0);
  });

  test("ops of other domains stay float32 even with 'all' (contrib kernels may lack fp16)", async () => {
    const b = new GraphBuilder(2);
    const h = b.op('MatMul', [b.input('x', ['N', 4]), b.randn('w', [4, 4], 0.5)]);
    b.nodes.push({ name: 'gelu', opType: 'Gelu', domain: 'com.microsoft', input: [h], output: ['y'] });
    b.output('y');
    const m = { ...b.model(17), opsetImport: [{ domain: '', version: 17 }, { domain: 'com.microsoft', version: 1 }] };
    const half = convertToFloat16(m, { fp16Ops: 'all' });
    const gelu = half.graph.node.find((n) => n.name === 'gelu')!;
    assert.equal(half.graph.node.find((n) => n.output[0] === gelu.input[0])!.opType, 'Cast'); // back to float32 after the fp16 MatMul
    assert.equal(gelu.output[0], 'y');
    const x = Float32Array.of(1, -2, 0.5, 3);
    const [ref, got] = [await run(m, x, [1, 4]), await run(half, x, [1, 4])];
    assert.ok(maxDiff(ref, got) < 1e-2 * maxAbs(ref));
  });

  test('onnx.checker accepts the converted models', { skip: !hasOnnxPython() && 'needs /usr/bin/python3 with onnx' }, () => {
    assert.equal(onnxCheck(convertToFloat16(fp32)), '');
    assert.equal(onnxCheck(convertToFloat16(fp32, { fp16Ops: 'all' })), '');
  });

  test('control-flow models are refused with a one-line error', () => {
    const b = new GraphBuilder();
    b.input('c', [], DataType.BOOL);
    b.node('If', ['c'], {}, { out: ['y'] });
    b.nodes[0]!.attribute = [{ name: 'then_branch', type: 5, g: { name: 't', node: [], input: [], output: [] } }];
    assert.throws(() => convertToFloat16(b.model()), /convertToFloat16 does not support control-flow nodes with subgraphs \(If "if_0"\)/);
  });
});

/** One node of each op with fp16 inputs, to see whether ORT's CPU provider runs it natively. */
function singleOp(op: string, opset: number): ModelProto {
  const b = new GraphBuilder();
  const x = b.input('x', [1, 2, 4, 4], DataType.FLOAT16);
  const half = (name: string, dims: number[], v: number) => {
    b.inits.push({ name, dataType: DataType.FLOAT16, dims, int32Data: Array(dims.reduce((p, d) => p * d, 1)).fill(v === 1 ? 0x3c00 : 0) });
    return name;
  };
  const special: Record<string, () => string[]> = {
    LayerNormalization: () => [x, half('s', [4], 1), half('b', [4], 0)],
    Reshape: () => [x, b.ints('shape', [1, -1])],
    Squeeze: () => [x, b.ints('axes', [0])],
    Unsqueeze: () => [x, b.ints('axes', [0])],
    Slice: () => [x, b.ints('starts', [0]), b.ints('ends', [1])],
    Split: () => [x, b.ints('split', [1, 1])],
    Gather: () => [x, b.ints('idx', [0])],
    GatherElements: () => [x, b.init('idx', [1, 2, 4, 4], new BigInt64Array(32))],
    Expand: () => [x, b.ints('shape', [2, 2, 4, 4])],
    Concat: () => [x, x],
    Max: () => [x, x],
    Min: () => [x, x],
    Add: () => [x, x],
    Mul: () => [x, x],
    MatMul: () => [x, x],
    Conv: () => [x, half('w', [2, 2, 3, 3], 1)],
    Gemm: () => [b.op('Flatten', [x]), half('w', [32, 32], 1)],
    BatchNormalization: () => [x, half('s', [2], 1), half('b', [2], 0), half('m', [2], 0), half('v', [2], 1)],
  };
  const attrs: Record<string, Record<string, number | number[]>> = {
    Cast: { to: DataType.FLOAT16 }, Split: { axis: 1 }, Concat: { axis: 1 }, Gather: { axis: 1 }, Softmax: { axis: -1 },
    MaxPool: { kernel_shape: [2, 2] }, AveragePool: { kernel_shape: [2, 2] }, Transpose: { perm: [0, 2, 3, 1] },
  };
  const outs = b.node(op, special[op]?.() ?? [x], attrs[op] ?? {}, { outputs: op === 'Split' ? 2 : 1 });
  b.output(outs[0]!, op === 'Shape' ? DataType.INT64 : op === 'IsNaN' ? DataType.BOOL : DataType.FLOAT16);
  return b.model(opset);
}

describe('ORT_CPU_FP16_OPS matches onnxruntime-node CPU kernels', () => {
  const castInserted = async (op: string, opset: number): Promise<boolean> => {
    const ops = await optimizedOps(singleOp(op, opset), 'disabled');
    return ops.filter((o) => o === 'Cast').length > (op === 'Cast' ? 1 : 0);
  };
  for (const opset of [13, 17]) {
    test(`opset ${opset}: listed ops run natively in fp16, common compute ops do not`, async () => {
      const listed = ORT_CPU_FP16_OPS.filter((op) => opset >= 17 || op !== 'LayerNormalization');
      const notNative = [];
      for (const op of listed) if (await castInserted(op, opset)) notNative.push(op);
      assert.deepEqual(notNative, []);
      const native = [];
      for (const op of ['Conv', 'Gemm', 'MatMul', 'BatchNormalization', 'Add', 'Mul', 'Relu', 'Sigmoid', 'Softmax', 'Erf', 'MaxPool', 'AveragePool', 'GlobalAveragePool', ...(opset >= 14 ? ['HardSwish'] : [])]) {
        if (!(await castInserted(op, opset))) native.push(op);
      }
      assert.deepEqual(native, [], 'these now have CPU fp16 kernels: add them to ORT_CPU_FP16_OPS');
    });
  }
});

test('decoded fp16 models survive an encode/decode round trip', () => {
  const half = convertToFloat16(kitchenSink());
  const back = decodeModel(encodeModel(half));
  assert.deepEqual(back.graph.node.map((n) => n.opType), half.graph.node.map((n) => n.opType));
  assert.deepEqual(Array.from(readFloats(back.graph.initializer!.find((t) => t.name === 'proj')!)), Array.from(readFloats(half.graph.initializer!.find((t) => t.name === 'proj')!)));
});
