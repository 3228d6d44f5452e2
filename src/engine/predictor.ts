/**
 * The one prediction loop every task and back end shares (Ultralytics' engine/predictor.py):
 * images from a file, folder or glob go through the back end's own eval pipeline in batches, and
 * results stream out one per image — failures as their own line — so nothing piles up in memory.
 * A back end (libtorch checkpoint, ONNX Runtime session) only turns a packed batch into results.
 * Never imports libtorch: `.onnx` prediction runs where the addon is missing.
 *
 * @example
 * for await (const r of runPredictor(backend, await expandSource('photos'), { batch: 8 })) console.log(r);
 */
import { mkdirSync, statSync } from 'node:fs';
import { dirname, extname, join, relative, resolve, sep } from 'node:path';
import type { Sharp } from 'sharp';
import { glob } from 'tinyglobby';
import { writeFileAtomic } from '../checkpoint/atomic.js';
import { IMAGE_EXTENSIONS, REFUSED_IMAGE_EXTENSIONS } from '../data/image.js';
import { BatchStream } from '../data/stream.js';
import type { SampleGeometry } from '../data/targets.js';
import type { TransformSpec } from '../data/transforms.js';
import { RunDir } from './run-dir.js';

/** What a task's back end gives the loop. */
export interface PredictBackend<R> {
  /** The eval pipeline and input channels the model was trained with. */
  transforms: TransformSpec[];
  channels: 1 | 3;
  /** Whether run() needs each sample's geometry (detection maps boxes back to the original pixels). */
  geometry?: boolean;
  /** Results for `n` packed samples (n·C·H·W floats), in order; `geometry` when asked for. */
  run(data: Float32Array, n: number, chw: [number, number, number], geometry?: SampleGeometry[]): Promise<R[]>;
  dispose(): Promise<void>;
}

export type PredictLine<R> = ({ source: string } & R) | { source: string; error: string };

export interface PredictorOptions<R> {
  batch?: number;
  workers?: number;
  /** Images with more pixels than this get an error line instead of being decoded; default DEFAULT_MAX_PIXELS. */
  maxPixels?: number;
  /** Called with each result before it is yielded (`--save` draws it onto a copy of the image). */
  save?: (source: string, result: R) => Promise<void>;
}

/** The image files a source names: one file, every image under a folder, or a glob's matches. */
export async function expandSource(source: string): Promise<string[]> {
  // Image-like files Kestrel does not read are listed too: each gets its own error line.
  const isImage = (p: string): boolean => [...IMAGE_EXTENSIONS, ...REFUSED_IMAGE_EXTENSIONS].includes(extname(p).toLowerCase());
  let st;
  try {
    st = statSync(source);
  } catch {
    st = null;
  }
  if (st?.isFile()) return [source];
  const files = st?.isDirectory()
    ? await glob('**/*', { cwd: source, absolute: true, onlyFiles: true })
    : /[*?[{]/.test(source) ? await glob(source, { absolute: true, onlyFiles: true }) : null;
  if (files === null) throw new Error(`source not found: ${source}`);
  const images = files.filter(isImage).sort();
  if (images.length === 0) throw new Error(`no images in ${source} (looked for ${IMAGE_EXTENSIONS.join(' ')})`);
  return images;
}

function commonDir(paths: string[]): string {
  let dir = dirname(resolve(paths[0]!));
  while (!paths.every((p) => resolve(p).startsWith(dir + sep))) dir = dirname(dir);
  return dir;
}

/**
 * Where `--save` writes annotated copies: a run folder, with each copy at its path below the
 * sources' common folder (so a/1.jpg and b/1.jpg both survive).
 */
export class CopiesDir {
  readonly dir: string;
  readonly #base: string;

  constructor(paths: string[], project: string, name: string) {
    this.dir = RunDir.create(project, name).path;
    this.#base = commonDir(paths);
  }

  /** The copy's path for a source image. */
  target(source: string): string {
    return join(this.dir, relative(this.#base, source));
  }

  /** Writes an image atomically in the format its name says; GIF and TIFF copies become `<name>.jpg`. */
  static async write(dest: string, image: Sharp): Promise<void> {
    const ext = extname(dest).toLowerCase();
    const format = ext === '.png' ? 'png' : ext === '.webp' ? 'webp' : 'jpeg';
    const buf = await image.toFormat(format).toBuffer();
    const target = format === 'jpeg' && ext !== '.jpg' && ext !== '.jpeg' ? `${dest}.jpg` : dest;
    mkdirSync(dirname(target), { recursive: true });
    writeFileAtomic(resolve(target), [buf]);
  }
}

/** Streams one line per path: the back end's result, or the reason the image could not be used. */
export async function* runPredictor<R extends object>(backend: PredictBackend<R>, paths: string[], o: PredictorOptions<R> = {}): AsyncGenerator<PredictLine<R>> {
  const stream = new BatchStream({ kind: 'files', paths, labels: new Int32Array(paths.length) }, {
    batchSize: o.batch ?? 32, transforms: backend.transforms, channels: backend.channels, seed: 0,
    ...(o.workers === undefined ? {} : { workers: o.workers }),
    ...(o.maxPixels === undefined ? {} : { maxPixels: o.maxPixels }),
    ...(backend.geometry ? { geometry: true } : {}),
  });
  try {
    for await (const r of stream.epoch(0)) {
      const results = r.kept.length > 0 ? await backend.run(r.data, r.kept.length, r.shape, r.geometry) : [];
      for (const f of r.failed) yield { source: paths[f.index]!, error: f.reason };
      for (const [i, index] of r.kept.entries()) {
        const source = paths[index]!;
        if (o.save) await o.save(source, results[i]!);
        yield { source, ...results[i]! };
      }
    }
  } finally {
    await stream.close();
    await backend.dispose();
  }
}
