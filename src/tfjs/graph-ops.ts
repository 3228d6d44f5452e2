/**
 * TensorFlow ops → ONNX nodes, one small function each. Spatial ops run in NCHW, elementwise ops
 * in whatever order their input holds (src/tfjs/tf-values.ts), the rest in TF's own order.
 *
 * The ops of the models Kestrel names, read from their model.json files (Const and Placeholder aside):
 * - human-models centernet: _FusedConv2D, Conv2D, FusedDepthwiseConv2dNative, DepthwiseConv2dNative,
 *   Add, Sub, Mul, Relu, Relu6, Sigmoid, Mean, ResizeBilinear, ConcatV2, MaxPool, Equal, Cast,
 *   Reshape, ExpandDims, TopKV2, FloorDiv, FloorMod, GatherV2, StridedSlice, Identity
 * - human-models nanodet: Conv2D, Add, AddV2, LeakyRelu, Pad, PadV2, MaxPool, Transpose, ConcatV2,
 *   ResizeBilinear, SplitV, Sigmoid, Reshape, SparseToDense (on constants: folded), Identity
 * - human-models blazeface: _FusedConv2D, DepthwiseConv2dNative, AddV2, Relu, MaxPool, Pad, Reshape, Identity
 * - human-models selfie: Conv2D, DepthwiseConv2dNative, Conv2DBackpropInput, Add, AddV2, AddN, Mul,
 *   Relu, Relu6, Sigmoid, AvgPool, ResizeBilinear
 * - nsfwjs mobilenet_v2_mid: _FusedConv2D, FusedDepthwiseConv2dNative, _FusedMatMul, Mul, Sub, AddV2,
 *   AvgPool, Squeeze, Softmax, Identity
 * (nsfwjs' mobilenet_v2 and inception_v3 are layers models: src/tfjs/keras.ts.)
 */
import { DataType } from '../onnx/proto.js';
import type { AttrValue } from '../onnx/graph.js';
import { TfjsError } from './model-json.js';
import { attrs, constOf, type OpContext, type OpFn } from './op-context.js';
import { foldConst } from './fold.js';
import { conv2d, convTranspose, pool, resizeBilinear, fusedBatchNorm, fusedMatMul } from './spatial-ops.js';
import { identity, onnxType, type TfValue } from './tf-values.js';

const axisOf = (a: number, rank: number): number => (a < 0 ? a + rank : a);

function unary(onnx: string, extra: (c: OpContext) => Record<string, AttrValue> = () => ({})): OpFn {
  return (c) => {
    const x = c.inputs[0]!;
    const perm = c.vals.permOf(x);
    return c.vals.wrap(c.g.op(onnx, [c.vals.as(x, perm)], extra(c)), perm, x.kind);
  };
}

/** Elementwise ops broadcast as TF does, in the order of the highest-rank input the graph computes. */
function binary(onnx: string, kind?: TfValue['kind']): OpFn {
  return (c) => {
    const folded = foldConst(c.node.op, c.inputs);
    if (folded) return folded;
    const rank = Math.max(...c.inputs.map((x) => x.shape.length));
    const lead = c.inputs.find((x) => x.onnx && x.shape.length === rank) ?? c.inputs[0]!;
    const perm = rank === lead.shape.length ? c.vals.permOf(lead) : identity(rank);
    const ins = c.inputs.map((x) => c.vals.broadcastAs(x, rank, perm));
    const out = c.g.op(onnx, ins, {}, kind === 'bool' ? { dtype: DataType.BOOL } : {});
    return c.vals.wrap(out, perm, kind ?? lead.kind);
  };
}

function clip(lo: number, hi: number): OpFn {
  return (c) => {
    const x = c.inputs[0]!;
    const perm = c.vals.permOf(x);
    return c.vals.wrap(c.g.op('Clip', [c.vals.as(x, perm), c.g.scalar(lo), c.g.scalar(hi)]), perm);
  };
}

