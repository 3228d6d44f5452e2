/**
 * ONNX export of zoo models and checkpoints. The model emits its own nodes (Module.toOnnx, each
 * layer from its parameters), the builder names initializers by state-dict key, and the file
 * carries the deployment contract (src/onnx/contract.ts) in `metadata_props`, so the `.onnx` file
 * alone is enough to predict. Input `images` float32 [N, C, H, W] (already normalised), output
 * `logits` [N, classes] (a segmentation model: [N, classes, H, W]); the batch is symbolic (`N`)
 * with `dynamicBatch`, else fixed.
 *
 * @example
 * const { path } = exportCheckpoint('runs/classify/train/weights/best.safetensors', { dynamicBatch: true });
 * const bytes = exportOnnx(model, { imgsz: 32 }, { opset: 17 });   // a model without a checkpoint
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../checkpoint/atomic.js';
import { loadCheckpoint, readCheckpointMeta, type CheckpointMeta } from '../engine/checkpoint.js';
import type { ClassifierModel, DetectorModel, SegmentationModel } from '../models/model.js';
import { Detect } from '../models/yolo-head.js';
import type { Module } from '../nn/module.js';
import { contractProps, type DeployContract } from '../onnx/contract.js';
import { MAX_OPSET, OnnxGraph, type Dim, type OnnxValue } from '../onnx/graph.js';
import { encodeModel, toNumber, type DataTypeCode, type GraphProto, type ModelProto, type ValueInfoProto } from '../onnx/proto.js';
import { BatchStream } from '../data/stream.js';
import { resolveClassifyData } from '../data/sources.js';
import { resolveDetectData } from '../data/yolo.js';
import { resolveSegmentData } from '../data/segment.js';
import type { CalibrationBatch, CalibrationData } from './calibrate.js';
import { convertToFloat16 } from './fp16.js';
import { quantizeStatic, type QuantizeOptions } from './quantize.js';

type AnyModule = Module<never, unknown>;

/** ONNX IR version written: 8 goes with opsets up to 17. */
export const IR_VERSION = 8;
export const INPUT_NAME = 'images';
export const OUTPUT_NAME = 'logits';
/** A detector's output, named as Ultralytics names it, so tools written for their exports read ours. */
export const DETECT_OUTPUT_NAME = 'output0';

/** Tasks whose checkpoints export. */
type ExportTask = 'classify' | 'detect';

/** A rewrite of the built model before it is encoded (float16 conversion, quantization). */
export type ModelPass = (model: ModelProto) => ModelProto;

export interface OnnxExportOptions {
  /** ONNX opset, 13–17 (default 17). */
  opset?: number;
  /** A symbolic batch dimension `N` instead of a fixed one. */
  dynamicBatch?: boolean;
  /** The fixed batch size when the batch is not dynamic (default 1). */
  batch?: number;
  /** Applied in order to the ModelProto before encoding. */
  passes?: readonly ModelPass[];
}

/** What the export needs beyond the model: the input size and, for a deployable file, the contract. */
export interface ExportInfo {
  /** Input side, or [h, w]. */
  imgsz: number | [number, number];
  /** The deployment contract for metadata_props (none when absent). */
  contract?: DeployContract;
}

let version: string | undefined;
function packageVersion(): string {
  if (version === undefined) {
    try {
      const pkg = join(dirname(fileURLToPath(import.meta.url)), '../../../package.json');
      version = (JSON.parse(readFileSync(pkg, 'utf8')) as { version?: string }).version ?? '0.0.0';
    } catch {
      version = '0.0.0';
    }
  }
  return version;
}

function batchDim(opts: OnnxExportOptions): Dim {
  if (opts.dynamicBatch) {
    if (opts.batch !== undefined) throw new RangeError('a fixed batch size and a dynamic batch exclude each other');
    return 'N';
  }
  const b = opts.batch ?? 1;
  if (!Number.isInteger(b) || b < 1) throw new RangeError(`batch must be a positive integer, got ${b}`);
  return b;
}

