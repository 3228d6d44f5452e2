/**
 * The TF ops with weights or windows — convolutions (plain, depthwise, transposed, with the
 * converter's fused bias and activation), pooling, bilinear resizing, batch norm and matmul — as
 * ONNX's NCHW nodes. TF's SAME padding is turned into explicit pads from the static input size.
 */
import type { OnnxValue } from '../onnx/graph.js';
import { TfjsError } from './model-json.js';
import { attrs, constOf, type OpContext } from './op-context.js';
import { identity, NCHW, permuteData, type TfValue } from './tf-values.js';

/** ONNX's order for the node's data format, and where the spatial dims sit in TF's attribute lists. */
function layout(c: OpContext): { perm: number[]; spatial: [number, number] } {
  const nchw = attrs.str(c.node, 'data_format', 'NHWC') === 'NCHW';
  return nchw ? { perm: identity(4), spatial: [2, 3] } : { perm: NCHW, spatial: [1, 2] };
}

const pick = (list: number[] | undefined, at: [number, number], d: number): [number, number] => (list && list.length === 4 ? [list[at[0]]!, list[at[1]]!] : [d, d]);

/** [top, left, bottom, right] pads for TF's padding mode on a static input. */
function pads(c: OpContext, size: number[], kernel: number[], strides: number[], dil: number[], at: [number, number]): number[] {
  const mode = attrs.str(c.node, 'padding', 'VALID');
  if (mode === 'VALID') return [0, 0, 0, 0];
  if (mode === 'EXPLICIT') {
    const p = attrs.ints(c.node, 'explicit_paddings') ?? [];
    return [p[2 * at[0]]!, p[2 * at[1]]!, p[2 * at[0] + 1]!, p[2 * at[1] + 1]!];
  }
  const before: number[] = [];
  const after: number[] = [];
  size.forEach((n, i) => {
    const out = Math.ceil(n / strides[i]!);
    const total = Math.max((out - 1) * strides[i]! + (kernel[i]! - 1) * dil[i]! + 1 - n, 0);
    before.push(Math.floor(total / 2));
    after.push(total - Math.floor(total / 2));
  });
  return [...before, ...after];
}

function constInput(c: OpContext, i: number, what: string): NonNullable<TfValue['const']> {
  const x = c.inputs[i];
  if (!x?.const) throw new TfjsError(`${c.node.op} '${c.node.name}': its ${what} must be a constant`);
  return x.const;
}

/** The activations the TF.js converter fuses into a convolution or matmul, after the bias. */
function fusedTail(c: OpContext, v: OnnxValue, ops: string[], args: TfValue[], perm: number[]): OnnxValue {
  let out = v;
  for (const op of ops.slice(1)) {
    switch (op) {
      case 'Relu': out = c.g.op('Relu', [out]); break;
      case 'Relu6': out = c.g.op('Clip', [out, c.g.scalar(0), c.g.scalar(6)]); break;
      case 'Elu': out = c.g.op('Elu', [out], { alpha: { float: 1 } }); break;
      case 'Sigmoid': out = c.g.op('Sigmoid', [out]); break;
      case 'Tanh': out = c.g.op('Tanh', [out]); break;
      case 'LeakyRelu': out = c.g.op('LeakyRelu', [out], { alpha: { float: attrs.float(c.node, 'leakyrelu_alpha', 0.2) } }); break;
      case 'Prelu': out = c.g.op('PRelu', [out, c.vals.broadcastAs(args[1]!, perm.length, perm)]); break;
      default: throw new TfjsError(`${c.node.op} '${c.node.name}': fused op ${op} is not supported`);
    }
  }
  return out;
}

function fusedOps(c: OpContext): string[] {
  const ops = attrs.strs(c.node, 'fused_ops');
  if (ops.length > 0 && ops[0] !== 'BiasAdd') throw new TfjsError(`${c.node.op} '${c.node.name}': fused ${ops[0]} is not supported (only BiasAdd first)`);
  return ops;
}

/** Conv2D, DepthwiseConv2dNative and their fused forms. */
export function conv2d(c: OpContext): TfValue {
  const { perm, spatial } = layout(c);
  const x = c.inputs[0]!;
  const f = constInput(c, 1, 'filter');
  const [kh, kw, cin, cout] = f.shape as [number, number, number, number];
  const depthwise = c.node.op.includes('Depthwise');
  const w = depthwise
    ? c.g.floats(permuteData(f.data, f.shape, [2, 3, 0, 1]), [cin * cout, 1, kh, kw], 'weight')
    : c.g.floats(permuteData(f.data, f.shape, [3, 2, 0, 1]), [cout, cin, kh, kw], 'weight');
  const xin = c.vals.as(x, perm);
  const channels = x.shape[perm[1]!]!;
  const group = depthwise ? cin : channels / cin;
  const strides = pick(attrs.ints(c.node, 'strides'), spatial, 1);
  const dil = pick(attrs.ints(c.node, 'dilations'), spatial, 1);
  const size = spatial.map((s) => x.shape[s]!);
  const ops = fusedOps(c);
  const args = c.inputs.slice(2);
  const bias = ops[0] === 'BiasAdd' ? c.vals.as(args[0]!) : null;
  const out = c.g.op('Conv', [xin, w, bias], {
    kernel_shape: [kh, kw], strides, dilations: dil, group, pads: pads(c, size, [kh, kw], strides, dil, spatial),
  });
  return c.vals.wrap(fusedTail(c, out, ops, args, perm), perm);
}