/** The TF ops converted, by name. */
export const OPS: Record<string, OpFn> = {
  Identity: (c) => c.inputs[0]!,
  StopGradient: (c) => c.inputs[0]!,
  Relu: unary('Relu'),
  Relu6: clip(0, 6),
  Sigmoid: unary('Sigmoid'),
  Tanh: unary('Tanh'),
  Exp: unary('Exp'),
  Neg: unary('Neg'),
  Sqrt: unary('Sqrt'),
  Elu: unary('Elu', () => ({ alpha: { float: 1 } })),
  LeakyRelu: unary('LeakyRelu', (c) => ({ alpha: { float: attrs.float(c.node, 'alpha', 0.2) } })),
  Rsqrt: (c) => {
    const x = c.inputs[0]!;
    const perm = c.vals.permOf(x);
    return c.vals.wrap(c.g.op('Reciprocal', [c.g.op('Sqrt', [c.vals.as(x, perm)])]), perm);
  },
  Square: (c) => binary('Mul')({ ...c, inputs: [c.inputs[0]!, c.inputs[0]!] }),
  Add: binary('Add'),
  AddV2: binary('Add'),
  BiasAdd: binary('Add'),
  Sub: binary('Sub'),
  Mul: binary('Mul'),
  RealDiv: binary('Div'),
  Div: binary('Div'),
  Maximum: binary('Max'),
  Minimum: binary('Min'),
  Equal: binary('Equal', 'bool'),
  Greater: binary('Greater', 'bool'),
  Less: binary('Less', 'bool'),
  AddN: binary('Sum'),
  FloorMod: binary('Mod'),
  FloorDiv: (c) => {
    const q = binary('Div')(c) as TfValue;
    if (q.kind === 'int' || q.const) return q;
    const perm = c.vals.permOf(q);
    return c.vals.wrap(c.g.op('Floor', [c.vals.as(q, perm)]), perm);
  },
  Cast: (c) => {
    const folded = foldConst('Cast', c.inputs, attrs.type(c.node, 'DstT'));
    if (folded) return folded;
    const x = c.inputs[0]!;
    const dst = attrs.type(c.node, 'DstT');
    const kind: TfValue['kind'] = dst === 'DT_FLOAT' ? 'float' : dst === 'DT_BOOL' ? 'bool' : 'int';
    const perm = c.vals.permOf(x);
    return c.vals.wrap(c.g.op('Cast', [c.vals.as(x, perm)], { to: onnxType(kind) }), perm, kind);
  },
  Softmax: (c) => {
    const x = c.inputs[0]!;
    const perm = c.vals.permOf(x);
    return c.vals.wrap(c.g.op('Softmax', [c.vals.as(x, perm)], { axis: perm.indexOf(x.shape.length - 1) }), perm);
  },
  Mean: (c) => {
    const x = c.inputs[0]!;
    const perm = c.vals.permOf(x);
    const axes = constOf(c, 1, 'reduction axes').map((a) => axisOf(a, x.shape.length));
    const keep = attrs.bool(c.node, 'keep_dims');
    const out = c.g.op('ReduceMean', [c.vals.as(x, perm)], { axes: axes.map((a) => perm.indexOf(a)), keepdims: keep ? 1 : 0 });
    if (keep) return c.vals.wrap(out, perm);
    const kept = perm.filter((p) => !axes.includes(p));
    return c.vals.wrap(out, kept.map((p) => kept.slice().sort((a, b) => a - b).indexOf(p)));
  },
  ConcatV2: (c) => {
    const parts = c.inputs.slice(0, -1);
    const rank = parts[0]!.shape.length;
    const ax = axisOf(constOf(c, c.inputs.length - 1, 'axis')[0]!, rank);
    const lead = parts.find((x) => x.onnx) ?? parts[0]!;
    const perm = c.vals.permOf(lead);
    return c.vals.wrap(c.g.op('Concat', parts.map((x) => c.vals.as(x, perm)), { axis: perm.indexOf(ax) }), perm, lead.kind);
  },
  Pad: (c) => pad(c, 0),
  PadV2: (c) => pad(c, constOf(c, 2, 'padding value')[0]!),
  Transpose: (c) => {
    const x = c.inputs[0]!;
    const p = constOf(c, 1, 'permutation');
    if (x.const) return foldConst('Transpose', c.inputs)!;
    // y = transpose(x, p): y's dim j is x's dim p[j]; the stored value's dim k is x's dim have[k] = y's dim p⁻¹[have[k]].
    const have = c.vals.permOf(x);
    const stored = c.vals.as(x, have);
    return c.vals.wrap(stored, have.map((h) => p.indexOf(h)), x.kind);
  },
  Reshape: (c) => {
    const folded = foldConst('Reshape', c.inputs);
    if (folded) return folded;
    const x = c.inputs[0]!;
    return c.vals.wrap(c.g.op('Reshape', [c.vals.as(x), c.g.ints(constOf(c, 1, 'shape'))]), identity(constOf(c, 1, 'shape').length), x.kind);
  },
  ExpandDims: (c) => {
    const x = c.inputs[0]!;
    const ax = axisOf(constOf(c, 1, 'axis')[0]!, x.shape.length + 1);
    return c.vals.wrap(c.g.op('Unsqueeze', [c.vals.as(x), c.g.ints([ax])]), identity(x.shape.length + 1), x.kind);
  },
  Squeeze: (c) => {
    const x = c.inputs[0]!;
    const dims = attrs.ints(c.node, 'squeeze_dims') ?? attrs.ints(c.node, 'axis') ?? [];
    const axes = dims.length > 0 ? dims.map((a) => axisOf(a, x.shape.length)) : x.shape.flatMap((d, i) => (d === 1 ? [i] : []));
    return c.vals.wrap(c.g.op('Squeeze', [c.vals.as(x), c.g.ints(axes)]), identity(x.shape.length - axes.length), x.kind);
  },
  GatherV2: (c) => {
    const [x, idx] = [c.inputs[0]!, c.inputs[1]!];
    const ax = axisOf(constOf(c, 2, 'axis')[0]!, x.shape.length);
    if (attrs.int(c.node, 'batch_dims') !== 0) throw new TfjsError(`GatherV2 '${c.node.name}': batch_dims is not supported`);
    const out = c.g.op('Gather', [c.vals.as(x), c.vals.as(idx)], { axis: ax });
    return c.vals.wrap(out, identity(out.shape.length), x.kind);
  },
  TopKV2: (c) => {
    const x = c.inputs[0]!;
    const k = constOf(c, 1, 'k')[0]!;
    const shape = [...x.shape.slice(0, -1), k];
    const [values, indices] = c.g.opN('TopK', [c.vals.as(x), c.g.ints([k])], { axis: -1, largest: 1, sorted: 1 }, [
      { shape, dtype: onnxType(x.kind) },
      { shape, dtype: DataType.INT64 },
    ]);
    return [c.vals.wrap(values!, identity(shape.length), x.kind), c.vals.wrap(indices!, identity(shape.length), 'int')];
  },
  SplitV: (c) => split(c, constOf(c, 1, 'sizes'), constOf(c, 2, 'axis')[0]!, 0),
  Split: (c) => {
    const x = c.inputs[1]!;
    const ax = axisOf(constOf(c, 0, 'axis')[0]!, x.shape.length);
    const n = attrs.int(c.node, 'num_split', 1);
    return split(c, Array<number>(n).fill(x.shape[ax]! / n), ax, 1);
  },
  StridedSlice: stridedSlice,
  SparseToDense: (c) => {
    const folded = foldConst('SparseToDense', c.inputs);
    if (!folded) throw new TfjsError(`SparseToDense '${c.node.name}': only constant inputs are supported`);
    return folded;
  },
  Conv2D: conv2d,
  _FusedConv2D: conv2d,
  DepthwiseConv2dNative: conv2d,
  FusedDepthwiseConv2dNative: conv2d,
  Conv2DBackpropInput: convTranspose,
  MaxPool: pool('MaxPool'),
  AvgPool: pool('AveragePool'),
  ResizeBilinear: resizeBilinear,
  FusedBatchNorm: fusedBatchNorm,
  FusedBatchNormV3: fusedBatchNorm,
  MatMul: fusedMatMul,
  _FusedMatMul: fusedMatMul,
};