/** A graph input of moduleToOnnx(). */
export interface GraphInput {
  name: string;
  shape: readonly Dim[];
  /** Element type (default float32; Embedding takes INT64). */
  dtype?: DataTypeCode;
}

/** The parts of a ModelProto every export shares; `graph` and `docString` are the caller's. */
function modelProto(graph: GraphProto, opset: number, docString: string): ModelProto {
  return {
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: opset }],
    producerName: 'kestrel',
    producerVersion: packageVersion(),
    docString,
    graph,
  };
}

function emit(module: AnyModule, inputs: readonly GraphInput[], opset: number | undefined, output: string): { g: OnnxGraph; out: OnnxValue; ins: OnnxValue[] } {
  const names = new Map([...module.namedParameters(), ...module.namedBuffers()].map(([k, t]) => [t, k]));
  const modules = new Map<object, string>(Array.from(module.namedModules(), ([k, m]) => [m, k]));
  const g = new OnnxGraph({ opset: opset ?? MAX_OPSET, names, modules });
  const ins = inputs.map((i) => g.input(i.name, i.shape, i.dtype));
  const out = g.output(module.toOnnx(g, ...ins), output);
  return { g, out, ins };
}

/**
 * Any module (a layer, a block, a whole model) as an ONNX model: its eval-mode computation from
 * the given inputs to one output, parameters under their state-dict names.
 *
 * @example
 * const proto = moduleToOnnx(new nn.Conv2d(3, 8, 3), [{ name: 'x', shape: ['N', 3, 16, 16] }]);
 */
export function moduleToOnnx(module: AnyModule, inputs: readonly GraphInput[], opts: { opset?: number; output?: string; name?: string } = {}): ModelProto {
  const { g } = emit(module, inputs, opts.opset, opts.output ?? 'output');
  const name = opts.name ?? module.constructor.name;
  return modelProto(g.graph(name), g.opset, `Kestrel ${name}`);
}

/** Builds a classifier's ONNX model (not yet encoded): images → logits, with the contract when given. */
export function buildOnnxModel(model: ClassifierModel, info: ExportInfo, opts: OnnxExportOptions = {}): ModelProto {
  const config = model.config;
  const [h, w] = typeof info.imgsz === 'number' ? [info.imgsz, info.imgsz] : info.imgsz;
  const { g, out: logits, ins: [images] } = emit(model, [{ name: INPUT_NAME, shape: [batchDim(opts), config.inChannels, h, w] }], opts.opset, OUTPUT_NAME);
  const expected = [images!.shape[0], config.numClasses];
  if (logits.shape.length !== 2 || logits.shape.some((d, i) => d !== expected[i])) {
    throw new Error(`ONNX export of ${config.name}: the graph gives [${logits.shape.join(', ')}], expected [${expected.join(', ')}]`);
  }
  const doc = `Kestrel ${config.name} image classifier (${config.numClasses} classes). Input '${INPUT_NAME}': float32 `
    + `[${images!.shape.join(', ')}], pixels/255 then (x - mean) / std per channel (metadata 'mean', 'std'). `
    + `Output '${OUTPUT_NAME}': [${logits.shape.join(', ')}], softmax not applied; metadata 'names' labels the columns.`;
  return {
    ...modelProto(g.graph(config.name), g.opset, doc),
    ...(info.contract ? { metadataProps: contractProps(info.contract) } : {}),
  };
}

/**
 * Builds a detector's ONNX model: images → `output0` [N, 4 + classes, anchors], per anchor the box
 * (cx, cy, w, h in input pixels) then each class's probability: Ultralytics' layout, decoded in
 * the graph; NMS is left to the runtime (src/tasks/detect/postprocess.ts).
 */
