/**
 * What a checkpoint must satisfy before Kestrel trusts it: its metadata (classes that match the
 * head, sane sizes, positive std…) before any model is built, and its tensors' names, shapes and
 * dtypes against the model before any data is read, so a hostile or damaged file costs a header
 * read and gives one line, never gigabytes. The weights read are then checked to be finite.
 */
import { z } from 'zod';
import { CheckpointError, type TensorInfo } from '../checkpoint/index.js';
import { parseTransforms } from '../data/transform-schema.js';
import { BYTES } from '../tensor/dtype.js';
import { tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import type { CheckpointMeta } from './checkpoint.js';

/** ImageNet-21k has 21,841 classes; beyond this a head is a mistake or an attack. */
const MAX_CLASSES = 100_000;
const MAX_IMGSZ = 8192;
const MAX_CHANNELS = 16;

const finite = z.number().refine(Number.isFinite, 'must be finite');
const schema = z.object({
  model: z.object({
    name: z.string().min(1),
    numClasses: z.number().int().min(1).max(MAX_CLASSES),
    inChannels: z.number().int().min(1).max(MAX_CHANNELS),
    imgSize: z.number().int().min(1).max(MAX_IMGSZ).optional(),
  }),
  classes: z.array(z.string()).min(1).max(MAX_CLASSES),
  preprocess: z.object({
    imgsz: z.number().int().min(1).max(MAX_IMGSZ),
    channels: z.union([z.literal(1), z.literal(3)]),
    mean: z.array(finite).min(1),
    std: z.array(finite.refine((v) => v > 0, 'must be positive')).min(1),
    transforms: z.unknown(),
  }),
  epoch: z.number().int().min(0),
});

/** Checks the metadata of `path`; throws a CheckpointError naming the first problem. */
export function checkMeta(path: string, meta: CheckpointMeta): void {
  const r = schema.safeParse(meta);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new CheckpointError(path, `metadata ${i.path.join('.')}: ${i.message}`);
  }
  const { model, classes, preprocess: p } = r.data;
  if (classes.length !== model.numClasses) throw new CheckpointError(path, `lists ${classes.length} class names for a head of ${model.numClasses} outputs`);
  if (new Set(classes).size !== classes.length) throw new CheckpointError(path, 'lists a class name twice');
  if (p.mean.length !== p.channels || p.std.length !== p.channels) throw new CheckpointError(path, `metadata preprocess: mean/std have ${p.mean.length}/${p.std.length} values for ${p.channels} channel(s)`);
  if (model.inChannels !== p.channels) throw new CheckpointError(path, `the model takes ${model.inChannels} channel(s) but its preprocessing gives ${p.channels}`);
  try {
    parseTransforms(p.transforms);
  } catch (e) {
    throw new CheckpointError(path, `metadata preprocess.transforms: ${(e as Error).message}`);
  }
}

const bytesOf = (info: TensorInfo): number => info.dataOffsets[1] - info.dataOffsets[0];

/**
 * The file's tensors against the model's state dict: every model tensor present with its shape and
 * dtype; the rest (optimizer moments, EMA copy, RNG) at most four times the model's size.
 */
export function checkTensors(path: string, own: Map<string, Tensor>, file: Map<string, TensorInfo>): void {
  let modelBytes = 0;
  for (const [name, t] of own) {
    const info = file.get(name);
    if (!info) throw new CheckpointError(path, `has no tensor '${name}' (the model needs it)`);
    if (info.shape.join(',') !== t.shape.join(',')) throw new CheckpointError(path, `tensor '${name}' has shape [${info.shape.join(', ')}]; the model needs [${t.shape.join(', ')}]`);
    if (info.dtype !== t.dtype) throw new CheckpointError(path, `tensor '${name}' is ${info.dtype}; the model needs ${t.dtype}`);
    modelBytes += t.numel() * BYTES[t.dtype];
  }
  const extra = [...file].filter(([name]) => !own.has(name)).reduce((sum, [, info]) => sum + bytesOf(info), 0);
  if (extra > 4 * modelBytes + (1 << 20)) throw new CheckpointError(path, `holds ${extra} bytes beyond the model's ${modelBytes}: more than training state can be`);
}

/** Refuses weights with NaN or infinite values (a diverged run), naming the first such tensor. */
export function checkFinite(path: string, tensors: Map<string, Tensor>): void {
  for (const [name, t] of tensors) {
    if (t.dtype !== 'float32' && t.dtype !== 'float64' && t.dtype !== 'float16' && t.dtype !== 'bfloat16') continue;
    // x − x is NaN exactly where x is NaN or ±∞.
    const found = tidy(() => t.sub(t).isnan().any().item()) !== 0;
    if (found) throw new CheckpointError(path, `tensor '${name}' has NaN or infinite values (a diverged run?)`);
  }
}
