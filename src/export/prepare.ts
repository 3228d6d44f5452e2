/**
 * Graph clean-ups before quantization, as ONNX Runtime's basic optimizations would do them: Identity
 * nodes go, Constant nodes become initializers (exporters emit weight-like tensors, such as a pooling matrix, either
 * way), and inference BatchNormalization is folded into the Conv before it (w' = w·γ/√(σ²+ε),
 * b' = (b − μ)·γ/√(σ²+ε) + β), so the quantizer sees one Conv with one set of weights to quantize
 * and one output to calibrate.
 */
import { DataType, type GraphProto, type NodeProto, type TensorProto } from '../onnx/proto.js';
import { attrFloat, attrInt, dimsOf, graphNames, makeTensor, NameScope, readFloats } from '../onnx/tensor-data.js';

/** Returns the graph with every foldable Conv → BatchNormalization pair merged (or the same graph). */
export function foldBatchNorm(g: GraphProto): GraphProto {
  const inits = new Map((g.initializer ?? []).map((t) => [t.name ?? '', t]));
  const consumers = new Map<string, NodeProto[]>();
  for (const n of g.node) for (const i of n.input) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  const outputs = new Set(g.output.map((v) => v.name));
  const scope = new NameScope(graphNames(g));
  const replaced = new Map<NodeProto, NodeProto | null>();
  const added: TensorProto[] = [];

  for (const conv of g.node) {
    if (conv.opType !== 'Conv' || (conv.domain ?? '') !== '') continue;
    const y = conv.output[0]!;
    const next = consumers.get(y);
    const bn = next?.length === 1 ? next[0]! : undefined;
    if (!bn || bn.opType !== 'BatchNormalization' || bn.output.filter(Boolean).length !== 1 || outputs.has(y) || attrInt(bn, 'training_mode', 0) !== 0) continue;
    const w = inits.get(conv.input[1]!);
    const b = conv.input[2] ? inits.get(conv.input[2]) : undefined;
    const [gamma, beta, mean, variance] = bn.input.slice(1, 5).map((n) => inits.get(n));
    if (!w || (conv.input[2] && !b) || !gamma || !beta || !mean || !variance) continue;
    if (![w, gamma, beta, mean, variance, ...(b ? [b] : [])].every((t) => t.dataType === DataType.FLOAT)) continue;

    const eps = attrFloat(bn, 'epsilon', 1e-5);
    const [gv, bv, mv, vv] = [gamma, beta, mean, variance].map(readFloats) as [Float32Array, Float32Array, Float32Array, Float32Array];
    const wv = readFloats(w);
    const dims = dimsOf(w);
    const cout = dims[0]!;
    if (gv.length !== cout) continue;
    const per = wv.length / cout;
    const k = Float64Array.from(gv, (gi, c) => gi / Math.sqrt(vv[c]! + eps));
    const wf = Float32Array.from(wv, (x, i) => x * k[Math.floor(i / per)]!);
    const bias = b ? readFloats(b) : new Float32Array(cout);
    const bf = Float32Array.from(bias, (x, c) => (x - mv[c]!) * k[c]! + bv[c]!);
    const wName = scope.fresh(`${conv.input[1]}_bn`);
    const bName = scope.fresh(`${conv.input[2] || conv.input[1]}_bn_bias`);
    added.push(makeTensor(wName, DataType.FLOAT, dims, wf), makeTensor(bName, DataType.FLOAT, [cout], bf));
    replaced.set(conv, { ...conv, input: [conv.input[0]!, wName, bName], output: [bn.output[0]!] });
    replaced.set(bn, null);
  }
  if (replaced.size === 0) return g;

  const node = g.node.flatMap((n) => {
    const r = replaced.get(n);
    return r === undefined ? [n] : r === null ? [] : [r];
  });
  const used = new Set(node.flatMap((n) => n.input));
  for (const v of g.output) used.add(v.name);
  const initializer = [...(g.initializer ?? []), ...added].filter((t) => used.has(t.name ?? ''));
  const kept = new Set(initializer.map((t) => t.name));
  // An initializer also listed as a graph input (IR < 4) leaves the inputs with it.
  const dropped = new Set((g.initializer ?? []).map((t) => t.name ?? '').filter((n) => !kept.has(n)));
  return { ...g, node, initializer, input: g.input.filter((v) => !dropped.has(v.name)) };
}

/** Moves the tensors of `Constant` nodes (with a `value` tensor) into initializers. */
export function constantsToInitializers(g: GraphProto): GraphProto {
  const moved: TensorProto[] = [];
  const node = g.node.filter((n) => {
    const a = n.attribute?.[0];
    if (n.opType !== 'Constant' || (n.domain ?? '') !== '' || n.attribute?.length !== 1 || a?.name !== 'value' || !a.t || g.output.some((v) => v.name === n.output[0])) return true;
    moved.push({ ...a.t, name: n.output[0]! });
    return false;
  });
  return moved.length ? { ...g, node, initializer: [...(g.initializer ?? []), ...moved] } : g;
}

/** Drops Identity nodes (exporters use them to alias shared initializers), rewiring their readers. */
export function removeIdentities(g: GraphProto): GraphProto {
  const outputs = new Set(g.output.map((v) => v.name));
  const alias = new Map<string, string>();
  const node: NodeProto[] = [];
  for (const n of g.node) {
    const input = n.input.map((i) => alias.get(i) ?? i);
    if (n.opType === 'Identity' && (n.domain ?? '') === '' && n.input[0] && !outputs.has(n.output[0]!)) {
      alias.set(n.output[0]!, input[0]!);
      continue;
    }
    node.push(input.some((v, i) => v !== n.input[i]) ? { ...n, input } : n);
  }
  return alias.size ? { ...g, node } : g;
}
