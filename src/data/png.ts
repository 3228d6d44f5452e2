/**
 * The two corners of PNG that sharp does not reach: the palette indices of a palette image (libvips
 * expands them to colours, and Pascal VOC's masks are palette images whose index is the class), and
 * writing 16-bit grey or palette images (sharp's raw input is 8-bit). Plain zlib, no other format.
 */
import { deflateSync, inflateSync } from 'node:zlib';

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

const CRC_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

export interface PngImage {
  width: number;
  height: number;
  /** Row-major samples: 8-bit grey values, palette indices, or 16-bit grey values. */
  data: Uint8Array | Uint16Array;
  /** With `data` a Uint8Array: RGB triples, written as the palette (a palette image). */
  palette?: readonly (readonly [number, number, number])[];
}

/**
 * Encodes a one-channel PNG: 8-bit grey, 16-bit grey (a Uint16Array) or 8-bit palette indices.
 *
 * @example
 * writeFileSync('scan.png', encodePng({ width: 2, height: 1, data: Uint16Array.of(0, 65535) }));
 */
export function encodePng(img: PngImage): Buffer {
  const { width: W, height: H, data } = img;
  if (data.length !== W * H) throw new RangeError(`encodePng: ${data.length} samples for ${W}×${H}`);
  const deep = data instanceof Uint16Array;
  if (deep && img.palette) throw new RangeError('encodePng: a palette image is 8-bit');
  const bpp = deep ? 2 : 1;
  const raw = Buffer.alloc(H * (1 + W * bpp));
  for (let y = 0; y < H; y++) {
    const row = y * (1 + W * bpp) + 1;
    for (let x = 0; x < W; x++) {
      if (deep) raw.writeUInt16BE(data[y * W + x]!, row + 2 * x);
      else raw[row + x] = data[y * W + x]!;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(W, 0);
  ihdr.writeUInt32BE(H, 4);
  ihdr[8] = deep ? 16 : 8;
  ihdr[9] = img.palette ? 3 : 0;
  const parts = [SIGNATURE, chunk('IHDR', ihdr)];
  if (img.palette) parts.push(chunk('PLTE', Uint8Array.from(img.palette.flat())));
  parts.push(chunk('IDAT', deflateSync(raw)), chunk('IEND', new Uint8Array(0)));
  return Buffer.concat(parts);
}

/** Colour type and bit depth from a PNG's IHDR, or null when the bytes are not a PNG. */
export function pngHeader(bytes: Uint8Array): { width: number; height: number; bitDepth: number; colorType: number } | null {
  if (bytes.length < 33 || !SIGNATURE.equals(Buffer.from(bytes.subarray(0, 8)))) return null;
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.toString('latin1', 12, 16) !== 'IHDR') return null;
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20), bitDepth: b[24]!, colorType: b[25]! };
}

/** PNG's Paeth predictor. */
function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const [pa, pb, pc] = [Math.abs(p - a), Math.abs(p - b), Math.abs(p - c)];
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Undoes the per-row filters of `rows` scanlines of `stride` bytes (1 byte per pixel or less: bpp 1). */
function unfilter(src: Uint8Array, stride: number, rows: number): Uint8Array {
  const out = new Uint8Array(stride * rows);
  for (let y = 0; y < rows; y++) {
    const f = src[y * (stride + 1)];
    const inp = src.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const o = y * stride;
    for (let x = 0; x < stride; x++) {
      const a = x > 0 ? out[o + x - 1]! : 0;
      const b = y > 0 ? out[o - stride + x]! : 0;
      const c = x > 0 && y > 0 ? out[o - stride + x - 1]! : 0;
      const pred = f === 0 ? 0 : f === 1 ? a : f === 2 ? b : f === 3 ? (a + b) >> 1 : f === 4 ? paeth(a, b, c) : -1;
      if (pred < 0) throw new Error(`unknown PNG row filter ${f}`);
      out[o + x] = (inp[x]! + pred) & 0xff;
    }
  }
  return out;
}

/**
 * The palette indices of a palette PNG (any bit depth), row-major, one byte per pixel, as PIL's
 * `np.array(Image.open(path))` gives them. Throws for other PNGs and for interlaced ones.
 */
export function readPaletteIndices(bytes: Uint8Array): { width: number; height: number; data: Uint8Array } {
  const h = pngHeader(bytes);
  if (!h) throw new Error('not a PNG file');
  if (h.colorType !== 3) throw new Error('not a palette PNG');
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b[28] !== 0) throw new Error('interlaced palette PNG: save it without interlacing');
  const idat: Buffer[] = [];
  for (let at = 8; at + 8 <= b.length; ) {
    const len = b.readUInt32BE(at);
    const type = b.toString('latin1', at + 4, at + 8);
    if (at + 12 + len > b.length) throw new Error('truncated file (the image data ends early)');
    if (type === 'IDAT') idat.push(b.subarray(at + 8, at + 8 + len));
    if (type === 'IEND') break;
    at += 12 + len;
  }
  let raw: Uint8Array;
  try {
    raw = inflateSync(Buffer.concat(idat));
  } catch {
    throw new Error('corrupt image data (zlib)');
  }
  const { width: W, height: H, bitDepth: d } = h;
  const stride = Math.ceil((W * d) / 8);
  if (raw.length < H * (stride + 1)) throw new Error('truncated file (the image data ends early)');
  const packed = unfilter(raw, stride, H);
  if (d === 8) return { width: W, height: H, data: packed };
  const out = new Uint8Array(W * H);
  const perByte = 8 / d;
  const mask = (1 << d) - 1;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const byte = packed[y * stride + Math.floor(x / perByte)]!;
      out[y * W + x] = (byte >> (8 - d * ((x % perByte) + 1))) & mask;
    }
  }
  return { width: W, height: H, data: out };
}
