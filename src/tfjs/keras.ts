/**
 * TF.js layers models (a Keras topology: nsfwjs' MobileNetV2 and InceptionV3) rewritten as the
 * GraphDef a TF graph model would hold — Conv2D + BiasAdd + activation, FusedBatchNormV3, MatMul …
 * — so one converter (src/tfjs/convert-graph.ts) serves both formats. Layers called more than once
 * (shared layers) and layers without a GraphDef form here are refused with their names.
 */
import { TfjsError, type GraphNode, type KerasLayer, type KerasModelConfig, type ModelJson, type TfAttr, type Weight } from './model-json.js';

const s = (v: string): TfAttr => ({ s: Buffer.from(v).toString('base64') });
const ints = (v: number[]): TfAttr => ({ list: { i: v.map(String) } });
const pair = (v: unknown): [number, number] => (Array.isArray(v) ? [Number(v[0]), Number(v[1])] : [Number(v), Number(v)]);

const ACTIVATIONS: Record<string, string | null> = { linear: null, relu: 'Relu', relu6: 'Relu6', sigmoid: 'Sigmoid', tanh: 'Tanh', softmax: 'Softmax', elu: 'Elu' };

class GraphBuilder {
  readonly nodes: GraphNode[] = [];
  readonly weights: Map<string, Weight>;
  constructor(weights: ReadonlyMap<string, Weight>) {
    this.weights = new Map(weights);
  }

  node(name: string, op: string, input: string[], attr: Record<string, TfAttr> = {}): string {
    this.nodes.push({ name, op, input, attr });
    return name;
  }

  constant(name: string, w: Weight): string {
    this.weights.set(name, w);
    return this.node(name, 'Const', []);
  }

  weight(layer: string, key: string): string {
    const name = `${layer}/${key}`;
    if (!this.weights.has(name)) throw new TfjsError(`layer '${layer}' has no weight ${name} in the manifest`);
    return this.node(name, 'Const', []);
  }

  activation(layer: string, x: string, act: unknown): string {
    const a = String(act ?? 'linear');
    if (!(a in ACTIVATIONS)) throw new TfjsError(`layer '${layer}': activation ${a} is not supported`);
    const op = ACTIVATIONS[a];
    return op ? this.node(`${layer}/${op}`, op, [x]) : x;
  }
}

const intConst = (v: number[], shape = [v.length]): Weight => ({ shape, dtype: 'int32', data: Int32Array.from(v) });

function inbound(l: KerasLayer): string[] {
  if (l.inbound_nodes.length > 1) throw new TfjsError(`layer '${l.name}' is called ${l.inbound_nodes.length} times; shared layers are not supported`);
  const call = (l.inbound_nodes[0] ?? []) as unknown[][];
  return call.map((ref) => {
    if (Number(ref[2] ?? 0) !== 0) throw new TfjsError(`layer '${l.name}' reads output ${String(ref[2])} of '${String(ref[0])}'; only single-output layers are supported`);
    return String(ref[0]);
  });
}

