/**
 * Image files to pixels with sharp: EXIF orientation applied, alpha flattened on white, and the
 * colour space converted to the channels asked for (grey ↔ RGB), as 8-bit HWC. Plain JPEGs read
 * as RGB take the lean path instead (jpeg.ts: libjpeg-turbo directly, the same pixels).
 */
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { extname } from 'node:path';
import sharp from 'sharp';
import { ImageError, imageError, tooManyPixels } from './errors.js';
import { decodeLeanJpeg, leanJpegSize } from './jpeg.js';
import { DEFAULT_MAX_PIXELS } from './limits.js';
import { pngHeader, readPaletteIndices } from './png.js';

export { DEFAULT_MAX_PIXELS } from './limits.js';

/**
 * The one list of image formats Kestrel reads, for datasets, `kestrel predict` and `kestrel serve`
 * alike: raster formats only. SVG is refused everywhere: it is a document format that libvips
 * renders (librsvg), external references included, not an image to decode.
 */
const FORMATS = {
  jpeg: ['.jpg', '.jpeg'],
  png: ['.png'],
  webp: ['.webp'],
  gif: ['.gif'],
  tiff: ['.tiff', '.tif'],
} as const;

/** The formats read, by sharp's names for them. */
export const IMAGE_FORMATS: readonly string[] = Object.keys(FORMATS);

/** Extensions (lower case, with the dot) that the data layer reads as images. */
export const IMAGE_EXTENSIONS: readonly string[] = Object.values(FORMATS).flat();

export const isImagePath = (path: string): boolean => IMAGE_EXTENSIONS.includes(extname(path).toLowerCase());

/**
 * Extensions of image formats Kestrel refuses (vector documents) or cannot read. A folder given to
 * `predict` lists these too, so each gets its own error line instead of vanishing silently.
 */
export const REFUSED_IMAGE_EXTENSIONS: readonly string[] = ['.svg', '.svgz', '.pdf', '.bmp', '.heic', '.heif', '.avif', '.ico', '.jp2'];


const LUMA: [number, number, number] = [0.299, 0.587, 0.114];

const startsWith = (b: Uint8Array, at: number, ascii: string): boolean =>
  b.length >= at + ascii.length && [...ascii].every((c, i) => b[at + i] === c.charCodeAt(0));

/**
 * The format of an image from its first bytes (the signatures libvips' loaders test for), or of a
 * document that is refused: `svg`, `pdf`; null for anything else.
 */
export function sniffFormat(head: Uint8Array): string | null {
  if (head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return 'jpeg';
  if (startsWith(head, 0, '\x89PNG\r\n\x1a\n')) return 'png';
  if (startsWith(head, 0, 'RIFF') && startsWith(head, 8, 'WEBP')) return 'webp';
  if (startsWith(head, 0, 'GIF87a') || startsWith(head, 0, 'GIF89a')) return 'gif';
  if (['II*\0', 'MM\0*', 'II+\0', 'MM\0+'].some((sig) => startsWith(head, 0, sig))) return 'tiff';
  if (startsWith(head, 0, '%PDF')) return 'pdf';
  const text = Buffer.from(head.subarray(0, 256)).toString('latin1').replace(/^\xef\xbb\xbf/, '').trimStart();
  if (text.startsWith('<') && /<svg[\s>]/i.test(text)) return 'svg';
  return null;
}

/** Why bytes of this format are not read, in one line; null when they are. */
export function refusedFormat(format: string | null): string | null {
  if (format !== null && IMAGE_FORMATS.includes(format)) return null;
  const accepted = IMAGE_FORMATS.join(', ');
  if (format === 'svg') return `svg images are not accepted (a document format that libvips renders, external references included); send ${accepted}`;
  return format === null ? `not an image; send ${accepted}` : `${format} images are not accepted; send ${accepted}`;
}

/** The first bytes of a file, enough for sniffFormat. */
function readHead(path: string): Uint8Array {
  return readAt(path, 0, 256);
}

function readAt(path: string, position: number, length: number): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    const bytes = Buffer.alloc(length);
    return bytes.subarray(0, readSync(fd, bytes, 0, length, position));
  } finally {
    closeSync(fd);
  }
}

