/**
 * Pretrained weights into zoo models: open a file, a hub name or a Kestrel checkpoint, map the
 * publisher's names onto the model's, and say exactly what does not fit (missing and unexpected
 * keys, mismatched shapes). `importWeights` writes the result as a Kestrel checkpoint; training's
 * --pretrained uses `applyPretrained` (the head may differ; see tasks/classify/pretrained.ts).
 */
import { readFileSync } from 'node:fs';
import { CheckpointError, readSafetensorsHeader, readWeights, type WeightFile } from '../checkpoint/index.js';
import { buildTransforms, type TransformSpec } from '../data/transforms.js';
import { fetchHub, HUB, hubEntry, imagenetClasses, isHubName, type HubEntry } from '../hub/index.js';
import { IntermediateLayers } from '../models/pyramid.js';
import { createModel, type ClassifierModel, type TaskModel } from '../models/registry.js';
import type { Module } from '../nn/module.js';
import type { TaskName } from '../task.js';
import type { Tensor } from '../tensor/tensor.js';
import { saveCheckpoint, type CheckpointMeta, type Preprocess } from './checkpoint.js';
import { checkFinite } from './checkpoint-checks.js';
import { progress } from './progress.js';
import { hasTimmNames, timmRename } from './timm-names.js';

export interface OpenedWeights extends WeightFile {
  /** The file read (the cached download for a hub name). */
  path: string;
  hub: HubEntry | null;
}

/**
 * Opens weights by file path or hub name (downloading once into the cache, with a progress bar).
 *
 * @example
 * const w = await openWeights('torchvision:resnet18.IMAGENET1K_V1');
 */
export async function openWeights(spec: string, opts: { quiet?: boolean } = {}): Promise<OpenedWeights> {
  const hub = isHubName(spec) ? hubEntry(spec) : null;
  let path = spec;
  if (hub) {
    let bar: ReturnType<typeof progress> | null = null;
    path = await fetchHub(spec, {
      onProgress: (done, total) => {
        bar ??= progress({ label: `download ${spec}`, total: Math.ceil((total ?? 0) / 2 ** 20), unit: 'MiB', quiet: opts.quiet ?? false, write: (l) => void process.stderr.write(`${l}\n`) });
        bar.update(Math.floor(done / 2 ** 20));
      },
    });
    (bar as ReturnType<typeof progress> | null)?.stop();
  }
  return { ...readWeights(path), path, hub };
}

/**
 * A names file maps the publisher's names to the zoo's: a JSON object whose keys are names, or
 * prefixes ending in '.', and whose values are the new name (or prefix), or null to drop it.
 */
export function renameTensors(tensors: Map<string, Tensor>, names: Record<string, string | null>): Map<string, Tensor> {
  const rules = Object.entries(names).sort(([a], [b]) => b.length - a.length);
  const out = new Map<string, Tensor>();
  for (const [k, t] of tensors) {
    const rule = rules.find(([from]) => k === from || (from.endsWith('.') && k.startsWith(from)));
    if (rule && rule[1] === null) continue;
    out.set(rule ? `${rule[1]}${k.slice(rule[0].length)}` : k, t);
  }
  return out;
}

export function readNamesFile(path: string): Record<string, string | null> {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`${path}: not a JSON names file (${(e as Error).message.split('\n')[0]})`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw) || !Object.values(raw).every((v) => v === null || typeof v === 'string')) {
    throw new Error(`${path}: a names file is a JSON object mapping the file's names (or prefixes ending in '.') to the model's, or to null`);
  }
  return raw as Record<string, string | null>;
}

/** BatchNorm's counter: PyTorch loads state dicts without it (older files lack it), and so do we. */
const optional = (k: string): boolean => k.endsWith('.num_batches_tracked');

export interface Fit {
  /** The weights under the model's names (the file's own tensors; not copies). */
  mapped: Map<string, Tensor>;
  missing: string[];
  unexpected: string[];
  mismatched: { name: string; file: number[]; model: number[] }[];
}

const same = (a: number[], b: number[]): boolean => a.length === b.length && a.every((d, i) => d === b[i]);

