/**
 * An uploaded image to the network's input: the header is read first (sharp's metadata does not
 * decode pixels), so an unknown format or a decompression bomb is refused before any pixel is
 * decoded; then the same decode and eval transforms as `kestrel predict` (BatchStream), so the
 * server and the CLI give the same scores for the same file.
 */
import sharp from 'sharp';
import { imageError, tooManyPixels, type ImageError } from '../data/errors.js';
import { IMAGE_FORMATS, decodeError, decodeImage, refusedFormat, sniffFormat } from '../data/image.js';
import { fitPipeline } from '../data/input-size.js';
import { Rng } from '../data/rng.js';
import { applySampleTransforms } from '../data/sample.js';
import type { SampleGeometry } from '../data/targets.js';
import { applyTransforms } from '../data/transforms.js';
import type { Preprocessing } from '../runtime/preprocess.js';
import { HttpError } from '../http/index.js';
import { encodeMaskPng } from '../tasks/segment/masks.js';
import { maskFromLogits, sharesOf, type ClassShare } from '../tasks/segment/postprocess.js';

/** The formats the service decodes: the data layer's one list (SVG and PDF are refused, as by `kestrel predict`). */
export { IMAGE_FORMATS };

/** One image of a request: where it came from (its file name, or 'body') and its bytes. */
export interface Upload {
  source: string;
  bytes: Buffer;
}

/** What a decoder's complaint means for the client: 415 not an image, 413 too many pixels, else 400. */
function refusal(source: string, e: ImageError): HttpError {
  if (e.problem === 'not-image') return new HttpError('unsupported_media_type', `${source}: not an image; send ${IMAGE_FORMATS.join(', ')}`);
  if (e.problem === 'too-many-pixels') return new HttpError('too_many_pixels', `${source}: ${e.message}`);
  return new HttpError('bad_image', `${source}: ${e.message}`);
}

/**
 * Refuses what cannot be decoded safely, from the header alone: 400 empty or broken, 415 not a
 * raster image (told from its first bytes, so sharp never parses an SVG or PDF), 413 too many pixels.
 */
export async function checkHeader(u: Upload, maxPixels: number): Promise<void> {
  if (u.bytes.length === 0) throw new HttpError('bad_image', `${u.source}: the file is empty`);
  const refused = refusedFormat(sniffFormat(u.bytes));
  if (refused !== null) throw new HttpError('unsupported_media_type', `${u.source}: ${refused}`);
  let m: sharp.Metadata;
  try {
    m = await sharp(u.bytes, { limitInputPixels: false }).metadata();
  } catch (e) {
    throw refusal(u.source, decodeError(e, u.bytes));
  }
  if (!m.width || !m.height) throw new HttpError('bad_image', `${u.source}: the image has no size`);
  const size: [number, number] = [m.width, m.pageHeight ?? m.height];
  if (size[0] * size[1] > maxPixels) throw refusal(u.source, tooManyPixels(maxPixels, size));
}

/** A segmentation model's answer for one image: its mask as an 8-bit PNG (base64, pixel = class) and every class's share of the pixels. */
export interface SegmentAnswer {
  mask: { png: string; width: number; height: number };
  shares: ClassShare[];
}

/**
 * One image's answer from its logits [classes, h, w] and the geometry that made its input: the
 * same mask as `kestrel predict` (maskFromLogits), as a PNG, and the class shares.
 */
export async function segmentAnswer(logits: Float32Array, classes: number, hw: readonly [number, number], geometry: SampleGeometry, names: readonly string[]): Promise<SegmentAnswer> {
  const m = maskFromLogits(logits, classes, hw, geometry);
  const png = await encodeMaskPng(m.mask, m.width, m.height);
  return { mask: { png: png.toString('base64'), width: m.width, height: m.height }, shares: sharesOf(m.mask, names) };
}

/** An image ready for the model: its input, and for a detector where that input came from in the image. */
export interface Prepared {
  data: Float32Array;
  /** input = original·scale + pad (to map boxes back); null unless asked for. */
  geometry: SampleGeometry | null;
}

/**
 * The image as the network's input, CHW float32 (decode with `maxPixels` as sharp's own limit too,
 * then the model's eval transforms, which end at its input size whatever the image's), with its
 * geometry when `geometry` is set (a detector's letterbox, undone on its boxes). Whatever is wrong
 * with the file is a 4xx.
 */
export async function prepareImage(u: Upload, pre: Preprocessing, maxPixels: number, geometry = false): Promise<Prepared> {
  await checkHeader(u, maxPixels);
  let img;
  try {
    img = await decodeImage(u.bytes, { channels: pre.channels, maxPixels });
  } catch (e) {
    throw refusal(u.source, imageError(e, { maxPixels }));
  }
  // Eval transforms draw no random numbers; the generator is there because the pipeline takes one.
  const rng = Rng.forSample(0, 0, 0);
  const pipeline = fitPipeline(pre.transforms, pre.imgsz);
  let out: { data: Float32Array; channels: number; height: number; width: number };
  let moved: SampleGeometry | null = null;
  if (geometry) {
    const s = applySampleTransforms({ img, geometry: { size: [img.height, img.width], scale: [1, 1], pad: [0, 0] } }, pipeline, rng);
    [out, moved] = [s.img, s.geometry ?? null];
    if (moved === null) throw new Error('the preprocessing loses where boxes come from (an op that is not axis-aligned)');
  } else {
    out = applyTransforms(img, pipeline, rng);
  }
  const [h, w] = pre.imgsz;
  if (out.channels !== pre.channels || out.height !== h || out.width !== w) {
    throw new Error(`the preprocessing gives ${out.channels}×${out.height}×${out.width} images for a ${pre.channels}×${h}×${w} input`);
  }
  return { data: out.data, geometry: moved };
}
