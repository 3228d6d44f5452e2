/**
 * A TF.js graph model (model.json's GraphDef + weights) → an ONNX graph through our IR
 * (src/onnx/graph.ts). Image inputs (rank 4, 1 or 3 channels last) become NCHW ONNX inputs, so
 * the layout change happens once at the edge; outputs keep TF's shapes unless the caller asks for
 * another order. Every op of the graph must be one of src/tfjs/graph-ops.ts; otherwise one line
 * lists those that are not, before anything is emitted.
 */
import { OnnxGraph, type OnnxValue } from '../onnx/graph.js';
import { OPS } from './graph-ops.js';
import { TfjsError, type GraphNode, type ModelJson, type Weight } from './model-json.js';
import { identity, NCHW, Values, type TfValue } from './tf-values.js';

export interface GraphInputOptions {
  /** The ONNX input is x and the model gets x * scale + offset (pixels/255 in, the model's own range inside). */
  scale?: number;
  offset?: number;
}

export interface ConvertedGraph {
  g: OnnxGraph;
  vals: Values;
  /** The ONNX input, by TF placeholder name. */
  inputs: Map<string, OnnxValue>;
  /** The model's outputs (signature names, e.g. `Identity:0`), as TF values. */
  outputs: Map<string, TfValue>;
}

interface SignatureLike { inputs?: Record<string, unknown>; outputs?: Record<string, unknown> }

/** The output tensor names: the signature's, else the nodes nothing reads. */
function outputNames(model: ModelJson, nodes: readonly GraphNode[]): string[] {
  const sig = (model.signature ?? model.userDefinedMetadata?.signature) as SignatureLike | undefined;
  if (sig?.outputs && Object.keys(sig.outputs).length > 0) return Object.keys(sig.outputs);
  const read = new Set(nodes.flatMap((n) => (n.input ?? []).map((i) => i.replace(/^\^/, '').replace(/:\d+$/, ''))));
  return nodes.filter((n) => !read.has(n.name) && n.op !== 'Const' && n.op !== 'NoOp').map((n) => n.name);
}

const refOf = (name: string): { node: string; index: number } => {
  const m = /^(.*):(\d+)$/.exec(name);
  return m ? { node: m[1]!, index: Number(m[2]) } : { node: name, index: 0 };
};

/** The op types of a graph model (for listing what a model needs). */
export function graphOps(model: ModelJson): string[] {
  return [...new Set((model.modelTopology.node ?? []).map((n) => n.op))].sort();
}

/**
 * Converts the graph; `opts.input` maps the pixel range Kestrel feeds (0–1) to the model's.
 *
 * @example
 * const { g, outputs, vals } = convertGraphModel(model, weights, { input: { scale: 255 } });
 * for (const [name, v] of outputs) g.output(vals.as(v), name);
 */
export function convertGraphModel(model: ModelJson, weights: ReadonlyMap<string, Weight>, opts: { opset?: number; input?: GraphInputOptions } = {}): ConvertedGraph {
  const nodes = model.modelTopology.node;
  if (!nodes) throw new TfjsError('the model.json holds no GraphDef nodes (is it a layers model?)');
  if (model.modelTopology.library?.function?.length) throw new TfjsError('the graph uses control flow (functions), which Kestrel does not convert');
  const missing = graphOps(model).filter((op) => op !== 'Const' && op !== 'Placeholder' && op !== 'NoOp' && !OPS[op]);
  if (missing.length > 0) throw new TfjsError(`the graph uses ops Kestrel cannot convert yet: ${missing.join(', ')}`);

  const g = new OnnxGraph({ opset: opts.opset ?? 17 });
  const vals = new Values(g);
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const done = new Map<string, TfValue[]>();
  const inputs = new Map<string, OnnxValue>();

  const placeholder = (n: GraphNode): TfValue => {
    const dims = (n.attr?.shape?.shape?.dim ?? []).map((d) => Number(d.size));
    if (dims.length === 0 || dims.slice(1).some((d) => d < 1)) throw new TfjsError(`input '${n.name}' has shape [${dims.join(', ')}]; Kestrel converts models with a fixed input size`);
    const shape = dims.map((d) => (d < 1 ? 1 : d));
    const image = shape.length === 4 && (shape[3] === 3 || shape[3] === 1);
    const perm = image ? NCHW : identity(shape.length);
    const v = g.input(n.name, perm.map((p) => shape[p]!));
    inputs.set(n.name, v);
    let x = v;
    const { scale = 1, offset = 0 } = opts.input ?? {};
    if (scale !== 1) x = g.op('Mul', [x, g.scalar(scale)]);
    if (offset !== 0) x = g.op('Add', [x, g.scalar(offset)]);
    return vals.wrap(x, perm, 'float');
  };

  const constant = (n: GraphNode): TfValue => {
    const w = weights.get(n.name);
    if (!w) throw new TfjsError(`constant '${n.name}' has no weights in the manifest`);
    const kind = w.dtype === 'float32' ? 'float' : w.dtype === 'int32' ? 'int' : 'bool';
    return { shape: w.shape, kind, const: { shape: w.shape, kind, data: w.data } };
  };

  // Depth-first from the outputs, with an explicit stack: graphs are deep enough to overflow recursion.
  const visit = (root: string): void => {
    const stack: { name: string; expanded: boolean }[] = [{ name: root, expanded: false }];
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      if (done.has(top.name)) {
        stack.pop();
        continue;
      }
      const n = byName.get(top.name);
      if (!n) throw new TfjsError(`the graph reads '${top.name}', which no node defines`);
      const deps = (n.input ?? []).filter((i) => !i.startsWith('^')).map((i) => refOf(i).node);
      if (!top.expanded) {
        top.expanded = true;
        for (const d of deps) if (!done.has(d)) stack.push({ name: d, expanded: false });
        continue;
      }
      stack.pop();
      done.set(n.name, convertNode(n));
    }
  };

  const convertNode = (n: GraphNode): TfValue[] => {
    if (n.op === 'Placeholder') return [placeholder(n)];
    if (n.op === 'Const') return [constant(n)];
    const ins = (n.input ?? []).filter((i) => !i.startsWith('^')).map((i) => {
      const r = refOf(i);
      const v = done.get(r.node)?.[r.index];
      if (!v) throw new TfjsError(`'${n.name}' reads output ${r.index} of '${r.node}', which it does not have`);
      return v;
    });
    try {
      const out = g.scoped({ constructor: { name: n.op } }, () => OPS[n.op]!({ g, vals, node: n, inputs: ins }));
      return Array.isArray(out) ? out : [out];
    } catch (e) {
      if (e instanceof TfjsError) throw e;
      throw new TfjsError(`${n.op} '${n.name}': ${(e as Error).message}`, { cause: e });
    }
  };

  const outputs = new Map<string, TfValue>();
  for (const name of outputNames(model, nodes)) {
    const r = refOf(name);
    visit(r.node);
    const v = done.get(r.node)?.[r.index];
    if (!v) throw new TfjsError(`output '${name}' does not exist in the graph`);
    outputs.set(name, v);
  }
  return { g, vals, inputs, outputs };
}
