/**
 * Image files to pixels with sharp: EXIF orientation applied, alpha flattened on white, and the
 * colour space converted to the channels asked for (grey ↔ RGB), as 8-bit HWC.
 */
import { existsSync } from 'node:fs';
import { extname } from 'node:path';
import sharp from 'sharp';

/** Extensions (lower case, with the dot) that the data layer reads as images. */
export const IMAGE_EXTENSIONS: readonly string[] = ['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tiff', '.tif'];

export const isImagePath = (path: string): boolean => IMAGE_EXTENSIONS.includes(extname(path).toLowerCase());

const LUMA: [number, number, number] = [0.299, 0.587, 0.114];

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
  /** Refuse images with more pixels than this (width × height, from the header) before decoding; default sharp's 0x3FFF². */
  maxPixels?: number;
}

/**
 * Decodes an image file or buffer.
 *
 * @example
 * const img = await decodeImage('cat.jpg', { channels: 3 });
 * img.data.length === img.width * img.height * 3; // true
 */
export async function decodeImage(input: string | Buffer, opts: DecodeOptions): Promise<DecodedImage> {
  let s = sharp(input, { failOn: 'warning', limitInputPixels: opts.maxPixels ?? true }).rotate().flatten({ background: '#ffffff' });
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

/** What a scan learns about one file: its channel count and upright size, or why it cannot be used. */
export type ImageCheck = { ok: true; channels: number; width: number; height: number } | { ok: false; reason: string };

const firstLine = (e: unknown): string => String((e as Error)?.message ?? e).split('\n')[0]!.trim();

/**
 * Checks that a file is a usable image: its header (sharp metadata), and with `full` a complete
 * decode, which is what finds truncated files (libjpeg's "premature end" and zlib's "end of
 * stream" surface only while decoding).
 */
export async function checkImage(path: string, full: boolean): Promise<ImageCheck> {
  if (!existsSync(path)) return { ok: false, reason: 'file not found' };
  let m: sharp.Metadata;
  try {
    m = await sharp(path).metadata();
    if (!m.width || !m.height) return { ok: false, reason: 'image has no size' };
  } catch (e) {
    return { ok: false, reason: `not a readable image: ${firstLine(e)}` };
  }
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
    return { ok: false, reason: `truncated or corrupt image data: ${firstLine(e)}` };
  }
  return info;
}
