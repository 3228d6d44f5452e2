/**
 * The preprocessing an `.onnx` classifier needs: from its embedded Kestrel contract, from the user
 * (flags or a YAML file, for third-party models such as torchvision exports), or both, user keys
 * winning. Resolved against the shapes the graph declares.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { fitPipeline } from '../data/input-size.js';
import { buildTransforms } from '../data/presets.js';
import { parseTransforms } from '../data/transform-schema.js';
import type { TransformSpec } from '../data/transforms.js';
import type { Interpolation } from '../data/filters.js';
import type { DeployContract } from '../onnx/contract.js';
import { OnnxError } from './errors.js';

type Size = number | [number, number];

/** Preprocessing given by the user; every key optional, each one overriding the model's contract. */
export interface PreprocessSpec {
  /** Class names, index = output column. */
  names?: string[];
  /** The network's input size (the crop): a number (square) or [h, w]. */
  imgsz?: Size;
  channels?: 1 | 3;
  /** Per-channel mean and std on the 0–1 scale (one value is used for every channel). */
  mean?: number[];
  std?: number[];
  /** Resize before the crop: a number sets the shorter side, [h, w] the exact size. */
  resize?: Size;
  /** Centre crop; must give imgsz (it is imgsz when left out). */
  crop?: Size;
  /** The resize's filter, as torchvision's Resize(interpolation=…): bilinear (default) or bicubic. */
  interpolation?: Interpolation;
  /** 'pil': resize as PIL does (8-bit, rounded after each pass), as torchvision on PIL images; float otherwise. */
  rounding?: 'pil';
  /** A Kestrel eval pipeline instead of resize/crop (without normalize: mean and std give it). */
  transforms?: TransformSpec[];
  /** Whether the model's output is 'logits' (softmax applied here) or already 'probs'. */
  output?: 'logits' | 'probs';
}

/** Everything needed to turn an image file into the network's input and its output into labels. */
export type Preprocessing = Pick<DeployContract, 'names' | 'imgsz' | 'channels' | 'mean' | 'std' | 'transforms' | 'output'>;

/** What the graph declares: null where a dimension is free. */
export interface ModelShapes {
  channels: number | null;
  height: number | null;
  width: number | null;
  classes: number | null;
}

export const PREPROCESS_KEYS = ['names', 'imgsz', 'channels', 'mean', 'std', 'resize', 'crop', 'interpolation', 'rounding', 'transforms', 'output'] as const;

const HOW = 'give --mean and --std (and as needed --names, --imgsz, --resize, --crop, --channels, --output) or --preprocess file.yaml with those keys';

/**
 * Class names from a text file (one per line, blank lines skipped) when `spec` names an existing
 * file, else from a comma-separated list.
 *
 * @example
 * readNames('cat,dog,fish'); // ['cat', 'dog', 'fish']
 */
export function readNames(spec: string, base = '.'): string[] {
  const file = resolve(base, spec);
  const names = existsSync(file)
    ? readFileSync(file, 'utf8').split(/\r?\n/).map((s) => s.trim()).filter((s) => s.length > 0)
    : spec.split(',').map((s) => s.trim());
  if (names.length === 0 || names.some((n) => n.length === 0)) throw new Error(`names "${spec}": ${existsSync(file) ? 'the file has no names' : 'empty name in the list'}`);
  return names;
}

const size = z.union([z.number().int().positive(), z.tuple([z.number().int().positive(), z.number().int().positive()])]);
const name = z.union([z.string(), z.number()]).transform(String);
const yamlSchema = z.strictObject({
  // A list, a {0: cat, 1: dog} map (Ultralytics' data YAML), or a text file beside the YAML.
  names: z.union([z.array(name).min(1), z.record(z.string().regex(/^\d+$/, 'keys must be class indices'), name), z.string().min(1)]).optional(),
  imgsz: size.optional(),
  channels: z.union([z.literal(1), z.literal(3)]).optional(),
  mean: z.array(z.number()).min(1).optional(),
  std: z.array(z.number().positive()).min(1).optional(),
  resize: size.optional(),
  crop: size.optional(),
  interpolation: z.enum(['bilinear', 'bicubic']).optional(),
  rounding: z.literal('pil').optional(),
  transforms: z.array(z.unknown()).optional(),
  output: z.enum(['logits', 'probs']).optional(),
});

function namesFromMap(file: string, map: Record<string, string>): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(map)) out[Number(k)] = v;
  const hole = Array.from(out, (v) => v).findIndex((v) => v === undefined);
  if (hole >= 0) throw new Error(`${file}: "names" has no entry for class ${hole}`);
  return out;
}

/**
 * Reads a preprocessing YAML file (keys as PreprocessSpec; `names` may be a list, an index map or
 * a text file relative to the YAML), with one-line errors naming the file and the key.
 *
 * @example
 * // imagenet.yaml:  { imgsz: 224, resize: 256, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], names: imagenet.txt }
 * const spec = loadPreprocessFile('imagenet.yaml');
 */
