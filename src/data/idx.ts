/**
 * The IDX format of MNIST-style data sets (big-endian header: two zero bytes, a type code, the
 * number of dimensions, then one u32 per dimension), raw or gzipped.
 */
import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
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

interface Header {
  type: (typeof TYPES)[keyof typeof TYPES];
  shape: number[];
  /** Byte offset of the elements. */
  start: number;
  count: number;
}

/** The header at the start of `buf` (which may hold only the first bytes of the file). */
function parseHeader(buf: Uint8Array, source: string): Header {
  if (buf.length < 4 || buf[0] !== 0 || buf[1] !== 0) throw new IdxError(`${source}: not an IDX file (bad magic number)`);
  const type = TYPES[buf[2] as keyof typeof TYPES];
  if (!type) throw new IdxError(`${source}: unknown IDX element type 0x${buf[2]!.toString(16)}`);
  const ndim = buf[3]!;
  const start = 4 + 4 * ndim;
  if (buf.length < start) throw new IdxError(`${source}: truncated IDX header`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const shape = Array.from({ length: ndim }, (_, i) => view.getUint32(4 + 4 * i, false));
  return { type, shape, start, count: shape.reduce((a, b) => a * b, 1) };
}

function checkLength(h: Header, length: number, source: string): void {
  const want = h.start + h.count * h.type.bytes;
  if (length < want) throw new IdxError(`${source}: truncated IDX data (${length} bytes, expected ${want})`);
}

const isGzip = (b: Uint8Array): boolean => b[0] === 0x1f && b[1] === 0x8b;

/** Parses an IDX buffer (gzip is detected by its magic bytes). The elements are copied out of `raw`. */
export function parseIdx(raw: Uint8Array, source = 'IDX data'): IdxArray {
  const buf = isGzip(raw) ? gunzipSync(raw) : raw;
  const h = parseHeader(buf, source);
  checkLength(h, buf.length, source);
  return { shape: h.shape, data: decode(h.type.name, new DataView(buf.buffer, buf.byteOffset, buf.byteLength), h.start, h.count) };
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

export interface ReadIdxOptions {
  /** 8-bit elements in a SharedArrayBuffer (loader worker threads read them without a copy). */
  shared?: boolean;
}

/**
 * Reads an IDX file, raw or gzipped, with a one-line error for a missing or malformed file. A raw
 * file of 8-bit elements (MNIST's images) is read straight into the returned array, so loading
 * leaves no file-sized buffers behind for the garbage collector (47 MB each for MNIST's).
 */
export function readIdx(path: string, opts: ReadIdxOptions = {}): IdxArray {
  const failed = (e: unknown): IdxError => new IdxError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw failed(e);
  }
  try {
    const head = Buffer.alloc(4 + 4 * 255);
    const got = readSync(fd, head, 0, head.length, 0);
    if (!isGzip(head.subarray(0, got))) {
      const h = parseHeader(head.subarray(0, got), path);
      if (h.type.bytes === 1) {
        checkLength(h, fstatSync(fd).size, path);
        const bytes = new Uint8Array(opts.shared ? new SharedArrayBuffer(h.count) : new ArrayBuffer(h.count));
        for (let at = 0; at < h.count; ) {
          const n = readSync(fd, bytes, at, h.count - at, h.start + at);
          if (n === 0) throw new IdxError(`${path}: truncated IDX data (file shrank while reading)`);
          at += n;
        }
        return { shape: h.shape, data: h.type.name === 'int8' ? new Int8Array(bytes.buffer) : bytes };
      }
    }
  } catch (e) {
    throw e instanceof IdxError ? e : failed(e);
  } finally {
    closeSync(fd);
  }
  let raw: Buffer;
  try {
    raw = readFileSync(path);
  } catch (e) {
    throw failed(e);
  }
  const out = parseIdx(raw, path);
  if (opts.shared && out.data.BYTES_PER_ELEMENT === 1) {
    const bytes = new Uint8Array(new SharedArrayBuffer(out.data.length));
    bytes.set(new Uint8Array(out.data.buffer, out.data.byteOffset, out.data.length));
    out.data = out.data instanceof Int8Array ? new Int8Array(bytes.buffer) : bytes;
  }
  return out;
}