/** Matches weights to a model by name: what fits, and what is missing, unexpected or of another shape. */
export function fitWeights(own: Map<string, Tensor>, tensors: Map<string, Tensor>): Fit {
  const mapped = new Map<string, Tensor>();
  const mismatched: Fit['mismatched'] = [];
  for (const [k, t] of own) {
    const w = tensors.get(k);
    if (w === undefined) continue;
    if (same(w.shape, t.shape)) mapped.set(k, w);
    else mismatched.push({ name: k, file: w.shape, model: t.shape });
  }
  const missing = [...own.keys()].filter((k) => !tensors.has(k) && !optional(k));
  const unexpected = [...tensors.keys()].filter((k) => !own.has(k));
  return { mapped, missing, unexpected, mismatched };
}

const TIMM_NAMES = "timm's names translated";

/**
 * The weights under the zoo's names for `model`: a names file's mapping when given, else timm's
 * layout translated where it differs from the zoo's (timm-names.ts); 'how' says which.
 */
export function zooNames(tensors: Map<string, Tensor>, model: string, namesFile?: string): { tensors: Map<string, Tensor>; how: string } {
  if (namesFile !== undefined) return { tensors: renameTensors(tensors, readNamesFile(namesFile)), how: `names from ${namesFile}` };
  const rename = timmRename(model);
  if (rename && hasTimmNames(tensors.keys())) return { tensors: new Map([...tensors].map(([k, t]) => [rename(k), t])), how: TIMM_NAMES };
  return { tensors, how: 'names as they are' };
}

const list = (xs: string[]): string => `${xs.slice(0, 6).join(', ')}${xs.length > 6 ? `, … (${xs.length} in all)` : ''}`;

/** One line naming what does not fit, or null when everything does. */
export function describeMisfit(fit: Pick<Fit, 'missing' | 'unexpected' | 'mismatched'>): string | null {
  const parts: string[] = [];
  if (fit.missing.length > 0) parts.push(`missing keys: ${list(fit.missing)}`);
  if (fit.unexpected.length > 0) parts.push(`unexpected keys: ${list(fit.unexpected)}`);
  if (fit.mismatched.length > 0) parts.push(`mismatched shapes: ${list(fit.mismatched.map((m) => `${m.name} [${m.file.join(', ')}] in the file, [${m.model.join(', ')}] in the model`))}`);
  return parts.length > 0 ? parts.join('; ') : null;
}

/** The state-dict name of a classifier's final Linear weight ('fc.weight', 'classifier.1.weight', 'head.weight'). */
export function headKey(model: ClassifierModel): string {
  const w = model.getClassifier().weight;
  const hit = [...model.stateDict()].find(([, t]) => t === w);
  if (!hit) throw new Error(`${model.config.name}: its classifier is not in its state dict`);
  return hit[0];
}

export interface ImportOptions {
  weights: string;
  /** A zoo model name; defaults to the hub entry's or the Kestrel checkpoint's. */
  model?: string;
  /** A names file (see renameTensors). */
  names?: string;
  out: string;
  /** Class names; default ImageNet's for 1,000 outputs, the checkpoint's for Kestrel files, else class_0… */
  classes?: string[];
  quiet?: boolean;
  log?: (line: string) => void;
}

/**
 * The publisher's evaluation of weights that are not Kestrel's: the hub entry's; for a plain file
 * of a zoo model, its torchvision ImageNet weights' (IMAGENET1K_V1), or timm's for a file in
 * timm's names; else torchvision's classic 256 → 224, bilinear.
 */
function publisherEval(w: OpenedWeights, model: string, how: string): HubEntry['eval'] {
  if (w.hub) return w.hub.eval;
  const publisher = how === TIMM_NAMES ? 'timm:' : 'torchvision:';
  return HUB.find((e) => e.model === model && e.name.startsWith(publisher))?.eval ?? { resize: 256, crop: 224, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], interpolation: 'bilinear' };
}

/**
 * torchvision's and timm's evaluation transforms resize PIL images, which PIL rounds to 8 bits
 * after each pass: the resize records `rounding: 'pil'` so predict gives the publisher's scores.
 */
