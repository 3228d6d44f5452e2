// Every nn layer exported alone and run by ONNX Runtime against its own libtorch forward (eval mode),
// at opset 17 and, where the emitted ops differ, 13; plus the builder's naming, shape and error rules.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as nn from '../../src/nn/index.js';
import type { Module } from '../../src/nn/module.js';
import { moduleToOnnx } from '../../src/export/export.js';
import { OnnxGraph, type Dim, type OnnxValue } from '../../src/onnx/graph.js';
import { DataType, decodeModel, encodeModel, toNumber, type ModelProto } from '../../src/onnx/proto.js';
import { manualSeed, noGrad, randint, randn, type Tensor } from '../../src/tensor/index.js';
import { maxAbsDiff, run, session, torchValues } from './ort.js';

type AnyModule = Module<never, unknown>;

interface LayerCase {
  make: () => AnyModule;
  /** Runtime input shape; the graph gets 'N' for dim 0 unless `graph` says otherwise. */
  input: number[];
  graph?: Dim[];
  /** Opsets to export at (default [17]). */
  opsets?: number[];
  int64?: number;
}

const TOL = 1e-5;

const CASES: Record<string, LayerCase> = {
  'Linear 2-D': { make: () => new nn.Linear(6, 4), input: [3, 6] },
  'Linear 3-D (Gemm between reshapes)': { make: () => new nn.Linear(6, 4), input: [2, 5, 6] },
  'Linear without bias': { make: () => new nn.Linear(6, 4, { bias: false }), input: [2, 6] },
  'Conv2d 3×3 pad 1': { make: () => new nn.Conv2d(3, 4, 3, { padding: 1 }), input: [2, 3, 9, 9] },
  'Conv2d stride 2, groups 2, no bias': { make: () => new nn.Conv2d(4, 6, 3, { stride: 2, padding: 1, groups: 2, bias: false }), input: [2, 4, 9, 8] },
  'Conv2d dilation 2': { make: () => new nn.Conv2d(3, 4, 3, { dilation: 2, padding: 2 }), input: [2, 3, 10, 10] },
  "Conv2d padding 'same', even kernel": { make: () => new nn.Conv2d(3, 4, 4, { padding: 'same' }), input: [2, 3, 7, 7] },
  "Conv2d padding 'valid'": { make: () => new nn.Conv2d(3, 4, [3, 2], { padding: 'valid' }), input: [2, 3, 7, 7] },
  'ConvTranspose2d stride 2, output padding': { make: () => new nn.ConvTranspose2d(4, 3, 3, { stride: 2, padding: 1, outputPadding: 1 }), input: [2, 4, 5, 5] },
  'ConvTranspose2d groups 2': { make: () => new nn.ConvTranspose2d(4, 6, 2, { stride: 2, groups: 2 }), input: [2, 4, 3, 3] },
  BatchNorm2d: { make: () => new nn.BatchNorm2d(4), input: [2, 4, 5, 5] },
  'BatchNorm2d without affine': { make: () => new nn.BatchNorm2d(4, { affine: false, eps: 1e-3 }), input: [2, 4, 5, 5] },
  LayerNorm: { make: () => new nn.LayerNorm(8), input: [2, 5, 8], opsets: [13, 17] },
  'LayerNorm over two dims, no bias': { make: () => new nn.LayerNorm([4, 8], { bias: false, eps: 1e-6 }), input: [2, 4, 8], opsets: [13, 17] },
  GroupNorm: { make: () => new nn.GroupNorm(2, 4), input: [2, 4, 5, 5] },
  ReLU: { make: () => new nn.ReLU(), input: [2, 3, 4, 4] },
  ReLU6: { make: () => new nn.ReLU6(), input: [2, 3, 4, 4] },
  'LeakyReLU 0.2': { make: () => new nn.LeakyReLU(0.2), input: [2, 3, 4, 4] },
  GELU: { make: () => new nn.GELU(), input: [2, 3, 4, 4] },
  'GELU tanh': { make: () => new nn.GELU('tanh'), input: [2, 3, 4, 4] },
  SiLU: { make: () => new nn.SiLU(), input: [2, 3, 4, 4] },
  Hardswish: { make: () => new nn.Hardswish(), input: [2, 3, 4, 4], opsets: [13, 17] },
  Hardsigmoid: { make: () => new nn.Hardsigmoid(), input: [2, 3, 4, 4] },
  Sigmoid: { make: () => new nn.Sigmoid(), input: [2, 3, 4, 4] },
  Tanh: { make: () => new nn.Tanh(), input: [2, 3, 4, 4] },
  Mish: { make: () => new nn.Mish(), input: [2, 3, 4, 4] },
  Softmax: { make: () => new nn.Softmax(1), input: [2, 5, 3] },
  'Dropout (identity in eval)': { make: () => new nn.Dropout(0.5).train(), input: [2, 6] },
  'StochasticDepth (identity in eval)': { make: () => new nn.StochasticDepth(0.5).train(), input: [2, 3, 4, 4] },
  Identity: { make: () => new nn.Identity(), input: [2, 6] },
  Flatten: { make: () => new nn.Flatten(), input: [2, 3, 4, 5] },
  'Flatten(1, 2)': { make: () => new nn.Flatten(1, 2), input: [2, 3, 4, 5] },
  'MaxPool2d 3, stride 2, pad 1': { make: () => new nn.MaxPool2d(3, { stride: 2, padding: 1 }), input: [2, 3, 9, 8] },
  'MaxPool2d ceil mode': { make: () => new nn.MaxPool2d(2, { ceilMode: true }), input: [2, 3, 7, 7] },
  'MaxPool2d ceil mode, last window dropped': { make: () => new nn.MaxPool2d(3, { stride: 2, padding: 1, ceilMode: true }), input: [2, 3, 8, 8] },
  'MaxPool2d dilation 2': { make: () => new nn.MaxPool2d(2, { stride: 1, dilation: 2 }), input: [2, 3, 6, 6] },
  'AvgPool2d counting padding': { make: () => new nn.AvgPool2d(3, { stride: 2, padding: 1 }), input: [2, 3, 9, 9] },
  'AvgPool2d not counting padding': { make: () => new nn.AvgPool2d(3, { stride: 2, padding: 1, countIncludePad: false }), input: [2, 3, 9, 9] },
  'AdaptiveAvgPool2d 1': { make: () => new nn.AdaptiveAvgPool2d(1), input: [2, 3, 5, 7] },
  'AdaptiveAvgPool2d 2 (divides)': { make: () => new nn.AdaptiveAvgPool2d(2), input: [2, 3, 6, 6] },
  'AdaptiveAvgPool2d 4 on 7×7 (overlapping windows)': { make: () => new nn.AdaptiveAvgPool2d(4), input: [2, 3, 7, 7] },
  'AdaptiveAvgPool2d [3, 2] on 7×5': { make: () => new nn.AdaptiveAvgPool2d([3, 2]), input: [2, 3, 7, 5] },
  Sequential: { make: () => new nn.Sequential(new nn.Conv2d(3, 4, 3), new nn.BatchNorm2d(4), new nn.ReLU(), new nn.Flatten(), new nn.Linear(4 * 25, 3)), input: [2, 3, 7, 7] },
  Embedding: { make: () => new nn.Embedding(10, 4), input: [2, 3], int64: 10 },
  'MultiheadAttention (self)': { make: () => new nn.MultiheadAttention(8, 2), input: [5, 2, 8], graph: [5, 'N', 8] },
  'MultiheadAttention batch first': { make: () => new nn.MultiheadAttention(8, 2, { batchFirst: true }), input: [2, 5, 8] },
};