export function loadPreprocessFile(file: string): PreprocessSpec {
  if (!existsSync(file)) throw new Error(`${file}: no such file`);
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: not valid YAML (${String((e as Error).message).split('\n')[0]})`);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new Error(`${file}: expected a mapping with the keys ${PREPROCESS_KEYS.join(', ')}`);
  const r = yamlSchema.safeParse(doc);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    if (issue.code === 'unrecognized_keys') throw new Error(`${file}: unknown key "${issue.keys[0]}" (known: ${PREPROCESS_KEYS.join(', ')})`);
    throw new Error(`${file}: "${issue.path.join('.')}" ${issue.message.replace(/^Invalid input: /, '')}`);
  }
  const { names, transforms, ...rest } = r.data;
  const spec = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)) as PreprocessSpec;
  if (names !== undefined) {
    spec.names = typeof names === 'string' ? readNames(names, dirname(file)) : Array.isArray(names) ? names : namesFromMap(file, names);
  }
  if (transforms !== undefined) {
    try {
      spec.transforms = parseTransforms(transforms);
    } catch (e) {
      throw new Error(`${file}: "transforms": ${(e as Error).message}`);
    }
  }
  return spec;
}

const pairOf = (s: Size): [number, number] => (typeof s === 'number' ? [s, s] : [s[0], s[1]]);
const sizeText = ([h, w]: [number, number]): string => `${h}×${w}`;
const isTensorOp = (t: TransformSpec): boolean => t.op === 'normalize' || t.op === 'toTensor';

/** Per-channel values: one value stands for every channel. */
function perChannel(path: string, key: string, v: number[], channels: number): number[] {
  if (v.length === channels) return v;
  if (v.length === 1) return Array.from({ length: channels }, () => v[0]!);
  throw new OnnxError(path, `${key} has ${v.length} values for ${channels} channel(s)`);
}

/** resize + centre crop from the user's sizes; by default Kestrel's eval preset (resize imgsz·256/224, crop imgsz). */
function resizeCrop(path: string, user: PreprocessSpec, imgsz: [number, number], channels: 1 | 3): TransformSpec[] {
  const crop = pairOf(user.crop ?? imgsz);
  if (crop[0] !== imgsz[0] || crop[1] !== imgsz[1]) throw new OnnxError(path, `crop ${sizeText(crop)} does not give the input size ${sizeText(imgsz)} (imgsz)`);
  if (user.resize !== undefined) return [{ op: 'resize', size: user.resize }, { op: 'centerCrop', size: imgsz }];
  if (imgsz[0] !== imgsz[1]) return [{ op: 'resize', size: imgsz }];
  return buildTransforms('eval', { imgsz: imgsz[0], channels }).filter((t) => !isTensorOp(t));
}

/**
 * Merges the embedded contract with the user's keys (user wins) and checks the result against the
 * graph's declared shapes. `path` names the model in errors. The transforms always end at imgsz
 * (fitPipeline), so a file whose contract has no fixed-size op still takes images of any size.
 */
export function resolvePreprocessing(path: string, contract: DeployContract | null, user: PreprocessSpec, model: ModelShapes): Preprocessing {
  const given = Object.values(user).some((v) => v !== undefined);
  if (contract === null && !given) throw new OnnxError(path, `no Kestrel metadata in the file and no preprocessing given: ${HOW}`);
  const modelChannels = model.channels === 1 || model.channels === 3 ? model.channels : null;
  const channels = user.channels ?? contract?.channels ?? modelChannels ?? 3;
  const rawMean = user.mean ?? contract?.mean;
  const rawStd = user.std ?? contract?.std;
  if (rawMean === undefined || rawStd === undefined) {
    throw new OnnxError(path, `no Kestrel metadata in the file, so the normalisation is needed: give --mean and --std (or mean and std in the --preprocess YAML)`);
  }
  const mean = perChannel(path, 'mean', rawMean, channels);
  const std = perChannel(path, 'std', rawStd, channels);

  const size = user.imgsz ?? user.crop ?? contract?.imgsz ?? (model.height !== null && model.width !== null ? [model.height, model.width] : undefined);
  if (size === undefined) throw new OnnxError(path, 'the model\'s input height and width are not fixed: give the input size with --imgsz (or imgsz in the --preprocess YAML)');
  const imgsz = pairOf(size);

  let geometric: TransformSpec[];
  if (user.transforms !== undefined) {
    if (user.transforms.some(isTensorOp)) throw new OnnxError(path, 'leave normalize and toTensor out of "transforms": mean and std give the normalisation');
    geometric = user.transforms;
  } else if (contract === null || user.imgsz !== undefined || user.resize !== undefined || user.crop !== undefined) {
    geometric = resizeCrop(path, user, imgsz, channels);
  } else {
    geometric = contract.transforms.filter((t) => !isTensorOp(t));
  }

  const names = user.names ?? contract?.names ?? (model.classes !== null ? Array.from({ length: model.classes }, (_, i) => String(i)) : null);
  if (names === null) throw new OnnxError(path, 'the model\'s number of classes is not fixed: give the class names with --names (or names in the --preprocess YAML)');
  if (model.classes !== null && names.length !== model.classes) {
    throw new OnnxError(path, `${names.length} class names for a model with ${model.classes} outputs`);
  }
  return {
    names,
    imgsz,
    channels,
    mean,
    std,
    transforms: resampling(path, fitPipeline([...geometric, { op: 'normalize', mean, std }], imgsz), user),
    output: user.output ?? contract?.output ?? 'logits',
  };
}

/** The user's interpolation and rounding on every resize of the pipeline (the contract's included). */
function resampling(path: string, transforms: TransformSpec[], user: PreprocessSpec): TransformSpec[] {
  const { interpolation, rounding } = user;
  if (interpolation === undefined && rounding === undefined) return transforms;
  if (!transforms.some((t) => t.op === 'resize')) {
    throw new OnnxError(path, `${interpolation === undefined ? 'rounding' : 'interpolation'} applies to a resize, and the preprocessing has none (its images already come at the input size)`);
  }
  return transforms.map((t) => (t.op === 'resize' ? { ...t, ...(interpolation ? { interpolation } : {}), ...(rounding ? { rounding } : {}) } : t));
}
