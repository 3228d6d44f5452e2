/**
 * The graph builder that modules emit their ONNX nodes into (see Module.toOnnx). It hands out
 * unique value names, types node attributes, turns Kestrel tensors into initializers named by
 * their state-dict keys (`layer1.0.conv1.weight`), dedupes constants, and knows every value's
 * static shape (src/onnx/shape.ts), with the batch dimension symbolic (`N`) when dynamic.
 *
 * Opsets 13–17: from 13, Softmax works on one axis and Squeeze/Unsqueeze/Slice take their axes as
 * inputs; ReduceMean still takes `axes` as an attribute up to 17. HardSwish needs 14 and
 * LayerNormalization 17; the emitters in src/onnx/emit.ts spell both out in primitive ops below that.
 *
 * @example
 * const g = new OnnxGraph({ opset: 17, names: new Map([...model.stateDict()].map(([k, t]) => [t, k])) });
 * const x = g.input('images', ['N', 3, 224, 224]);
 * g.output(model.toOnnx(g, x), 'logits');
 * const graph = g.graph('resnet18');
 */
import { endianness } from 'node:os';
import type { Tensor } from '../tensor/tensor.js';
import { AttributeType, DataType, type AttributeProto, type DataTypeCode, type GraphProto, type NodeProto, type TensorProto, type ValueInfoProto } from './proto.js';
import { MAX_OPSET, MIN_OPSET } from './opset.js';
import { SHAPE_RULES, type Dim } from './shape.js';

export type { Dim } from './shape.js';
export { MAX_OPSET, MIN_OPSET } from './opset.js';

/** A value in the graph: its name, static shape (symbols for dynamic dimensions) and element type. */
export interface OnnxValue {
  readonly name: string;
  readonly shape: readonly Dim[];
  readonly dtype: DataTypeCode;
}

/** A node attribute: integers and strings as they are, floats marked (`{ float: 0.5 }`) since JS cannot tell 1 from 1.0. */
export type AttrValue = number | readonly number[] | string | { float: number } | { floats: readonly number[] };

export interface GraphOptions {
  /** ONNX opset, 13–17 (default 17). */
  opset?: number;
  /** Names of the tensors emitters pass to param(): a model's state-dict keys. */
  names?: ReadonlyMap<Tensor, string>;
  /** Dotted paths of modules (from namedModules()), for node names and error messages. */
  modules?: ReadonlyMap<object, string>;
}

/** An export failure, naming the module whose emitter failed. */
export class OnnxExportError extends Error {
  override name = 'OnnxExportError';
}

const LE = endianness() === 'LE';

/** The little-endian bytes of a typed array (ONNX raw_data is little-endian). */
function leBytes(a: Float32Array | BigInt64Array): Uint8Array {
  const view = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  if (LE) return view;
  const copy = Buffer.from(view);
  return a instanceof Float32Array ? copy.swap32() : copy.swap64();
}

/** A tensor's values as float32 on the CPU (a copy). */
function floatData(t: Tensor): Float32Array {
  if (t.dtype === 'float32' && t.device === 'cpu') return t.dataSync() as Float32Array;
  const c = t.detach().to('cpu');
  const f = c.to('float32');
  try {
    return f.dataSync() as Float32Array;
  } finally {
    f.dispose();
    c.dispose();
  }
}

function attribute(name: string, v: AttrValue): AttributeProto {
  if (typeof v === 'string') return { name, type: AttributeType.STRING, s: new TextEncoder().encode(v) };
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new TypeError(`attribute ${name}=${v} is not an integer; write { float: ${v} }`);
    return { name, type: AttributeType.INT, i: v };
  }
  if ('float' in v) return { name, type: AttributeType.FLOAT, f: v.float };
  if ('floats' in v) return { name, type: AttributeType.FLOATS, floats: [...v.floats] };
  if (v.some((x) => !Number.isInteger(x))) throw new TypeError(`attribute ${name}=[${v.join(', ')}] holds non-integers; write { floats: [...] }`);
  return { name, type: AttributeType.INTS, ints: [...v] };
}