const TAIL = 64;

/**
 * Whether an image's bytes stop before its format's end marker: PNG's IEND chunk, JPEG's EOI
 * marker, GIF's trailer, or a WebP shorter than its RIFF header says. Asked only after a decode
 * failed: the decoders' own wording for a cut-off file varies with where the cut falls (libspng says
 * "end of stream" or "read error", libjpeg "premature end" or "corrupt data"), the bytes do not.
 */
export function endsEarly(input: string | Uint8Array): boolean {
  const size = typeof input === 'string' ? statSync(input).size : input.length;
  const head = typeof input === 'string' ? readHead(input) : input.subarray(0, 256);
  const tail = typeof input === 'string' ? readAt(input, Math.max(0, size - TAIL), TAIL) : input.subarray(Math.max(0, size - TAIL));
  const has = (ascii: string): boolean => Buffer.from(tail).includes(Buffer.from(ascii, 'latin1'));
  switch (sniffFormat(head)) {
    case 'png':
      return !has('IEND');
    case 'jpeg':
      return !has('\xff\xd9');
    case 'gif':
      return tail[tail.length - 1] !== 0x3b;
    case 'webp':
      return head.length >= 8 && Buffer.from(head).readUInt32LE(4) + 8 > size;
    default:
      return false;
  }
}

/** imageError, with a corrupt or unreadable file that stops before its end marker (endsEarly) called truncated. */
export function decodeError(e: unknown, input: string | Buffer, limit?: { maxPixels: number; size?: [number, number] | undefined }): ImageError {
  const err = imageError(e, limit);
  if (err.problem !== 'corrupt' && err.problem !== 'unreadable') return err;
  try {
    return endsEarly(input) ? new ImageError('truncated', 'truncated file (the image data ends early)') : err;
  } catch {
    return err;
  }
}

/** Pixels of one image, row-major HWC. */
export interface DecodedImage {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 1 | 3;
}

export interface DecodeOptions {
  channels: 1 | 3;
  /** Resize while decoding (libvips, with JPEG shrink-on-load): a number sets the shorter side, [h, w] the exact size. */
  size?: number | [number, number];
  /** With `size`, never enlarge: images already smaller are returned as they are. */
  shrinkOnly?: boolean;
  /** Refuse images with more pixels than this (width × height, from the header) before decoding; default DEFAULT_MAX_PIXELS. */
  maxPixels?: number;
}