function preprocessFor(w: OpenedWeights, meta: CheckpointMeta | null, model: string, how: string): Preprocess {
  if (meta) return meta.preprocess;
  const e = publisherEval(w, model, how);
  const transforms: TransformSpec[] = [
    { op: 'resize', size: e.resize, interpolation: e.interpolation, rounding: 'pil' },
    { op: 'centerCrop', size: e.crop },
    ...buildTransforms('eval', { imgsz: e.crop, channels: 3, mean: e.mean, std: e.std }).slice(-1),
  ];
  return { imgsz: e.crop, channels: 3, mean: e.mean, std: e.std, transforms };
}

/** One transform as the import log names it: `resize 256 bicubic (PIL's rounding)`, `crop 224`. */
function describeStep(t: TransformSpec): string {
  if (t.op === 'resize') return [`resize ${JSON.stringify(t.size)}`, t.interpolation, t.rounding === 'pil' ? "(PIL's rounding)" : undefined].filter((x) => x !== undefined).join(' ');
  return t.op === 'centerCrop' ? `crop ${JSON.stringify(t.size)}` : t.op;
}

/**
 * Turns weights from any source into a Kestrel classification checkpoint that `kestrel predict`
 * and `kestrel val` use as is. Everything must fit: the error names what does not.
 *
 * @example
 * await importWeights({ weights: 'resnet50.pth', model: 'resnet50', out: 'resnet50.safetensors' });
 */
export async function importWeights(o: ImportOptions): Promise<{ out: string; model: string; numClasses: number; how: string; tensors: number }> {
  const log = o.log ?? ((l: string) => void process.stdout.write(`${l}\n`));
  const w = await openWeights(o.weights, { quiet: o.quiet ?? false });
  try {
    const meta = w.format === 'kestrel' ? (JSON.parse(w.metadata.kestrel!) as CheckpointMeta) : null;
    const name = o.model ?? w.hub?.model ?? meta?.model.name;
    if (name === undefined) throw new Error('which model do these weights fit? give --model (kestrel models lists them)');
    const { tensors, how } = zooNames(w.tensors, name, o.names);
    const probe = createModel(name, { imgSize: 224 });
    const head = headKey(probe);
    probe.dispose();
    const numClasses = tensors.get(head)?.shape[0] ?? meta?.model.numClasses ?? 1000;
    const model = createModel(name, { ...(meta?.model ?? {}), numClasses });
    try {
      const fit = fitWeights(model.stateDict(), tensors);
      const misfit = describeMisfit(fit);
      if (misfit) throw new CheckpointError(w.path, `does not fit ${name}: ${misfit}`);
      checkFinite(w.path, fit.mapped);
      model.loadStateDict(fit.mapped, { strict: false });
      const classes = o.classes ?? meta?.classes ?? (numClasses === 1000 ? imagenetClasses() : Array.from({ length: numClasses }, (_, i) => `class_${i}`));
      if (classes.length !== numClasses) throw new Error(`${classes.length} class names for a head of ${numClasses} outputs`);
      const preprocess = preprocessFor(w, meta, name, how);
      const out: CheckpointMeta<'classify'> = {
        format: 'kestrel.classify/1', task: 'classify', model: model.config, classes, preprocess, epoch: meta?.epoch ?? 0,
        ...(meta?.metrics ? { metrics: meta.metrics } : {}), createdAt: new Date().toISOString(),
      };
      model.eval();
      saveCheckpoint(o.out, model, out);
      log(`${w.path} (${w.format}) → ${o.out}: ${name}, ${fit.mapped.size} tensors (${how}), ${numClasses} classes; eval: ${preprocess.transforms.map(describeStep).join(', ')}`);
      return { out: o.out, model: name, numClasses, how, tensors: fit.mapped.size };
    } finally {
      model.dispose();
    }
  } finally {
    for (const t of w.tensors.values()) t.dispose();
  }
}

/** What --pretrained implies before any weights are read: the model and the input normalisation. */
export interface PretrainedInfo {
  model?: string;
  /** A Kestrel checkpoint of a model over a zoo CNN (yolov8, deeplabv3…): that CNN. */
  backbone?: string;
  mean: number[];
  std: number[];
  channels: number;
}

/**
 * The model and normalisation of pretrained weights, from the hub table or the checkpoint's
 * header (no tensor is read, nothing is downloaded). Plain .pth and safetensors files say
 * neither: they get ImageNet's mean and std, which torchvision's and timm's CNNs trained with.
 */