function pad(c: OpContext, value: number): TfValue {
  const x = c.inputs[0]!;
  const p = constOf(c, 1, 'paddings');
  const perm = c.vals.permOf(x);
  const rank = x.shape.length;
  const pads = [...perm.map((d) => p[2 * d]!), ...perm.map((d) => p[2 * d + 1]!)];
  return c.vals.wrap(c.g.op('Pad', [c.vals.as(x, perm), c.g.ints(pads), value === 0 ? null : c.g.scalar(value)], { mode: 'constant' }), perm.slice(0, rank), x.kind);
}

function split(c: OpContext, sizes: number[], axis: number, dataInput: number): TfValue[] {
  const x = c.inputs[dataInput]!;
  const ax = axisOf(axis, x.shape.length);
  const rest = x.shape[ax]! - sizes.reduce((a, b) => a + (b < 0 ? 0 : b), 0);
  const full = sizes.map((s) => (s < 0 ? rest : s));
  const perm = c.vals.permOf(x);
  const k = perm.indexOf(ax);
  const stored = c.vals.as(x, perm);
  const outs = c.g.opN('Split', [stored, c.g.ints(full)], { axis: k }, full.map((s) => ({ shape: stored.shape.map((d, i) => (i === k ? s : d)), dtype: stored.dtype })));
  return outs.map((o) => c.vals.wrap(o, perm, x.kind));
}