export function buildDetectOnnxModel(model: DetectorModel, info: ExportInfo, opts: OnnxExportOptions = {}): ModelProto {
  const config = model.config;
  const [h, w] = typeof info.imgsz === 'number' ? [info.imgsz, info.imgsz] : info.imgsz;
  const { g, out, ins: [images] } = emit(model, [{ name: INPUT_NAME, shape: [batchDim(opts), config.inChannels, h, w] }], opts.opset, DETECT_OUTPUT_NAME);
  const anchors = model.strides.reduce((s, st) => s + (h / st) * (w / st), 0);
  const expected = [images!.shape[0], 4 + config.numClasses, anchors];
  if (out.shape.length !== 3 || out.shape.some((d, i) => d !== expected[i])) {
    throw new Error(`ONNX export of ${config.name}: the graph gives [${out.shape.join(', ')}], expected [${expected.join(', ')}]`);
  }
  const doc = `Kestrel ${config.name} object detector (${config.numClasses} classes). Input '${INPUT_NAME}': float32 [${images!.shape.join(', ')}], `
    + `letterboxed to ${h}×${w} (grey 114 padding), pixels/255. Output '${DETECT_OUTPUT_NAME}': [${out.shape.join(', ')}], per anchor cx, cy, w, h in input pixels `
    + `then class probabilities; apply NMS after. Metadata 'names' labels the classes.`;
  return {
    ...modelProto(g.graph(config.name), g.opset, doc),
    ...(info.contract ? { metadataProps: contractProps(info.contract) } : {}),
  };
}

/** Builds a segmentation model's ONNX model: images → per-pixel logits [N, classes, H, W], with the contract when given. */
export function buildSegmentOnnx(model: SegmentationModel, info: ExportInfo, opts: OnnxExportOptions = {}): ModelProto {
  const config = model.config;
  const [h, w] = typeof info.imgsz === 'number' ? [info.imgsz, info.imgsz] : info.imgsz;
  const { g, out: logits, ins: [images] } = emit(model, [{ name: INPUT_NAME, shape: [batchDim(opts), config.inChannels, h, w] }], opts.opset, OUTPUT_NAME);
  const expected = [images!.shape[0], config.numClasses, h, w];
  if (logits.shape.length !== 4 || logits.shape.some((d, i) => d !== expected[i])) {
    throw new Error(`ONNX export of ${config.name}: the graph gives [${logits.shape.join(', ')}], expected [${expected.join(', ')}]`);
  }
  const doc = `Kestrel ${config.name} segmentation model (${config.numClasses} classes). Input '${INPUT_NAME}': float32 `
    + `[${images!.shape.join(', ')}], the letterboxed image, pixels/255 then (x - mean) / std per channel (metadata 'mean', 'std'). `
    + `Output '${OUTPUT_NAME}': [${logits.shape.join(', ')}], per-pixel class scores (argmax over axis 1 gives the mask); metadata 'names' labels the classes.`;
  return {
    ...modelProto(g.graph(config.name), g.opset, doc),
    ...(info.contract ? { metadataProps: contractProps(info.contract) } : {}),
  };
}

/** A detector (it has a box regression head), as opposed to a classifier. */
const isDetector = (m: ClassifierModel | DetectorModel): m is DetectorModel => 'regMax' in m && 'strides' in m;

/** The model as ONNX bytes, after `opts.passes`: a classifier's logits, or a detector's decoded output0. */
export function exportOnnx(model: ClassifierModel | DetectorModel, info: ExportInfo, opts: OnnxExportOptions = {}): Uint8Array {
  let proto = isDetector(model) ? buildDetectOnnxModel(model, info, opts) : buildOnnxModel(model, info, opts);
  for (const pass of opts.passes ?? []) proto = pass(proto);
  return encodeModel(proto);
}

/** The deployment contract of a checkpoint: class names and preprocessing from its metadata. */
export function contractFromMeta(meta: CheckpointMeta, precision: DeployContract['precision'] = 'fp32'): DeployContract {
  const p = meta.preprocess;
  return {
    task: meta.task,
    names: meta.classes,
    imgsz: [p.imgsz, p.imgsz],
    channels: p.channels,
    mean: p.mean,
    std: p.std,
    transforms: p.transforms,
    output: meta.task === 'detect' ? 'detections' : 'logits',
    model: { ...meta.model },
    precision,
  };
}

