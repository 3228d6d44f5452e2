/** The one error type of the data layer: a bad path, folder, manifest or image set, in one line. */
export class DataError extends Error {
  override name = 'DataError';
}

/** A transform pipeline that cannot work (ops in the wrong order, sizes that differ): it fails the epoch rather than skipping samples. */
export class PipelineError extends Error {
  override name = 'PipelineError';
}

/** What is wrong with an image file, as ImageError names it. */
export type ImageProblem = 'missing' | 'empty' | 'not-image' | 'too-many-pixels' | 'truncated' | 'corrupt' | 'unreadable';

/** An image that cannot be used, said in our words (never libvips'); `problem` lets the server pick a status. */
export class ImageError extends Error {
  override name = 'ImageError';
  constructor(readonly problem: ImageProblem, message: string) {
    super(message);
  }
}

const firstLine = (e: unknown): string => String((e as Error)?.message ?? e).split('\n')[0]!.trim();

/**
 * libvips' and sharp's wording, most specific first: a truncated file reads as "corrupt header: …
 * premature end", while libjpeg's "Corrupt JPEG data: premature end of data segment" is garbage
 * inside the data.
 */
const WORDING: [RegExp, ImageProblem, string][] = [
  [/input file is missing|ENOENT/i, 'missing', 'file not found'],
  [/buffer is empty|file is empty/i, 'empty', 'the file is empty'],
  [/unsupported image format/i, 'not-image', 'not an image (no image format Kestrel reads)'],
  [/exceeds pixel limit/i, 'too-many-pixels', 'too many pixels'],
  [/corrupt jpeg data|bogus|huffman|unknown critical chunk|crc error/i, 'corrupt', 'corrupt image data'],
  [/premature end|end of stream|unexpected end|end of file|truncated|not enough data/i, 'truncated', 'truncated file (the image data ends early)'],
  [/corrupt|invalid|read error|unable to parse|bad |warning treated as error|xml parse error/i, 'corrupt', 'corrupt image data'],
];

/**
 * The one mapping from a decoder's error to what is wrong with the file: file not found, empty,
 * not an image, too many pixels, truncated, corrupt (anything else: unreadable, with the
 * decoder's first line). `maxPixels` and `size` ([width, height], when the header gave it) word
 * the pixel limit.
 *
 * @example
 * imageError(new Error('Input buffer has corrupt header: VipsJpeg: premature end of JPEG image')).message;
 * // 'truncated file (the image data ends early)'
 */
export function imageError(e: unknown, limit?: { maxPixels: number; size?: [number, number] | undefined }): ImageError {
  if (e instanceof ImageError) return e;
  const text = String((e as Error)?.message ?? e);
  const hit = WORDING.find(([re]) => re.test(text));
  if (!hit) return new ImageError('unreadable', `unreadable image (${firstLine(e)})`);
  const [, problem, words] = hit;
  return problem === 'too-many-pixels' && limit !== undefined ? tooManyPixels(limit.maxPixels, limit.size) : new ImageError(problem, words);
}

/** An image over the pixel limit; `size` is its [width, height] when the header gave it. */
export function tooManyPixels(maxPixels: number, size?: [number, number]): ImageError {
  const what = size ? `${size[0]}×${size[1]} is ${size[0] * size[1]} pixels` : 'the image has more pixels than allowed';
  return new ImageError('too-many-pixels', `too many pixels: ${what}, over the limit of ${maxPixels} (--max-pixels)`);
}