const valueInfo = (v: OnnxValue): ValueInfoProto => ({
  name: v.name,
  type: { tensorType: { elemType: v.dtype, shape: { dim: v.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
});

export class OnnxGraph {
  readonly opset: number;
  readonly #names: ReadonlyMap<Tensor, string>;
  readonly #modules: ReadonlyMap<object, string>;
  readonly #nodes: NodeProto[] = [];
  readonly #inits: TensorProto[] = [];
  readonly #inputs: OnnxValue[] = [];
  readonly #outputs: OnnxValue[] = [];
  readonly #used = new Set<string>();
  /** Contents of int64 constants, for shape rules (Reshape targets, axes). */
  readonly #known = new Map<string, number[]>();
  readonly #params = new Map<Tensor, OnnxValue>();
  readonly #consts = new Map<string, OnnxValue>();
  readonly #scope: string[] = [];

  constructor(opts: GraphOptions = {}) {
    const opset = opts.opset ?? MAX_OPSET;
    if (!Number.isInteger(opset) || opset < MIN_OPSET || opset > MAX_OPSET) {
      throw new RangeError(`ONNX opset ${opset} is not supported; use ${MIN_OPSET} to ${MAX_OPSET}`);
    }
    this.opset = opset;
    this.#names = opts.names ?? new Map();
    this.#modules = opts.modules ?? new Map();
    for (const name of this.#names.values()) this.#used.add(name);
  }

  /** Where emission is now: the dotted path of the innermost module ('' at the root). */
  get path(): string {
    return this.#scope[this.#scope.length - 1] ?? '';
  }

  #unique(base: string): string {
    let name = base;
    for (let i = 2; this.#used.has(name); i++) name = `${base}_${i}`;
    this.#used.add(name);
    return name;
  }

  #prefixed(hint: string): string {
    return this.path ? `${this.path}/${hint}` : hint;
  }

  /**
   * Runs `fn` (a module's emitter) with `module` as the current scope: node names start with its
   * path, and an error thrown inside names it.
   */
  scoped<T>(module: object, fn: () => T): T {
    const kind = module.constructor.name;
    const path = this.#modules.get(module) ?? (this.path ? `${this.path}/${kind}` : kind);
    this.#scope.push(path);
    try {
      return fn();
    } catch (e) {
      if (e instanceof OnnxExportError) throw e;
      throw new OnnxExportError(`ONNX export of ${path ? `'${path}' ` : 'the model '}(${kind}): ${(e as Error).message}`, { cause: e });
    } finally {
      this.#scope.pop();
    }
  }

  /** Declares a graph input. */
  input(name: string, shape: readonly Dim[], dtype: DataTypeCode = DataType.FLOAT): OnnxValue {
    if (this.#used.has(name)) throw new TypeError(`graph input name '${name}' is already used`);
    this.#used.add(name);
    const v: OnnxValue = { name, shape: [...shape], dtype };
    this.#inputs.push(v);
    return v;
  }

  /** Declares `v` a graph output under `name`, renaming the value (an Identity when it is an input or initializer). */
  output(v: OnnxValue, name: string): OnnxValue {
    const producer = this.#nodes.find((n) => n.output.includes(v.name));
    if (producer === undefined || this.#outputs.some((o) => o.name === v.name)) {
      const out = { ...v, name };
      if (this.#used.has(name)) throw new TypeError(`graph output name '${name}' is already used`);
      this.#used.add(name);
      this.#nodes.push({ opType: 'Identity', input: [v.name], output: [name], name: this.#unique(`${name}/Identity`) });
      this.#outputs.push(out);
      return out;
    }
    if (name !== v.name) {
      if (this.#used.has(name)) throw new TypeError(`graph output name '${name}' is already used`);
      this.#used.add(name);
      for (const n of this.#nodes) {
        n.input = n.input.map((s) => (s === v.name ? name : s));
        n.output = n.output.map((s) => (s === v.name ? name : s));
      }
    }
    const out = { ...v, name };
    this.#outputs.push(out);
    return out;
  }

  /** A module's tensor as an initializer, named by its state-dict key; the same tensor gives the same value. */
  param(t: Tensor): OnnxValue {
    const seen = this.#params.get(t);
    if (seen) return seen;
    const name = this.#names.get(t) ?? this.#unique(this.#prefixed('param'));
    const v = this.#init(name, floatData(t), t.shape);
    this.#params.set(t, v);
    return v;
  }

  /** A float32 constant (data row-major); `hint` names it within the current scope. */
  floats(data: ArrayLike<number>, shape: readonly number[], hint = 'const'): OnnxValue {
    return this.#init(this.#unique(this.#prefixed(hint)), Float32Array.from(data), shape);
  }

  /** A float32 scalar constant (one per value in the whole graph). */
  scalar(v: number): OnnxValue {
    const key = `float ${v}`;
    let c = this.#consts.get(key);
    if (!c) {
      c = this.#init(this.#unique(`scalar_${v}`), Float32Array.of(v), []);
      this.#consts.set(key, c);
    }
    return c;
  }

  /** A 1-D int64 constant (shapes, axes, indices), shared by equal contents. */
  ints(values: readonly number[]): OnnxValue {
    const key = `int64 ${values.join(',')}`;
    let c = this.#consts.get(key);
    if (!c) {
      c = this.#init(this.#unique(`ints_${values.join('_') || 'empty'}`), BigInt64Array.from(values, (x) => BigInt(x)), [values.length]);
      this.#known.set(c.name, [...values]);
      this.#consts.set(key, c);
    }
    return c;
  }

  /** An int64 constant of any shape (data row-major); `hint` names it within the current scope. */
  int64(data: ArrayLike<number>, shape: readonly number[], hint = 'const'): OnnxValue {
    const v = this.#init(this.#unique(this.#prefixed(hint)), BigInt64Array.from(Array.from(data), (x) => BigInt(x)), shape);
    if (shape.length === 1) this.#known.set(v.name, Array.from(data));
    return v;
  }

  /** A 0-D int64 constant (a Gather index that drops its axis). */
  scalarInt(v: number): OnnxValue {
    const key = `int64 scalar ${v}`;
    let c = this.#consts.get(key);
    if (!c) {
      c = this.#init(this.#unique(`int_${v}`), BigInt64Array.of(BigInt(v)), []);
      this.#consts.set(key, c);
    }
    return c;
  }

  #init(name: string, data: Float32Array | BigInt64Array, shape: readonly number[]): OnnxValue {
    const dtype = data instanceof Float32Array ? DataType.FLOAT : DataType.INT64;
    this.#used.add(name);
    this.#inits.push({ name, dims: [...shape], dataType: dtype, rawData: leBytes(data) });
    return { name, shape: [...shape], dtype };
  }

  /**
   * Adds one node and returns its output. The output shape comes from the operator's rule in
   * src/onnx/shape.ts, or from `o.shape` for values only known at run time (Expand of a computed
   * shape). `null` inputs are omitted optional inputs.
   */
  op(type: string, inputs: readonly (OnnxValue | null)[], attrs: Readonly<Record<string, AttrValue>> = {}, o: { shape?: readonly Dim[]; dtype?: DataTypeCode } = {}): OnnxValue {
    let shape = o.shape;
    if (shape === undefined) {
      const rule = SHAPE_RULES[type];
      if (!rule) throw new TypeError(`no shape rule for ONNX op ${type}; pass its output shape`);
      shape = rule({ shapes: inputs.map((v) => v?.shape ?? null), attrs, known: (i) => (inputs[i] ? this.#known.get(inputs[i]!.name) : undefined) });
    }
    const first = inputs.find((v) => v !== null);
    const dtype = o.dtype ?? (type === 'Shape' ? DataType.INT64 : type === 'Cast' ? (attrs.to as DataTypeCode) : first?.dtype ?? DataType.FLOAT);
    const node = this.#unique(this.#prefixed(type));
    const out = this.#unique(`${node}_output`);
    const attribute_ = Object.entries(attrs).map(([k, v]) => attribute(k, v));
    // Trailing omitted inputs are left out rather than written '' (ONNX allows both; some kernels only handle the first).
    const names = inputs.map((v) => v?.name ?? '');
    while (names.length > 0 && names[names.length - 1] === '') names.pop();
    this.#nodes.push({ opType: type, input: names, output: [out], name: node, ...(attribute_.length ? { attribute: attribute_ } : {}) });
    return { name: out, shape: [...shape], dtype };
  }

  /**
   * Adds a node with several outputs (TopK, Split), whose shapes and types the caller gives.
   */
  opN(type: string, inputs: readonly (OnnxValue | null)[], attrs: Readonly<Record<string, AttrValue>>, outputs: readonly { shape: readonly Dim[]; dtype: DataTypeCode }[]): OnnxValue[] {
    const node = this.#unique(this.#prefixed(type));
    const outs = outputs.map((o, i) => ({ name: this.#unique(`${node}_output${i === 0 ? '' : `_${i}`}`), shape: [...o.shape], dtype: o.dtype }));
    const attribute_ = Object.entries(attrs).map(([k, v]) => attribute(k, v));
    const names = inputs.map((v) => v?.name ?? '');
    while (names.length > 0 && names[names.length - 1] === '') names.pop();
    this.#nodes.push({ opType: type, input: names, output: outs.map((o) => o.name), name: node, ...(attribute_.length ? { attribute: attribute_ } : {}) });
    return outs;
  }

  /**
   * Reshape to `target`, given in terms of the input's dimensions: a dimension equal to the
   * input's at the same index is copied (0), one symbolic dimension is inferred (-1), so a dynamic
   * batch stays dynamic.
   */
  reshape(x: OnnxValue, target: readonly Dim[]): OnnxValue {
    let free = 0;
    const spec = target.map((d, i) => {
      if (d === x.shape[i] && typeof d === 'string') return 0;
      if (typeof d === 'number') return d;
      free++;
      return -1;
    });
    if (free > 1) throw new RangeError(`Reshape to [${target.join(', ')}] needs more than one inferred dimension`);
    return this.op('Reshape', [x, this.ints(spec)]);
  }

  /** The finished graph. */
  graph(name: string): GraphProto {
    if (this.#outputs.length === 0) throw new TypeError('the graph has no outputs');
    return {
      name,
      node: this.#nodes,
      initializer: this.#inits,
      input: this.#inputs.map(valueInfo),
      output: this.#outputs.map(valueInfo),
    };
  }
}