export function pretrainedInfo(spec: string): PretrainedInfo {
  if (isHubName(spec)) {
    const e = hubEntry(spec);
    return { model: e.model, mean: e.eval.mean, std: e.eval.std, channels: 3 };
  }
  const meta = kestrelMeta(spec);
  if (meta) return { model: meta.model.name, ...(typeof meta.model.backbone === 'string' ? { backbone: meta.model.backbone } : {}), mean: meta.preprocess.mean, std: meta.preprocess.std, channels: meta.preprocess.channels };
  return { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], channels: 3 };
}

function kestrelMeta(path: string): CheckpointMeta | null {
  try {
    const raw = readSafetensorsHeader(path).metadata.kestrel;
    return raw === undefined ? null : (JSON.parse(raw) as CheckpointMeta);
  } catch (e) {
    if (e instanceof CheckpointError && e.problem === 'file not found') throw e;
    return null; // not a safetensors file: a .pth, read later
  }
}

const sameList = (a: string[], b: string[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/** A dense model's zoo CNN (an IntermediateLayers registered as `backbone`), or null. */
function zooBackbone(model: TaskModel): IntermediateLayers | null {
  const b = (model as { backbone?: unknown }).backbone;
  return b instanceof IntermediateLayers ? b : null;
}

/**
 * Whether `w` holds a classifier of `bb`'s CNN rather than a model like `model`: a Kestrel
 * classification checkpoint, else (a .pth, safetensors or hub file) more of its names are the
 * classifier's than the model's.
 */
function isClassifierOf(w: OpenedWeights, meta: CheckpointMeta | null, bb: IntermediateLayers, own: Map<string, Tensor>): boolean {
  if (meta) return meta.task === 'classify';
  const names = new Set(zooNames(w.tensors, bb.classifierName).tensors.keys());
  const asClassifier = [...bb.classifierKeys.values()].filter((k) => names.has(k)).length;
  return asClassifier > [...own.keys()].filter((k) => names.has(k)).length;
}

/**
 * A classifier's weights into a dense model's backbone: `layer1.0.conv1.weight` →
 * `backbone.layer1.0.conv1.weight`, `features.3.…` → `backbone.3.…`. Every backbone tensor must
 * be in the file with its shape (the error names what is not); the classifier's head is left out,
 * and the rest of the model keeps its fresh initialisation.
 */
function loadBackbone(model: TaskModel, bb: IntermediateLayers, w: OpenedWeights, meta: CheckpointMeta | null, spec: string): string[] {
  if (meta && meta.model.name !== bb.classifierName) {
    throw new CheckpointError(w.path, `is a classify checkpoint of ${meta.model.name}, and the backbone of this ${model.config.name} is ${bb.classifierName} (--backbone ${meta.model.name} builds one that fits)`);
  }
  const { tensors, how } = zooNames(w.tensors, bb.classifierName);
  const toModel = new Map([...bb.classifierKeys].map(([k, c]) => [c, `backbone.${k}`]));
  const renamed = new Map<string, Tensor>();
  const leftOut: string[] = [];
  for (const [k, t] of tensors) {
    const to = toModel.get(k);
    if (to === undefined) leftOut.push(k);
    else renamed.set(to, t);
  }
  const own = new Map([...model.stateDict()].filter(([k]) => k.startsWith('backbone.')));
  const fit = fitWeights(own, renamed);
  const misfit = describeMisfit({ missing: fit.missing.map((k) => bb.classifierKeys.get(k.slice('backbone.'.length))!), unexpected: [], mismatched: fit.mismatched });
  if (misfit) throw new CheckpointError(w.path, `does not fit ${bb.classifierName}, the backbone of ${model.config.name}: ${misfit}`);
  checkFinite(w.path, fit.mapped);
  model.loadStateDict(fit.mapped, { strict: false });
  const source = `${spec} (${w.format}${how === 'names as they are' ? '' : `, ${how}`})`;
  const rest = leftOut.length === 0 ? '' : ` (${leftOut.length} of its tensors left out: ${leftOut.slice(0, 3).join(', ')}${leftOut.length > 3 ? ', …' : ''})`;
  return [`pretrained: ${source}: ${fit.mapped.size} backbone tensors loaded from ${bb.classifierName}'s classifier weights${rest}; the rest of ${model.config.name} starts fresh`];
}

/**
 * Loads pretrained weights into a fresh model for fine-tuning. Everything but the head must fit
 * (the error names what does not), except from a Kestrel checkpoint of another task or model,
 * whose tensors load wherever name and shape agree (a detector's backbone into a classifier).
 * A dense model on a zoo CNN (a detector's or segmenter's `backbone`) also takes that CNN's
 * classifier weights (a file, hub name or Kestrel classification checkpoint) into its backbone.
 * The head loads only when its shape fits and the weights' classes (when they name any) are the
 * data's; otherwise it keeps its fresh initialisation, and the log says so.
 *
 * @example
 * const lines = await applyPretrained(model, 'torchvision:resnet18.IMAGENET1K_V1', { head: model.getClassifier(), classes, task: 'classify' });
 */
export async function applyPretrained(model: TaskModel, spec: string, o: { head: Module<never[], unknown> | null; classes: string[]; task: TaskName }): Promise<string[]> {
  const w = await openWeights(spec);
  try {
    const meta = w.format === 'kestrel' ? (JSON.parse(w.metadata.kestrel!) as CheckpointMeta) : null;
    const own = model.stateDict();
    const bb = o.task === 'classify' ? null : zooBackbone(model);
    if (bb && isClassifierOf(w, meta, bb, own)) return loadBackbone(model, bb, w, meta, spec);
    const { tensors, how } = zooNames(w.tensors, model.config.name);
    // Its buffers too: a re-initialised head with a batch norm must not keep the old statistics.
    const headParams = new Set([...(o.head?.parameters() ?? []), ...(o.head?.buffers() ?? [])]);
    const isHead = (k: string): boolean => headParams.has(own.get(k)!);
    const fit = fitWeights(own, tensors);
    const source = `${spec} (${w.format}${how === 'names as they are' ? '' : `, ${how}`})`;
    const foreign = meta !== null && (meta.task !== o.task || meta.model.name !== model.config.name);
    if (foreign) {
      const body = new Map([...fit.mapped].filter(([k]) => !isHead(k)));
      if (body.size === 0) throw new CheckpointError(w.path, `shares no tensor (by name and shape) with ${model.config.name}: a ${meta.task} checkpoint of ${meta.model.name}`);
      checkFinite(w.path, body);
      model.loadStateDict(body, { strict: false });
      const total = [...own.keys()].filter((k) => !isHead(k)).length;
      return [`pretrained: ${source}: ${body.size} of ${total} backbone tensors matched by name in a ${meta.task} checkpoint of ${meta.model.name}; the rest keep their fresh initialisation`];
    }
    const misfit = describeMisfit({
      missing: fit.missing.filter((k) => !isHead(k)),
      unexpected: fit.unexpected,
      mismatched: fit.mismatched.filter((m) => !isHead(m.name)),
    });
    if (misfit) throw new CheckpointError(w.path, `does not fit ${model.config.name}: ${misfit}`);
    const theirClasses = meta?.classes ?? (w.hub?.imagenet ? imagenetClasses() : null);
    const headKeys = [...own.keys()].filter(isHead);
    const headShapes = headKeys.every((k) => fit.mapped.has(k));
    const keepHead = headShapes && (theirClasses === null || sameList(theirClasses, o.classes));
    const load = new Map([...fit.mapped].filter(([k]) => keepHead || !isHead(k)));
    checkFinite(w.path, load);
    model.loadStateDict(load, { strict: false });
    // A classifier's head is one Linear whose rows are its classes; a dense head's first tensor says nothing of them.
    const n = theirClasses?.length ?? (o.task === 'classify' ? tensors.get(headKeys[0] ?? '')?.shape[0] : undefined);
    const have = n !== undefined ? `have ${n} classes${theirClasses ? ` (${theirClasses.slice(0, 3).join(', ')}, …)` : ''}` : headKeys.some((k) => tensors.has(k)) ? 'have a head of other shapes' : 'have no head';
    const headLine = keepHead
      ? `head loaded too (${theirClasses === null ? 'same number of outputs; the weights name no classes' : 'same classes'})`
      : `head re-initialised: the weights ${have}, the data ${o.classes.length}`;
    return [`pretrained: ${source}: ${load.size} tensors loaded; ${headLine}`];
  } finally {
    for (const t of w.tensors.values()) t.dispose();
  }
}