/** Non-trivial norm statistics and affine parameters, so a mix-up of mean, var, scale or bias shows. */
function perturb(m: AnyModule): void {
  noGrad(() => {
    for (const [k, t] of m.namedBuffers()) {
      if (k.endsWith('running_mean')) t.uniform_(-0.5, 0.5);
      if (k.endsWith('running_var')) t.uniform_(0.5, 2);
    }
    for (const [, mod] of m.namedModules()) {
      if (mod instanceof nn.BatchNorm2d || mod instanceof nn.LayerNorm || mod instanceof nn.GroupNorm) {
        mod.weight?.uniform_(0.5, 1.5);
        mod.bias?.uniform_(-0.5, 0.5);
      }
    }
  });
}

/** forward() on one input; attention gets it as query, key and value, and gives its output. */
function call(m: AnyModule, x: Tensor): Tensor {
  if (m instanceof nn.MultiheadAttention) return m.forward(x, x, x).output;
  return (m as unknown as { forward(a: Tensor): Tensor }).forward(x);
}

describe('every nn layer exports to ONNX and matches libtorch', () => {
  for (const [name, c] of Object.entries(CASES)) {
    for (const opset of c.opsets ?? [17]) {
      it(`${name}${c.opsets ? ` (opset ${opset})` : ''}`, async () => {
        manualSeed(1);
        const m = c.make();
        perturb(m);
        const x = c.int64 ? randint(0, c.int64, c.input) : randn(c.input);
        try {
          const expected = torchValues(() => call((m as unknown as { eval(): AnyModule }).eval(), x));
          const shape = c.graph ?? ['N', ...c.input.slice(1)];
          const proto = moduleToOnnx(m, [{ name: 'x', shape, ...(c.int64 ? { dtype: DataType.INT64 } : {}) }], { opset });
          const s = await session(encodeModel(proto));
          const got = await run(s, { x });
          const d = maxAbsDiff(got.data, expected);
          assert.ok(d <= TOL, `max abs diff ${d} > ${TOL}`);
          assert.equal(got.data.length, expected.length);
        } finally {
          x.dispose();
          m.dispose();
        }
      });
    }
  }

  it('MultiheadAttention with separate query, key and value (cross-attention)', async () => {
    manualSeed(2);
    const m = new nn.MultiheadAttention(8, 4);
    const [q, k, v] = [randn([4, 2, 8]), randn([3, 2, 8]), randn([3, 2, 8])];
    const expected = torchValues(() => m.eval().forward(q, k, v).output);
    const proto = moduleToOnnx(m, [{ name: 'q', shape: [4, 'N', 8] }, { name: 'k', shape: [3, 'N', 8] }, { name: 'v', shape: [3, 'N', 8] }]);
    const got = await run(await session(encodeModel(proto)), { q, k, v });
    assert.deepEqual(got.dims, [4, 2, 8]);
    assert.ok(maxAbsDiff(got.data, expected) <= TOL, `max abs diff ${maxAbsDiff(got.data, expected)}`);
    for (const t of [q, k, v]) t.dispose();
    m.dispose();
  });
});

