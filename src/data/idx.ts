/**
 * The IDX format of MNIST-style data sets (big-endian header: two zero bytes, a type code, the
 * number of dimensions, then one u32 per dimension), raw or gzipped.
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

const TYPES = {
  0x08: { name: 'uint8', bytes: 1 },
  0x09: { name: 'int8', bytes: 1 },
  0x0b: { name: 'int16', bytes: 2 },
  0x0c: { name: 'int32', bytes: 4 },
  0x0d: { name: 'float32', bytes: 4 },
  0x0e: { name: 'float64', bytes: 8 },
} as const;

export interface IdxArray {
  shape: number[];
  /** Elements in row-major order, converted to the platform's byte order. */
  data: Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;
}

export class IdxError extends Error {
  override name = 'IdxError';
}

/** Parses an IDX buffer (gzip is detected by its magic bytes). */
export function parseIdx(raw: Uint8Array, source = 'IDX data'): IdxArray {
  const buf = raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw) : raw;
  if (buf.length < 4 || buf[0] !== 0 || buf[1] !== 0) throw new IdxError(`${source}: not an IDX file (bad magic number)`);
  const type = TYPES[buf[2] as keyof typeof TYPES];
  if (!type) throw new IdxError(`${source}: unknown IDX element type 0x${buf[2]!.toString(16)}`);
  const ndim = buf[3]!;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const start = 4 + 4 * ndim;
  if (buf.length < start) throw new IdxError(`${source}: truncated IDX header`);
  const shape = Array.from({ length: ndim }, (_, i) => view.getUint32(4 + 4 * i, false));
  const count = shape.reduce((a, b) => a * b, 1);
  const want = start + count * type.bytes;
  if (buf.length < want) throw new IdxError(`${source}: truncated IDX data (${buf.length} bytes, expected ${want})`);
  return { shape, data: decode(type.name, view, start, count) };
}

function decode(type: (typeof TYPES)[keyof typeof TYPES]['name'], view: DataView, start: number, n: number): IdxArray['data'] {
  switch (type) {
    case 'uint8': return new Uint8Array(view.buffer.slice(view.byteOffset + start, view.byteOffset + start + n));
    case 'int8': return new Int8Array(view.buffer.slice(view.byteOffset + start, view.byteOffset + start + n));
    case 'int16': return Int16Array.from({ length: n }, (_, i) => view.getInt16(start + 2 * i, false));
    case 'int32': return Int32Array.from({ length: n }, (_, i) => view.getInt32(start + 4 * i, false));
    case 'float32': return Float32Array.from({ length: n }, (_, i) => view.getFloat32(start + 4 * i, false));
    case 'float64': return Float64Array.from({ length: n }, (_, i) => view.getFloat64(start + 8 * i, false));
  }
}

/** Reads an IDX file, raw or gzipped, with a one-line error for a missing or malformed file. */
export function readIdx(path: string): IdxArray {
  let raw: Buffer;
  try {
    raw = readFileSync(path);
  } catch (e) {
    throw new IdxError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parseIdx(raw, path);
}
