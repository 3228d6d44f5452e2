/**
 * An uploaded image to the network's input: the header is read first (sharp's metadata does not
 * decode pixels), so an unknown format or a decompression bomb is refused before any pixel is
 * decoded; then the same decode and eval transforms as `kestrel predict` (BatchStream), so the
 * server and the CLI give the same scores for the same file.
 */
import sharp from 'sharp';
import { IMAGE_FORMATS, decodeImage, refusedFormat, sniffFormat } from '../data/image.js';
import { Rng } from '../data/rng.js';
import { applyTransforms } from '../data/transforms.js';
import type { Preprocessing } from '../runtime/preprocess.js';
import { HttpError } from '../http/index.js';

/** The formats the service decodes: the data layer's one list (SVG and PDF are refused, as by `kestrel predict`). */
export { IMAGE_FORMATS };

/** One image of a request: where it came from (its file name, or 'body') and its bytes. */
export interface Upload {
  source: string;
  bytes: Buffer;
}

const firstLine = (e: unknown): string => String((e as Error)?.message ?? e).split('\n')[0]!.trim();
const isPixelLimit = (e: unknown): boolean => /pixel limit/i.test(firstLine(e));

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
    throw new HttpError('bad_image', `${u.source}: unreadable image header (${firstLine(e)})`);
  }
  if (!m.width || !m.height) throw new HttpError('bad_image', `${u.source}: the image has no size`);
  const pixels = m.width * (m.pageHeight ?? m.height);
  if (pixels > maxPixels) {
    throw new HttpError('too_many_pixels', `${u.source}: ${m.width}×${m.pageHeight ?? m.height} is ${pixels} pixels, over the limit of ${maxPixels}`);
  }
}

/**
 * The image as the network's input, CHW float32 (decode with `maxPixels` as sharp's own limit too,
 * then the model's eval transforms). A truncated or corrupt file is a 400.
 */
export async function prepareImage(u: Upload, pre: Preprocessing, maxPixels: number): Promise<Float32Array> {
  await checkHeader(u, maxPixels);
  let img;
  try {
    img = await decodeImage(u.bytes, { channels: pre.channels, maxPixels });
  } catch (e) {
    if (isPixelLimit(e)) throw new HttpError('too_many_pixels', `${u.source}: the image has more than ${maxPixels} pixels`);
    throw new HttpError('bad_image', `${u.source}: truncated or corrupt image data (${firstLine(e)})`);
  }
  // Eval transforms draw no random numbers; the generator is there because the pipeline takes one.
  const out = applyTransforms(img, pre.transforms, Rng.forSample(0, 0, 0));
  const [h, w] = pre.imgsz;
  if (out.channels !== pre.channels || out.height !== h || out.width !== w) {
    throw new Error(`the preprocessing gives ${out.channels}×${out.height}×${out.width} images for a ${pre.channels}×${h}×${w} input: end its transforms with a fixed-size crop or resize`);
  }
  return out.data;
}
