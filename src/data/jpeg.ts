/**
 * The lean JPEG path: baseline and progressive YCbCr or grey JPEGs with no ICC profile, no EXIF
 * rotation and no Adobe marker, decoded by the system's libjpeg-turbo through a small addon
 * (native/jpeg) instead of sharp. sharp spends ~1.3 CPU-ms on a 400×300 JPEG whose decode costs
 * libjpeg-turbo ~0.55: the rest is libvips' pipeline around it. Its pixels are sharp's exactly
 * (sharp's libjpeg is mozjpeg, a libjpeg-turbo fork: the same integer IDCT and upsampling), and a
 * region decode gives the full decode's pixels inside the region. Every other image, and every
 * image when the addon is not built, goes through sharp.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

interface Addon {
  header(buf: Uint8Array): [number, number, number, number, number];
  decodeAsync(buf: Uint8Array, x: number, y: number, w: number, h: number, maxPixels: number, scaleDenom: number): Promise<JpegPixels>;
  /** LIBJPEG_TURBO_VERSION_NUMBER of the headers built against: 2001005 is 2.1.5. */
  libjpegVersion: number;
}

/** RGB rows of a decoded region: `width` × `height` pixels whose top-left is (x, y) in the image. */
export interface JpegPixels {
  data: Uint8Array;
  width: number;
  height: number;
  x: number;
  y: number;
}

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '../../..');

/** Where the addon is looked for: $KESTREL_JPEG_ADDON, else native/jpeg/build/Release. */
export function jpegAddonPath(): string {
  return process.env.KESTREL_JPEG_ADDON ?? join(packageRoot, 'native/jpeg/build/Release/kestrel_jpeg.node');
}

let addon: Addon | null | undefined;

/** The addon, or null when it is not built (no libjpeg-turbo headers at install time) or turned off (KESTREL_JPEG=sharp). */
export function jpegAddon(): Addon | null {
  if (addon !== undefined) return addon;
  const path = jpegAddonPath();
  addon = process.env.KESTREL_JPEG === 'sharp' || !existsSync(path) ? null : (createRequire(import.meta.url)(path) as Addon);
  return addon;
}

/** The libjpeg-turbo version the lean path decodes with ("2.1.5"), or null when it is off. */
export function leanJpegVersion(): string | null {
  const v = jpegAddon()?.libjpegVersion;
  return v === undefined ? null : `${Math.floor(v / 1e6)}.${Math.floor(v / 1e3) % 1e3}.${v % 1e3}`;
}

// libjpeg's J_COLOR_SPACE values.
const JCS_GRAYSCALE = 1;
const JCS_YCBCR = 3;
/** Header flags: an ICC profile (sharp converts with it), EXIF orientation ≠ 1 (sharp rotates), an Adobe marker (CMYK/YCCK or inverted). */
const NEEDS_SHARP = 1 | 2 | 4;

/**
 * The [width, height] of a JPEG that the lean path decodes as sharp would, from its header; null
 * for any other image (or a header libjpeg cannot read: sharp's path words that error).
 */
export function leanJpegSize(buf: Uint8Array): [number, number] | null {
  if (buf.length < 4 || buf[0] !== 0xff || buf[1] !== 0xd8 || buf[2] !== 0xff) return null;
  const lib = jpegAddon();
  if (!lib) return null;
  let h: [number, number, number, number, number];
  try {
    h = lib.header(buf);
  } catch {
    return null;
  }
  const [width, height, components, space, flags] = h;
  const plain = (components === 3 && space === JCS_YCBCR) || (components === 1 && space === JCS_GRAYSCALE);
  return plain && (flags & NEEDS_SHARP) === 0 && width > 0 && height > 0 ? [width, height] : null;
}

/**
 * Decodes a JPEG that leanJpegSize accepted to RGB, the whole image or the rows and (iMCU-aligned)
 * columns covering a region, at 1/`scale` of its size (1, 2, 4 or 8: the IDCT scales, so the
 * image is ceil(width/scale) × ceil(height/scale) and the region is in those pixels). Every
 * libjpeg warning is an error, as sharp's failOn: 'warning'; the caller words it (decodeError).
 */
export function decodeLeanJpeg(buf: Uint8Array, maxPixels: number, region?: { x: number; y: number; w: number; h: number }, scale = 1): Promise<JpegPixels> {
  const r = region ?? { x: 0, y: 0, w: 0, h: 0 };
  return jpegAddon()!.decodeAsync(buf, r.x, r.y, r.w, r.h, maxPixels, scale);
}