/** The [width, height] in an image's header, or undefined when even that cannot be read. */
async function headerSize(input: string | Buffer): Promise<[number, number] | undefined> {
  try {
    const m = await sharp(input, { limitInputPixels: false }).metadata();
    return m.width && m.height ? [m.width, m.pageHeight ?? m.height] : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Decodes an image file or buffer. Failures are ImageErrors that say what is wrong with the file
 * (truncated, empty, not an image, corrupt, too many pixels).
 *
 * @example
 * const img = await decodeImage('cat.jpg', { channels: 3 });
 * img.data.length === img.width * img.height * 3; // true
 */
export async function decodeImage(input: string | Buffer, opts: DecodeOptions): Promise<DecodedImage> {
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  try {
    return await decode(input, opts, maxPixels);
  } catch (e) {
    const size = /pixel limit/i.test(String((e as Error)?.message)) ? await headerSize(input) : undefined;
    throw decodeError(e, input, { maxPixels, size });
  }
}

/** Refuses, from the first bytes, what is not one of the formats read (SVG, PDF, text…). */
function checkFormat(input: string | Buffer): void {
  const head = typeof input === 'string' ? readHead(input) : input;
  if (head.length === 0) throw new ImageError('empty', 'the file is empty');
  const format = sniffFormat(head);
  if (format === null) throw new ImageError('not-image', 'not an image (no image format Kestrel reads)');
  const refused = refusedFormat(format);
  if (refused !== null) throw new ImageError('not-image', refused);
}

async function decode(input: string | Buffer, opts: DecodeOptions, maxPixels: number): Promise<DecodedImage> {
  checkFormat(input);
  const lean = opts.channels === 3 && opts.size === undefined && typeof input !== 'string' ? leanJpegSize(input) : null;
  if (lean && typeof input !== 'string') {
    if (lean[0] * lean[1] > maxPixels) throw tooManyPixels(maxPixels, lean);
    const px = await decodeLeanJpeg(input, maxPixels);
    return { data: px.data, width: px.width, height: px.height, channels: 3 };
  }
  let s = sharp(input, { failOn: 'warning', limitInputPixels: maxPixels }).rotate().flatten({ background: '#ffffff' });
  if (opts.size !== undefined) {
    const [h, w] = typeof opts.size === 'number' ? [opts.size, opts.size] : opts.size;
    s = s.resize({ width: w, height: h, fit: typeof opts.size === 'number' ? 'outside' : 'fill', withoutEnlargement: opts.shrinkOnly ?? false });
  }
  // Grey is ITU-R 601-2 luma of the sRGB values, as PIL's convert('L') and the grayscale
  // transform (libvips' own b-w goes through CIE L*, which makes pure red 127 instead of 76).
  s = s.toColourspace('srgb');
  if (opts.channels === 1) s = s.recomb([LUMA, LUMA, LUMA]).extractChannel(0);
  const { data, info } = await s.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  if (info.channels !== opts.channels) throw new Error(`decoded ${info.channels} channels, expected ${opts.channels}`);
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height, channels: opts.channels };
}

/** An image whose samples may be 16-bit: Float32Array values on the 0–255 scale. */
export interface DeepImage {
  data: Uint8Array | Float32Array;
  width: number;
  height: number;
  channels: 1 | 3;
}

/** Whether an encoded image is a 16-bit PNG, from its header. */
export function is16BitPng(head: Uint8Array): boolean {
  return pngHeader(head)?.bitDepth === 16;
}

/**
 * decodeImage, except that a 16-bit PNG (a scan, a microscope frame) keeps its 16 bits: the
 * samples come back as Float32Array values v·255/65535, on the 0–255 scale the transforms work
 * on, so toTensor and normalize see v/65535 and all 65,536 levels stay distinct. Other images are
 * decodeImage's 8-bit bytes.
 *
 * @example
 * const img = await decodeImageDeep('scan16.png', { channels: 1 }); // img.data: Float32Array
 */
export async function decodeImageDeep(input: string | Buffer, opts: DecodeOptions): Promise<DeepImage> {
  const head = typeof input === 'string' ? readHead(input) : input;
  if (!is16BitPng(head)) return decodeImage(input, opts);
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  try {
    checkFormat(input);
    let s = sharp(input, { failOn: 'warning', limitInputPixels: maxPixels }).rotate().flatten({ background: '#ffffff' });
    if (opts.size !== undefined) {
      const [h, w] = typeof opts.size === 'number' ? [opts.size, opts.size] : opts.size;
      s = s.resize({ width: w, height: h, fit: typeof opts.size === 'number' ? 'outside' : 'fill', withoutEnlargement: opts.shrinkOnly ?? false });
    }
    const { data, info } = await s.toColourspace('rgb16').raw({ depth: 'ushort' }).toBuffer({ resolveWithObject: true });
    const v = new Uint16Array(data.buffer, data.byteOffset, data.byteLength / 2);
    const n = info.width * info.height;
    const out = new Float32Array(n * opts.channels);
    const k = 255 / 65535;
    if (opts.channels === 3) for (let i = 0; i < out.length; i++) out[i] = v[i]! * k;
    else for (let i = 0; i < n; i++) out[i] = (LUMA[0] * v[3 * i]! + LUMA[1] * v[3 * i + 1]! + LUMA[2] * v[3 * i + 2]!) * k;
    return { data: out, width: info.width, height: info.height, channels: opts.channels };
  } catch (e) {
    if (e instanceof ImageError) throw e;
    const size = /pixel limit/i.test(String((e as Error)?.message)) ? await headerSize(input) : undefined;
    throw decodeError(e, input, { maxPixels, size });
  }
}

/** The [h, w] of an encoded image as decodeImage sees it (EXIF orientation applied), from its header. */
export async function imageSize(input: string | Buffer): Promise<[number, number]> {
  const m = await sharp(input).metadata();
  return [m.autoOrient.height, m.autoOrient.width];
}

/**
 * Decodes a segmentation mask whose values are class ids, kept exactly: an 8-bit single-channel
 * image (no colour conversion), or a palette PNG, whose palette indices are the values (Pascal
 * VOC's SegmentationClass masks, as PIL reads them). Failures say what is wrong in one line.
 *
 * @example
 * const m = await decodeMask('masks/0001.png'); // m.data[y * m.width + x] is the class of pixel (x, y)
 */
export async function decodeMask(input: string | Buffer): Promise<{ data: Uint8Array; width: number; height: number }> {
  const bytes = typeof input === 'string' ? readFileSync(input) : input;
  if (bytes.length === 0) throw new ImageError('empty', 'the file is empty');
  // libvips would expand a palette to colours.
  if (pngHeader(bytes)?.colorType === 3) return readPaletteIndices(bytes);
  let m: sharp.Metadata;
  try {
    m = await sharp(bytes).metadata();
  } catch (e) {
    throw decodeError(e, bytes);
  }
  if (m.isPalette) throw new Error('a palette image that is not a PNG: save masks as PNG');
  if (m.channels !== 1 || m.depth !== 'uchar') throw new Error(`not an 8-bit single-channel image (${m.channels} channel(s) of ${m.depth})`);
  try {
    // sharp writes grey as sRGB unless told otherwise; the first band holds the values unchanged.
    const { data, info } = await sharp(bytes, { failOn: 'warning' }).rotate().extractChannel(0).raw().toBuffer({ resolveWithObject: true });
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
  } catch (e) {
    throw decodeError(e, bytes);
  }
}

/** What a scan learns about one file: its channel count and upright size, or why it cannot be used. */
export type ImageCheck = { ok: true; channels: number; width: number; height: number } | { ok: false; reason: string };

/**
 * Checks that a file is a usable image: its header (sharp metadata; more than `maxPixels`, default
 * DEFAULT_MAX_PIXELS, is refused), and with `full` a complete decode, which is what finds truncated
 * files (libjpeg's "premature end" and zlib's "end of stream" surface only while decoding).
 */
export async function checkImage(path: string, full: boolean, maxPixels = DEFAULT_MAX_PIXELS): Promise<ImageCheck> {
  if (!existsSync(path)) return { ok: false, reason: 'file not found' };
  // libvips calls an empty file an unknown format.
  if (statSync(path).size === 0) return { ok: false, reason: 'the file is empty' };
  try {
    checkFormat(path);
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  }
  let m: sharp.Metadata;
  try {
    m = await sharp(path, { limitInputPixels: false }).metadata();
    if (!m.width || !m.height) return { ok: false, reason: 'image has no size' };
  } catch (e) {
    return { ok: false, reason: decodeError(e, path).message };
  }
  const size: [number, number] = [m.width, m.pageHeight ?? m.height];
  if (size[0] * size[1] > maxPixels) return { ok: false, reason: tooManyPixels(maxPixels, size).message };
  // decodeImage applies the EXIF orientation, and orientations 5–8 turn the image a quarter.
  const [width, height] = (m.orientation ?? 1) >= 5 ? [m.height, m.width] : [m.width, m.height];
  const info = { ok: true as const, channels: m.channels ?? 3, width, height };
  if (!full) return info;
  try {
    let s = sharp(path, { failOn: 'warning' });
    // Large images decode at 1/8 scale (JPEG shrink-on-load): every byte is still read, which is
    // what finds truncation, at about 60% of the time of a full decode.
    if (m.width >= 512 && m.height >= 512) s = s.resize(Math.ceil(m.width / 8), Math.ceil(m.height / 8), { fit: 'fill', kernel: 'nearest' });
    await s.raw().toBuffer();
  } catch (e) {
    return { ok: false, reason: decodeError(e, path).message };
  }
  return info;
}
