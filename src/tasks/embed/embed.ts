/**
 * Image embeddings: the pooled features a classifier computes before its final Linear (timm's
 * pre-logits: global average pooling for the CNNs, the class token for the ViT), L2-normalised,
 * so a dot product is a cosine similarity. Runs the shared prediction loop (engine/predictor.ts):
 * images stream through the checkpoint's own eval pipeline, and an unreadable image is a line of
 * its own, not the end of the run.
 *
 * @example
 * const r = await embedToFile({ weights: 'resnet50.safetensors', source: 'photos/', out: 'photos.safetensors' });
 * r.count; r.failed;   // images embedded, and those that could not be read
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fitPipeline } from '../../data/input-size.js';
import { loadCheckpoint } from '../../engine/checkpoint.js';
import { importWeights } from '../../engine/pretrained.js';
import { hubEntry, isHubName, kestrelHome } from '../../hub/index.js';
import { expandSource, runPredictor, type PredictBackend, type PredictLine } from '../../engine/predictor.js';
import { MODELS, isModelName, type ClassifierModel } from '../../models/registry.js';
import { adoptArray } from '../../tensor/creation.js';
import { noGrad, setNumThreads } from '../../tensor/runtime.js';
import { tidy } from '../../tensor/scope.js';
import { writeEmbeddings, type EmbedMeta } from './file.js';

export interface EmbedOptions {
  /**
   * A classification checkpoint (.safetensors): one written by `kestrel train` or `kestrel import`;
   * or a hub name (`torchvision:resnet50.IMAGENET1K_V2`), imported once into $KESTREL_HOME/checkpoints.
   */
  weights: string;
  /** An image, a folder (searched recursively), a glob, or a list of image paths. */
  source: string | string[];
  batch?: number;
  workers?: number;
  maxPixels?: number;
  threads?: number;
}

export interface Vector {
  vector: Float32Array;
}

/** What the model behind the vectors is (for the file's metadata and to check a query fits an index). */
export interface EmbedModel {
  name: string;
  imgsz: number;
  dim: number;
}

/** Scales each row of `rows` (n rows of d) to unit length in place; an all-zero row stays zero. */
export function l2NormaliseRows(rows: Float32Array, d: number): Float32Array {
  for (let i = 0; i < rows.length; i += d) {
    let s = 0;
    for (let j = i; j < i + d; j++) s += rows[j]! * rows[j]!;
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let j = i; j < i + d; j++) rows[j]! *= inv;
  }
  return rows;
}

function checkOptions(o: EmbedOptions): void {
  if (/\.onnx$/i.test(o.weights)) {
    throw new Error(`${o.weights}: an exported .onnx model outputs class scores, not the pooled features before them; embed takes the .safetensors checkpoint it was exported from, or a hub name (torchvision:…, timm:…)`);
  }
  for (const key of ['threads', 'maxPixels', 'batch'] as const) {
    const v = o[key];
    if (v !== undefined && !(Number.isInteger(v) && v > 0)) throw new RangeError(`${key} must be a positive integer, got ${v}`);
  }
}

function torchBackend(o: EmbedOptions): PredictBackend<Vector> & { model: EmbedModel } {
  const ckpt = loadCheckpoint<ClassifierModel, 'classify'>(o.weights, { task: 'classify' });
  for (const t of ckpt.extra.values()) t.dispose();
  if (o.threads !== undefined) setNumThreads(o.threads);
  const { preprocess } = ckpt.meta;
  const m = ckpt.model;
  const channelsLast = isModelName(ckpt.meta.model.name) && MODELS[ckpt.meta.model.name].channelsLast;
  if (channelsLast) m.memoryFormat('channelsLast');
  const dim = m.numFeatures;
  return {
    model: { name: ckpt.meta.model.name, imgsz: preprocess.imgsz, dim },
    transforms: fitPipeline(preprocess.transforms, preprocess.imgsz), channels: preprocess.channels,
    async run(data, n, chw) {
      const flat = noGrad(() => tidy(() => {
        const images = adoptArray(data.subarray(0, n * chw[0] * chw[1] * chw[2]), [n, ...chw]);
        const features = m.forwardFeatures(channelsLast ? images.contiguous(true) : images);
        return m.forwardHead(features, { preLogits: true }).dataSync() as Float32Array;
      }));
      l2NormaliseRows(flat, dim);
      return Array.from({ length: n }, (_, i) => ({ vector: flat.slice(i * dim, (i + 1) * dim) }));
    },
    async dispose() {
      m.dispose();
    },
  };
}