export interface CheckpointExportOptions extends OnnxExportOptions {
  /** Where to write (default: the checkpoint's path with `.onnx`). */
  output?: string;
  /** The precision `passes` leave the weights in, recorded in the contract (default 'fp32'). */
  precision?: DeployContract['precision'];
  /** Half-precision weights (convertToFloat16; inputs and outputs stay float32). */
  fp16?: boolean;
  /**
   * Static int8 quantization (QDQ), calibrated on `calib`: a data spec as `kestrel train --data`
   * takes (its training split, shuffled, through the checkpoint's eval transforms) or batches.
   * Default calib: the data the checkpoint was trained on.
   */
  int8?: QuantizeOptions & { calib?: string | CalibrationData };
}

export interface ExportResult {
  path: string;
  bytes: number;
  opset: number;
  input: { name: string; shape: Dim[] };
  output: { name: string; shape: Dim[] };
}

/**
 * The Detect head's own nodes (flattening, DFL, anchor decoding, sigmoid), which int8 leaves in
 * float: one uint8 scale cannot hold box coordinates up to the image size and probabilities near 0
 * at once. Its convolution branches (cv2, cv3) are quantized like the rest.
 */
function decodeNodes(model: DetectorModel, g: GraphProto): string[] {
  const head = [...model.namedModules()].find(([, m]) => m instanceof Detect)?.[0];
  if (head === undefined) return [];
  return g.node.map((n) => n.name ?? '').filter((n) => n.startsWith(`${head}/`) || n.startsWith(`${head}.dfl/`));
}

/** A graph input's or output's name and declared shape. */
function ioOf(v: ValueInfoProto): { name: string; shape: Dim[] } {
  const dims = v.type?.tensorType?.shape?.dim ?? [];
  return { name: v.name, shape: dims.map((d) => (d.dimParam ? d.dimParam : toNumber(d.dimValue ?? 0))) };
}

/** `weights` with its extension replaced by `.onnx`. */
export function defaultOnnxPath(weights: string): string {
  const ext = extname(weights);
  return `${ext ? weights.slice(0, -ext.length) : weights}.onnx`;
}

/** Calibration batches from a data spec: shuffled training images through the eval transforms. */
async function* calibrationFromData(spec: string, meta: CheckpointMeta, batch: number, limit: number, fixedBatch: boolean): AsyncGenerator<CalibrationBatch> {
  // A detector or segmentation model calibrates on its training images letterboxed as at prediction (its eval transforms).
  const data = meta.task === 'detect' ? await resolveDetectData(spec) : meta.task === 'segment' ? await resolveSegmentData(spec) : await resolveClassifyData(spec, { seed: 0 });
  const { transforms, channels } = meta.preprocess;
  // A fixed-batch graph takes only whole batches; a dynamic one takes the last, short one too (a set smaller than a batch calibrates).
  const stream = new BatchStream(data.splits.train, { batchSize: batch, shuffle: true, dropLast: fixedBatch, seed: 0, transforms, channels });
  let seen = 0;
  try {
    for await (const r of stream.epoch(0)) {
      if (r.kept.length === 0) continue;
      yield { data: r.data, dims: [r.kept.length, ...r.shape] };
      seen += r.kept.length;
      if (seen >= limit) return;
    }
  } finally {
    await stream.close();
  }
}

/** Static int8 quantization calibrated on `int8.calib`, by default the data the checkpoint was trained on. */
async function quantizeWith(proto: ModelProto, meta: CheckpointMeta, opts: CheckpointExportOptions, int8: NonNullable<CheckpointExportOptions['int8']>): Promise<ModelProto> {
  const { calib = meta.data?.spec, ...q } = int8;
  if (calib === undefined) throw new Error(`int8 needs calibration images: give --calib (the checkpoint does not name the data it was trained on)`);
  const batch = opts.dynamicBatch ? 32 : (opts.batch ?? 1);
  return quantizeStatic(proto, typeof calib === 'string' ? calibrationFromData(calib, meta, batch, q.calibSize ?? 256, !opts.dynamicBatch) : calib, q);
}

