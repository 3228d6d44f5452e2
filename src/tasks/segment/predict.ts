/**
 * Runs a segmentation model on images (a file, a folder or a glob) through the shared Predictor and
 * streams one line per image: `{ source, mask, classes }` — the path of the mask PNG written for it
 * (8-bit, the class per pixel, the original image's size) and each class's share of the pixels.
 * `probs` also writes each image's softmax as a float32 `.npy` [classes, H, W]; `save` writes the
 * mask coloured over a copy of the image. A `.safetensors` checkpoint runs on libtorch, an `.onnx`
 * file from `kestrel export` on ONNX Runtime (without loading libtorch); both share the
 * post-processing, so they give the same masks.
 *
 * @example
 * for await (const r of predictSegment({ weights: 'best.safetensors', source: 'scans' })) console.log(r.source, 'mask' in r ? r.mask : r.error);
 */
import { extname, join, relative } from 'node:path';
import sharp from 'sharp';
import { CopiesDir, expandSource, runPredictor, type PredictBackend } from '../../engine/predictor.js';
import { encodeMaskPng, npyBytes, writeFileIn } from './masks.js';
import { overlayMask } from '../../plot/mask-overlay.js';
import { classShares, type PixelMask } from './postprocess.js';

export interface SegmentPredictOptions {
  /** A `.safetensors` segmentation checkpoint (libtorch) or its `.onnx` export (ONNX Runtime). */
  weights: string;
  source: string;
  batch?: number;
  workers?: number;
  maxPixels?: number;
  threads?: number;
  /** `.onnx` only: the execution provider. */
  provider?: string;
  /** Also write the softmax probabilities as `.npy` [classes, H, W] under `probs/`. */
  probs?: boolean;
  /** Also write coloured overlays under `overlays/`. */
  save?: boolean;
  project?: string;
  name?: string;
  /** Called with the overlays' folder when `save` writes them. */
  onSaveDir?: (dir: string) => void;
}

export interface SegmentResult {
  /** The written mask PNG. */
  mask: string;
  /** Each class's share of the image's pixels. */
  classes: Record<string, number>;
  /** The written probability map, with `probs`. */
  probs?: string;
}

export type SegmentPrediction = ({ source: string } & SegmentResult) | { source: string; error: string };

/** What a back end gives: the names and, per image, its mask (and probabilities). */
export type SegmentBackend = PredictBackend<PixelMask> & { names: string[] };

const withoutExt = (p: string): string => p.slice(0, p.length - extname(p).length);

export async function* predictSegment(o: SegmentPredictOptions): AsyncGenerator<SegmentPrediction> {
  const onnx = extname(o.weights).toLowerCase() === '.onnx';
  if (!onnx && o.provider !== undefined) throw new Error(`provider applies to .onnx models only (${o.weights} is a checkpoint)`);
  const paths = await expandSource(o.source);
  // Each back end is imported only when used: the ONNX one must not load libtorch.
  const backend: SegmentBackend = onnx ? await (await import('./predict-onnx.js')).segmentOnnxBackend(o) : await (await import('./predict-torch.js')).segmentTorchBackend(o);
  const out = new CopiesDir(paths, o.project ?? 'runs/segment', o.name ?? 'predict');
  if (o.save) o.onSaveDir?.(join(out.dir, 'overlays'));
  const lines = runPredictor(backend, paths, {
    ...(o.batch === undefined ? {} : { batch: o.batch }),
    ...(o.workers === undefined ? {} : { workers: o.workers }),
    ...(o.maxPixels === undefined ? {} : { maxPixels: o.maxPixels }),
  });
  for await (const line of lines) {
    if ('error' in line) {
      yield line;
      continue;
    }
    const rel = relative(out.dir, out.target(line.source));
    const mask = join(out.dir, 'masks', `${withoutExt(rel)}.png`);
    writeFileIn(mask, await encodeMaskPng(line.mask, line.width, line.height));
    const result: SegmentResult = { mask, classes: classShares(line.mask, backend.names) };
    if (line.probs) {
      result.probs = join(out.dir, 'probs', `${withoutExt(rel)}.npy`);
      writeFileIn(result.probs, npyBytes(line.probs, [backend.names.length, line.height, line.width]));
    }
    if (o.save) await saveOverlay(line.source, line, join(out.dir, 'overlays', rel));
    yield { source: line.source, ...result };
  }
}

/** The image with its mask coloured over it, in the image's own format (GIF and TIFF as JPEG). */
async function saveOverlay(source: string, m: PixelMask, dest: string): Promise<void> {
  const { data, info } = await sharp(source).rotate().removeAlpha().toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  if (info.width !== m.width || info.height !== m.height) throw new Error(`${source}: the image is ${info.width}×${info.height} but its mask ${m.width}×${m.height}`);
  const rgb = overlayMask(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 3, m.mask);
  await CopiesDir.write(dest, sharp(Buffer.from(rgb.buffer, rgb.byteOffset, rgb.byteLength), { raw: { width: m.width, height: m.height, channels: 3 } }));
}