/**
 * The checkpoint of a hub name: `kestrel import` of it, made once (downloading the weights when
 * they are not cached) and kept in $KESTREL_HOME/checkpoints, so embed, search and dedup share it.
 */
export async function hubCheckpoint(name: string, log: (line: string) => void = (l) => void process.stderr.write(`${l}\n`)): Promise<string> {
  const e = hubEntry(name);
  const [publisher, tag] = e.name.split(':') as [string, string];
  const path = join(kestrelHome(), 'checkpoints', publisher, `${tag}.safetensors`);
  if (!existsSync(path)) {
    mkdirSync(dirname(path), { recursive: true });
    await importWeights({ weights: e.name, out: path, log });
  }
  return path;
}

/**
 * Streams one line per image: `{ source, vector }`, or `{ source, error }` for an image that
 * could not be read. `onModel` hears what the model is before the first line.
 */
export async function* embedImages(o: EmbedOptions, onModel?: (m: EmbedModel) => void): AsyncGenerator<PredictLine<Vector>> {
  checkOptions(o);
  const paths = typeof o.source === 'string' ? await expandSource(o.source) : o.source;
  const backend = torchBackend(isHubName(o.weights) ? { ...o, weights: await hubCheckpoint(o.weights) } : o);
  try {
    onModel?.(backend.model);
  } catch (e) {
    await backend.dispose();
    throw e;
  }
  yield* runPredictor(backend, paths, {
    ...(o.batch === undefined ? {} : { batch: o.batch }),
    ...(o.workers === undefined ? {} : { workers: o.workers }),
    ...(o.maxPixels === undefined ? {} : { maxPixels: o.maxPixels }),
  });
}

export interface EmbedResult {
  out: string;
  count: number;
  dim: number;
  /** Images that could not be read, with the reason (each was also passed to onError). */
  failed: { source: string; error: string }[];
}

/** Embeds every image of `source` and writes the vectors and paths to `out` (see file.ts). */
export async function embedToFile(o: EmbedOptions & { out: string; onError?: (source: string, error: string) => void }): Promise<EmbedResult> {
  let model: EmbedModel | null = null;
  const paths: string[] = [];
  const rows: Float32Array[] = [];
  const failed: EmbedResult['failed'] = [];
  for await (const line of embedImages(o, (m) => (model = m))) {
    if ('error' in line) {
      failed.push(line);
      o.onError?.(line.source, line.error);
      continue;
    }
    paths.push(line.source);
    rows.push(line.vector);
  }
  const m = model as EmbedModel | null;
  if (m === null) throw new Error('no model was loaded');
  if (paths.length === 0) throw new Error(`no image of ${typeof o.source === 'string' ? o.source : 'the source'} could be read (${failed.length} failed): nothing to write`);
  const vectors = new Float32Array(paths.length * m.dim);
  rows.forEach((r, i) => vectors.set(r, i * m.dim));
  const meta: Omit<EmbedMeta, 'format' | 'createdAt'> = { model: { weights: isHubName(o.weights) ? o.weights : resolve(o.weights), name: m.name, imgsz: m.imgsz }, dim: m.dim, paths };
  writeEmbeddings(o.out, vectors, meta);
  return { out: o.out, count: paths.length, dim: m.dim, failed };
}