const nodes = (p: ModelProto, op: string): ModelProto['graph']['node'] => p.graph.node.filter((n) => n.opType === op);
const initializer = (p: ModelProto, name: string): number[] => {
  const t = p.graph.initializer!.find((i) => i.name === name)!;
  const raw = t.rawData!;
  return Array.from(new BigInt64Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength)), Number);
};

describe('the ONNX graph builder', () => {
  it('names initializers by state-dict key and nodes by module path', () => {
    const m = new nn.Sequential(new nn.Conv2d(3, 4, 3), new nn.BatchNorm2d(4), new nn.ReLU());
    const p = decodeModel(encodeModel(moduleToOnnx(m, [{ name: 'x', shape: ['N', 3, 8, 8] }])));
    assert.deepEqual(p.graph.initializer!.map((i) => i.name).sort(), ['0.bias', '0.weight', '1.bias', '1.running_mean', '1.running_var', '1.weight']);
    assert.deepEqual(p.graph.node.map((n) => n.name), ['0/Conv', '1/BatchNormalization', '2/Relu']);
    assert.deepEqual(p.graph.node.map((n) => n.opType), ['Conv', 'BatchNormalization', 'Relu']);
    assert.equal(p.graph.output[0]!.name, 'output');
    assert.deepEqual(p.graph.output[0]!.type!.tensorType!.shape!.dim.map((d) => d.dimParam ?? toNumber(d.dimValue)), ['N', 4, 6, 6]);
    m.dispose();
  });

  it('keeps a dynamic batch dynamic: Reshape targets copy (0) or infer (-1) it', () => {
    const m = new nn.Sequential(new nn.Flatten(1, 2), new nn.Linear(5, 2));
    const p = moduleToOnnx(m, [{ name: 'x', shape: ['N', 3, 4, 5] }]);
    const targets = nodes(p, 'Reshape').map((n) => initializer(p, n.input[1]!));
    // flatten(1, 2) → [N, 12, 5]; Linear on 3-D: [N·12, 5] → Gemm → [N, 12, 2]
    assert.deepEqual(targets, [[0, 12, 5], [-1, 5], [-1, 12, 2]]);
    assert.equal(nodes(p, 'Gemm').length, 1);
    m.dispose();
  });

  it('a module without an emitter fails with its class and path', () => {
    class Custom extends nn.Module {
      forward(x: Tensor): Tensor {
        return x;
      }
    }
    const m = new nn.Sequential(new nn.ReLU(), new Custom());
    assert.throws(() => moduleToOnnx(m, [{ name: 'x', shape: [1, 3] }]), {
      message: "ONNX export of '1' (Custom): Custom has no ONNX export: implement its onnx(g, x) method (see Module.toOnnx)",
    });
  });

  it('refuses what eval mode cannot express, naming the layer', () => {
    const bn = new nn.Sequential(new nn.BatchNorm2d(3, { trackRunningStats: false }));
    assert.throws(() => moduleToOnnx(bn, [{ name: 'x', shape: [1, 3, 4, 4] }]), /'0' \(BatchNorm2d\): BatchNorm2d without running statistics/);
    const pool = new nn.AvgPool2d(2, { divisorOverride: 3 });
    assert.throws(() => moduleToOnnx(pool, [{ name: 'x', shape: [1, 3, 4, 4] }]), /AvgPool2d with divisorOverride has no ONNX equivalent/);
    const lin = new nn.Linear(4, 2);
    assert.throws(() => moduleToOnnx(lin, [{ name: 'x', shape: [1, 5] }]), { message: 'ONNX export of the model (Linear): Gemm: [1, 5] × [2, 4]ᵀ inner sizes differ' });
    lin.dispose();
  });

  it('accepts opsets 13–17 only', () => {
    assert.throws(() => new OnnxGraph({ opset: 12 }), /ONNX opset 12 is not supported; use 13 to 17/);
    assert.throws(() => new OnnxGraph({ opset: 18 }), /use 13 to 17/);
    assert.equal(new OnnxGraph({ opset: 13 }).opset, 13);
  });

  it('tracks shapes through the ops, symbols included', () => {
    const g = new OnnxGraph();
    const x = g.input('x', ['N', 3, 8, 8]);
    const w = g.floats(new Array(4 * 3 * 9).fill(0), [4, 3, 3, 3], 'w');
    const y = g.op('Conv', [x, w, null], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] });
    assert.deepEqual(y.shape, ['N', 4, 4, 4]);
    const flat: OnnxValue = g.op('Flatten', [y], { axis: 1 });
    assert.deepEqual(flat.shape, ['N', 64]);
    assert.deepEqual(g.reshape(y, ['N', 4, 16]).shape, ['N', 4, 16]);
    assert.deepEqual(g.op('Transpose', [y], { perm: [0, 2, 3, 1] }).shape, ['N', 4, 4, 4]);
    assert.throws(() => g.op('Add', [y, g.floats([1, 2, 3], [3], 'b')]), /do not broadcast/);
    assert.throws(() => g.op('NoSuchOp', [y]), /no shape rule for ONNX op NoSuchOp/);
  });
});