/**
 * A checkpoint written by `kestrel train` as ONNX bytes with its contract, in memory (`fp16` or
 * `int8` convert it on the way); `kestrel serve` runs a checkpoint this way. Loads libtorch.
 *
 * @example
 * const { bytes } = await checkpointToOnnx('runs/classify/train/weights/best.safetensors', { dynamicBatch: true });
 */
export async function checkpointToOnnx(weights: string, opts: CheckpointExportOptions = {}): Promise<{ bytes: Uint8Array; meta: CheckpointMeta<ExportTask | 'segment'>; io: Pick<ExportResult, 'input' | 'output'> }> {
  if (opts.fp16 && opts.int8) throw new Error('fp16 and int8 exclude each other: choose one');
  const task = readCheckpointMeta(weights).task;
  if (task === 'segment') return segmentToOnnx(weights, opts);
  if (task !== 'classify' && task !== 'detect') throw new Error(`${weights}: ${task} models do not export to ONNX yet (classify, detect and segment do)`);
  const { model, meta, extra } = loadCheckpoint<ClassifierModel | DetectorModel, ExportTask>(weights, { task });
  for (const t of extra.values()) t.dispose();
  try {
    const info = { imgsz: meta.preprocess.imgsz, contract: contractFromMeta(meta, opts.precision) };
    let proto = meta.task === 'detect' ? buildDetectOnnxModel(model as DetectorModel, info, opts) : buildOnnxModel(model as ClassifierModel, info, opts);
    const io = { input: ioOf(proto.graph.input[0]!), output: ioOf(proto.graph.output[0]!) };
    for (const pass of opts.passes ?? []) proto = pass(proto);
    if (opts.fp16) proto = convertToFloat16(proto);
    if (opts.int8) {
      const exclude = meta.task === 'detect' ? decodeNodes(model as DetectorModel, proto.graph) : [];
      proto = await quantizeWith(proto, meta, opts, { ...opts.int8, exclude: [...(opts.int8.exclude ?? []), ...exclude] });
    }
    return { bytes: encodeModel(proto), meta, io };
  } finally {
    model.dispose();
  }
}

/** A segmentation checkpoint as ONNX bytes (fp16, or int8 calibrated on its training images). */
async function segmentToOnnx(weights: string, opts: CheckpointExportOptions): Promise<{ bytes: Uint8Array; meta: CheckpointMeta<'segment'>; io: Pick<ExportResult, 'input' | 'output'> }> {
  const { model, meta, extra } = loadCheckpoint<SegmentationModel, 'segment'>(weights, { task: 'segment' });
  for (const t of extra.values()) t.dispose();
  try {
    let proto = buildSegmentOnnx(model, { imgsz: meta.preprocess.imgsz, contract: contractFromMeta(meta, opts.precision) }, opts);
    const io = { input: ioOf(proto.graph.input[0]!), output: ioOf(proto.graph.output[0]!) };
    for (const pass of opts.passes ?? []) proto = pass(proto);
    if (opts.fp16) proto = convertToFloat16(proto);
    if (opts.int8) proto = await quantizeWith(proto, meta, opts, opts.int8);
    return { bytes: encodeModel(proto), meta, io };
  } finally {
    model.dispose();
  }
}

/**
 * Exports a checkpoint written by `kestrel train` to an ONNX file (written atomically) with its
 * contract; `fp16` or `int8` convert it on the way.
 */
export async function exportCheckpoint(weights: string, opts: CheckpointExportOptions = {}): Promise<ExportResult> {
  if (opts.fp16 && opts.int8) throw new Error('fp16 and int8 exclude each other: choose one');
  const path = opts.output ?? defaultOnnxPath(weights);
  if (resolve(path) === resolve(weights)) throw new Error(`the output ${path} would overwrite the checkpoint`);
  const dir = dirname(resolve(path));
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`output folder ${dirname(path)} does not exist`);
  const { bytes, io } = await checkpointToOnnx(weights, opts);
  writeFileAtomic(path, [bytes]);
  return { path, bytes: bytes.byteLength, opset: opts.opset ?? MAX_OPSET, ...io };
}