/** StridedSlice with begin/end/shrink masks (the forms converters write); ellipsis and new axes are refused. */
function stridedSlice(c: OpContext): TfValue {
  const x = c.inputs[0]!;
  const [begin, end, strides] = [constOf(c, 1, 'begin'), constOf(c, 2, 'end'), constOf(c, 3, 'strides')];
  const [bm, em, sm] = ['begin_mask', 'end_mask', 'shrink_axis_mask'].map((k) => attrs.int(c.node, k));
  if (attrs.int(c.node, 'ellipsis_mask') || attrs.int(c.node, 'new_axis_mask')) throw new TfjsError(`StridedSlice '${c.node.name}': ellipsis and new-axis masks are not supported`);
  const starts: number[] = [];
  const ends: number[] = [];
  const shape = [...x.shape];
  begin.forEach((b, i) => {
    const size = x.shape[i]!;
    const step = strides[i]!;
    if (step !== 1) throw new TfjsError(`StridedSlice '${c.node.name}': only stride 1 is supported`);
    const clamp = (v: number): number => Math.min(Math.max(v < 0 ? v + size : v, 0), size);
    let s = bm & (1 << i) ? 0 : clamp(b);
    let e = em & (1 << i) ? size : clamp(end[i]!);
    if (sm & (1 << i)) {
      s = clamp(b);
      e = s + 1;
    }
    starts.push(s);
    ends.push(e);
    shape[i] = Math.max(0, e - s);
  });
  const axes = identity(begin.length);
  let out = c.g.op('Slice', [c.vals.as(x), c.g.ints(starts), c.g.ints(ends), c.g.ints(axes)]);
  const shrink = axes.filter((i) => sm & (1 << i));
  if (shrink.length > 0) out = c.g.op('Squeeze', [out, c.g.ints(shrink)]);
  return c.vals.wrap(out, identity(out.shape.length), x.kind);
}