/** Conv2DBackpropInput (a transposed convolution), whose first input is the output's shape. */
export function convTranspose(c: OpContext): TfValue {
  const { perm, spatial } = layout(c);
  const outShape = constOf(c, 0, 'output shape');
  const f = constInput(c, 1, 'filter');
  const x = c.inputs[2]!;
  const [kh, kw, cout, cin] = f.shape as [number, number, number, number];
  const w = c.g.floats(permuteData(f.data, f.shape, [3, 2, 0, 1]), [cin, cout, kh, kw], 'weight');
  const strides = pick(attrs.ints(c.node, 'strides'), spatial, 1);
  const dil = pick(attrs.ints(c.node, 'dilations'), spatial, 1);
  const same = attrs.str(c.node, 'padding') === 'SAME';
  const begin: number[] = [];
  const end: number[] = [];
  const extra: number[] = [];
  [kh, kw].forEach((k, i) => {
    const [n, out, s, d] = [x.shape[spatial[i]!]!, outShape[spatial[i]!]!, strides[i]!, dil[i]!];
    // TF pads the forward convolution (out → n); ONNX states the padding of the transposed one.
    const span = (k - 1) * d + 1;
    const before = same ? Math.floor(Math.max((n - 1) * s + span - out, 0) / 2) : 0;
    const after = s * (n - 1) + span - out - before;
    begin.push(before);
    end.push(Math.max(after, 0));
    extra.push(Math.max(-after, 0));
  });
  const out = c.g.op('ConvTranspose', [c.vals.as(x, perm), w], {
    kernel_shape: [kh, kw], strides, dilations: dil, pads: [...begin, ...end], output_padding: extra,
  });
  return c.vals.wrap(out, perm);
}

export function pool(kind: 'MaxPool' | 'AveragePool') {
  return (c: OpContext): TfValue => {
    const { perm, spatial } = layout(c);
    const x = c.inputs[0]!;
    const k = pick(attrs.ints(c.node, 'ksize'), spatial, 1);
    const strides = pick(attrs.ints(c.node, 'strides'), spatial, 1);
    const size = spatial.map((s) => x.shape[s]!);
    const out = c.g.op(kind, [c.vals.as(x, perm)], { kernel_shape: k, strides, pads: pads(c, size, k, strides, [1, 1], spatial) });
    return c.vals.wrap(out, perm);
  };
}

export function resizeBilinear(c: OpContext): TfValue {
  const x = c.inputs[0]!;
  const [h, w] = constOf(c, 1, 'size');
  const xin = c.vals.as(x, NCHW);
  const mode = attrs.bool(c.node, 'align_corners') ? 'align_corners' : attrs.bool(c.node, 'half_pixel_centers') ? 'half_pixel' : 'asymmetric';
  const sizes = c.g.ints([xin.shape[0] as number, xin.shape[1] as number, h!, w!]);
  return c.vals.wrap(c.g.op('Resize', [xin, null, null, sizes], { mode: 'linear', coordinate_transformation_mode: mode }), NCHW);
}

export function fusedBatchNorm(c: OpContext): TfValue {
  const { perm } = layout(c);
  const [x, ...params] = c.inputs;
  const out = c.g.op('BatchNormalization', [c.vals.as(x!, perm), ...params.slice(0, 4).map((p) => c.vals.as(p))], { epsilon: { float: attrs.float(c.node, 'epsilon', 1e-3) } });
  return c.vals.wrap(out, perm);
}

/** MatMul and _FusedMatMul (bias and activation), on matrices. */
export function fusedMatMul(c: OpContext): TfValue {
  const [a, b] = [c.inputs[0]!, c.inputs[1]!];
  if (a.shape.length !== 2 || b.shape.length !== 2) throw new TfjsError(`${c.node.op} '${c.node.name}': only matrices are supported, got [${a.shape.join(',')}] × [${b.shape.join(',')}]`);
  const ops = fusedOps(c);
  const args = c.inputs.slice(2);
  const trans = { transA: attrs.bool(c.node, 'transpose_a') ? 1 : 0, transB: attrs.bool(c.node, 'transpose_b') ? 1 : 0 };
  const bias = ops[0] === 'BiasAdd' ? c.vals.as(args[0]!) : null;
  const out = c.g.op('Gemm', [c.vals.as(a), c.vals.as(b), bias], trans);
  return c.vals.wrap(fusedTail(c, out, ops, args, identity(2)), identity(2));
}