function emitLayer(b: GraphBuilder, l: KerasLayer): string {
  const c = l.config;
  const n = l.name;
  const ins = inbound(l);
  const x = ins[0]!;
  const channelsLast = (c.data_format ?? 'channels_last') === 'channels_last';
  if (!channelsLast) throw new TfjsError(`layer '${n}': data_format ${String(c.data_format)} is not supported`);
  switch (l.class_name) {
    case 'InputLayer': {
      const shape = (c.batch_input_shape as (number | null)[]).map((d) => d ?? 1);
      return b.node(n, 'Placeholder', [], { shape: { shape: { dim: shape.map((size) => ({ size })) } }, dtype: { type: 'DT_FLOAT' } });
    }
    case 'Conv2D':
    case 'DepthwiseConv2D': {
      const depthwise = l.class_name === 'DepthwiseConv2D';
      const [sh, sw] = pair(c.strides ?? 1);
      const [dh, dw] = pair(c.dilation_rate ?? 1);
      const attr = { strides: ints([1, sh, sw, 1]), dilations: ints([1, dh, dw, 1]), padding: s(String(c.padding).toUpperCase()), data_format: s('NHWC') };
      let y = b.node(`${n}/conv`, depthwise ? 'DepthwiseConv2dNative' : 'Conv2D', [x, b.weight(n, depthwise ? 'depthwise_kernel' : 'kernel')], attr);
      if (c.use_bias !== false) y = b.node(`${n}/BiasAdd`, 'BiasAdd', [y, b.weight(n, 'bias')]);
      return b.activation(n, y, c.activation);
    }
    case 'BatchNormalization': {
      const axis = Number(c.axis ?? -1);
      if (axis !== -1 && axis !== 3) throw new TfjsError(`layer '${n}': batch norm over axis ${axis} is not supported`);
      const mean = b.weights.get(`${n}/moving_mean`);
      if (!mean) throw new TfjsError(`layer '${n}' has no weight ${n}/moving_mean in the manifest`);
      const ch = mean.shape[0]!;
      const ones = (): Weight => ({ shape: [ch], dtype: 'float32', data: new Float32Array(ch).fill(1) });
      const gamma = c.scale === false ? b.constant(`${n}/gamma`, ones()) : b.weight(n, 'gamma');
      const beta = c.center === false ? b.constant(`${n}/beta`, { ...ones(), data: new Float32Array(ch) }) : b.weight(n, 'beta');
      return b.node(`${n}/bn`, 'FusedBatchNormV3', [x, gamma, beta, b.weight(n, 'moving_mean'), b.weight(n, 'moving_variance')], { epsilon: { f: Number(c.epsilon ?? 1e-3) }, data_format: s('NHWC') });
    }
    case 'ReLU': {
      const max = c.max_value as number | null | undefined;
      if (Number(c.negative_slope ?? 0) !== 0 || Number(c.threshold ?? 0) !== 0 || (max != null && max !== 6)) throw new TfjsError(`layer '${n}': a ReLU with a slope, threshold or cap other than 6 is not supported`);
      return b.node(n, max === 6 ? 'Relu6' : 'Relu', [x]);
    }
    case 'Activation':
      return b.activation(n, x, c.activation);
    case 'Add':
      return b.node(n, 'AddN', ins);
    case 'Concatenate':
      return b.node(n, 'ConcatV2', [...ins, b.constant(`${n}/axis`, intConst([Number(c.axis ?? -1)], []))]);
    case 'ZeroPadding2D': {
      const p = c.padding;
      const [[t, bo], [le, r]] = Array.isArray(p) && Array.isArray(p[0]) ? (p as number[][]).map((q) => pair(q)) : [pair(pair(p)[0]), pair(pair(p)[1])];
      return b.node(n, 'Pad', [x, b.constant(`${n}/paddings`, intConst([0, 0, t, bo, le, r, 0, 0], [4, 2]))]);
    }
    case 'MaxPooling2D':
    case 'AveragePooling2D': {
      const [kh, kw] = pair(c.pool_size ?? 2);
      const [sh, sw] = pair(c.strides ?? c.pool_size ?? 2);
      return b.node(n, l.class_name === 'MaxPooling2D' ? 'MaxPool' : 'AvgPool', [x], { ksize: ints([1, kh, kw, 1]), strides: ints([1, sh, sw, 1]), padding: s(String(c.padding ?? 'valid').toUpperCase()), data_format: s('NHWC') });
    }
    case 'GlobalAveragePooling2D':
      return b.node(n, 'Mean', [x, b.constant(`${n}/axes`, intConst([1, 2]))], { keep_dims: { b: false } });
    case 'Flatten':
      return b.node(n, 'Reshape', [x, b.constant(`${n}/shape`, intConst([1, -1]))]);
    case 'Dense': {
      let y = b.node(`${n}/MatMul`, 'MatMul', [x, b.weight(n, 'kernel')]);
      if (c.use_bias !== false) y = b.node(`${n}/BiasAdd`, 'BiasAdd', [y, b.weight(n, 'bias')]);
      return b.activation(n, y, c.activation);
    }
    case 'Dropout':
      return b.node(n, 'Identity', [x]);
    default:
      throw new TfjsError(`layer '${n}' is a ${l.class_name}, which Kestrel cannot convert yet`);
  }
}

/**
 * The GraphDef form of a layers model, and its weights with the constants the rewrite adds.
 *
 * @example
 * const { model: graph, weights: all } = kerasToGraph(model, weights);
 * const converted = convertGraphModel(graph, all);
 */
export function kerasToGraph(model: ModelJson, weights: ReadonlyMap<string, Weight>): { model: ModelJson; weights: Map<string, Weight> } {
  // Keras writes { keras_version, model_config }; TF.js's own save writes the model config itself.
  const top = model.modelTopology as unknown as KerasModelConfig & { model_config?: KerasModelConfig };
  const cfg = top.model_config ?? (typeof top.class_name === 'string' ? top : undefined);
  if (!cfg || !Array.isArray(cfg.config?.layers)) throw new TfjsError('the model.json is neither a graph model nor a Keras functional model');
  const b = new GraphBuilder(weights);
  // A layer's output is the name of the last node it emits; later layers read it by layer name.
  for (const l of cfg.config.layers) {
    const out = emitLayer(b, l);
    if (out !== l.name) b.node(l.name, 'Identity', [out]);
  }
  const outs = (cfg.config.output_layers ?? [[cfg.config.layers[cfg.config.layers.length - 1]!.name]]) as unknown[][];
  const signature = { outputs: Object.fromEntries(outs.map((o) => [String(o[0]), {}])) };
  return { model: { format: 'graph-model', modelTopology: { node: b.nodes }, weightsManifest: [], signature }, weights: b.weights };
}
