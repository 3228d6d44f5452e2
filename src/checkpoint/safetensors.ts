/**
 * The safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian
 * header length N, N bytes of JSON header padded with spaces to a multiple of 8, then the raw
 * little-endian, row-major tensor bytes. Files written here are byte-identical to what the
 * reference writer produces: tensors ordered by descending dtype alignment then by name, compact
 * JSON with `__metadata__` first.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { native } from '../native/index.js';
import { BYTES, DTYPES, type DType } from '../tensor/dtype.js';
import { Tensor, type Device } from '../tensor/index.js';
import { writeFileAtomic } from './atomic.js';

/** A file that cannot be read or written as a checkpoint; the message names the file and the problem. */
export class CheckpointError extends Error {
  override readonly name = 'CheckpointError';
  constructor(readonly file: string, readonly problem: string) {
    super(`${file}: ${problem}`);
  }
}

/** kestrel dtypes in the reference's enum order (ascending alignment); the writer sorts by it descending. */
const RANKED: readonly DType[] = ['bool', 'uint8', 'int8', 'int16', 'float16', 'bfloat16', 'int32', 'float32', 'float64', 'int64'];

/** The safetensors name of each kestrel dtype. */
export const SAFETENSORS_DTYPES: Readonly<Record<DType, string>> = {
  bool: 'BOOL', uint8: 'U8', int8: 'I8', int16: 'I16', float16: 'F16',
  bfloat16: 'BF16', int32: 'I32', float32: 'F32', float64: 'F64', int64: 'I64',
};
const BY_NAME = new Map(Object.entries(SAFETENSORS_DTYPES).map(([d, n]) => [n, d as DType]));
const SUPPORTED = RANKED.map((d) => SAFETENSORS_DTYPES[d]).join(', ');

/** The reference rejects larger headers; so do we, before allocating for one. */
const MAX_HEADER = 100_000_000;

export interface TensorInfo {
  dtype: DType;
  shape: number[];
  /** `[begin, end)` in bytes, relative to the start of the data section. */
  dataOffsets: [number, number];
}

export interface SafetensorsHeader {
  /** Every tensor's entry, in data (offset) order. */
  tensors: Map<string, TensorInfo>;
  metadata: Record<string, string>;
  /** Byte offset of the data section in the file: 8 + the header length. */
  dataStart: number;
}

export type TensorDict = Record<string, Tensor> | Map<string, Tensor>;

// ---------------------------------------------------------------- writing

interface Entry { name: string; tensor: Tensor; dtype: DType; shape: number[]; bytes: number }

const utf8Order = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

function metadataJson(metadata: Record<string, string>, source: string): string {
  if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) {
    throw new CheckpointError(source, 'metadata must be an object mapping strings to strings');
  }
  const pairs = Object.entries(metadata as Record<string, unknown>).sort(([a], [b]) => utf8Order(a, b));
  for (const [k, v] of pairs) {
    if (typeof v !== 'string') {
      throw new CheckpointError(source, `metadata '${k}' is ${v === null ? 'null' : `a ${typeof v}`}, not a string (safetensors metadata maps strings to strings: use String(v) or JSON.stringify(v))`);
    }
  }
  // Written by hand: a JS object would move integer-like keys ('0', '10') to the front.
  return `{${pairs.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`;
}

function entriesOf(tensors: TensorDict, source: string): Entry[] {
  const pairs = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  const entries = pairs.map(([name, tensor]): Entry => {
    if (name === '__metadata__') throw new CheckpointError(source, "'__metadata__' is reserved and cannot name a tensor");
    if (!(tensor instanceof Tensor)) throw new CheckpointError(source, `'${name}' is not a Tensor`);
    if (tensor.isDisposed) throw new CheckpointError(source, `tensor '${name}' was disposed`);
    const dtype = tensor.dtype;
    return { name, tensor, dtype, shape: tensor.shape, bytes: tensor.numel() * BYTES[dtype] };
  });
  return entries.sort((a, b) => RANKED.indexOf(b.dtype) - RANKED.indexOf(a.dtype) || utf8Order(a.name, b.name));
}

/** The length prefix and padded JSON header, and the tensors in the order their bytes follow it. */
function prepare(tensors: TensorDict, metadata: Record<string, string> | undefined, source: string): { head: Buffer; entries: Entry[] } {
  const parts = metadata === undefined ? [] : [`"__metadata__":${metadataJson(metadata, source)}`];
  const entries = entriesOf(tensors, source);
  let offset = 0;
  for (const e of entries) {
    const begin = offset;
    offset += e.bytes;
    parts.push(`${JSON.stringify(e.name)}:{"dtype":"${SAFETENSORS_DTYPES[e.dtype]}","shape":[${e.shape.join(',')}],"data_offsets":[${begin},${offset}]}`);
  }
  const json = Buffer.from(`{${parts.join(',')}}`);
  const padded = Math.ceil(json.length / 8) * 8;
  const head = Buffer.alloc(8 + padded, 0x20);
  head.writeBigUInt64LE(BigInt(padded), 0);
  json.copy(head, 8);
  return { head, entries };
}

function* chunks(head: Buffer, entries: Entry[], source: string): Generator<Uint8Array> {
  yield head;
  for (const e of entries) {
    if (e.bytes === 0) continue;
    // toBuffer gives the raw element bits for every dtype (float16/bfloat16 included), contiguous, on CPU.
    const data = new Uint8Array(native().toBuffer(e.tensor.handle));
    if (data.byteLength !== e.bytes) throw new CheckpointError(source, `tensor '${e.name}' changed size while being saved`);
    yield data;
  }
}

/**
 * The bytes of a safetensors file holding `tensors` (and string `metadata`), in memory.
 *
 * @example
 * const bytes = serializeSafetensors({ w: tensor([1, 2, 3]) }, { epoch: '3' });
 */
export function serializeSafetensors(tensors: TensorDict, metadata?: Record<string, string>): Buffer {
  const { head, entries } = prepare(tensors, metadata, '<buffer>');
  return Buffer.concat([...chunks(head, entries, '<buffer>')]);
}

/**
 * Saves tensors (any device, any kestrel dtype) to a safetensors file, atomically: on any error the
 * previous file at `path` is left untouched. Metadata values must be strings.
 *
 * @example
 * saveSafetensors('model.safetensors', { 'fc.weight': w, 'fc.bias': b }, { epoch: '10' });
 */
export function saveSafetensors(path: string, tensors: TensorDict, metadata?: Record<string, string>): void {
  const { head, entries } = prepare(tensors, metadata, path); // every check runs before the disk is touched
  try {
    writeFileAtomic(path, chunks(head, entries, path));
  } catch (e) {
    throw e instanceof CheckpointError ? e : new CheckpointError(path, `cannot write: ${(e as Error).message}`);
  }
}

// ---------------------------------------------------------------- reading

const isSize = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;
const isObject = (x: unknown): x is Record<string, unknown> => x !== null && typeof x === 'object' && !Array.isArray(x);

function headerLength(first8: Uint8Array, fileSize: number, source: string): number {
  if (fileSize < 8) throw new CheckpointError(source, `file is ${fileSize} bytes, shorter than the 8-byte header length: truncated, or not a safetensors file`);
  const n = Buffer.from(first8.buffer, first8.byteOffset, 8).readBigUInt64LE(0);
  if (8n + n > BigInt(fileSize)) throw new CheckpointError(source, `header length ${n} runs past the end of the ${fileSize}-byte file: truncated, or not a safetensors file`);
  if (n > BigInt(MAX_HEADER)) throw new CheckpointError(source, `header length ${n} exceeds the ${MAX_HEADER}-byte limit: corrupt, or not a safetensors file`);
  return Number(n);
}

function parseInfo(name: string, raw: unknown, source: string): TensorInfo {
  const fail = (problem: string): never => { throw new CheckpointError(source, `tensor '${name}': ${problem}`); };
  if (!isObject(raw)) return fail('header entry is not an object');
  const { dtype, shape, data_offsets: offsets } = raw;
  const kd = typeof dtype === 'string' ? BY_NAME.get(dtype) : undefined;
  if (kd === undefined) return fail(`unsupported dtype ${JSON.stringify(dtype)} (expected one of ${SUPPORTED})`);
  if (!Array.isArray(shape) || !shape.every(isSize)) return fail(`invalid shape ${JSON.stringify(shape)}`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isSize) || offsets[0] > offsets[1]) {
    return fail(`invalid data_offsets ${JSON.stringify(offsets)}`);
  }
  const bytes = shape.reduce((acc: number, d: number) => acc * d, BYTES[kd]);
  if (!Number.isSafeInteger(bytes)) return fail(`shape [${shape.join(', ')}] is too large`);
  const [begin, end] = offsets as [number, number];
  if (bytes !== end - begin) {
    return fail(`shape [${shape.join(', ')}] of ${dtype as string} needs ${bytes} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`);
  }
  return { dtype: kd, shape: shape as number[], dataOffsets: [begin, end] };
}

function parseMetadata(raw: unknown, source: string): Record<string, string> {
  if (!isObject(raw) || !Object.values(raw).every((v) => typeof v === 'string')) {
    throw new CheckpointError(source, '__metadata__ must be an object mapping strings to strings');
  }
  return Object.fromEntries(Object.entries(raw)) as Record<string, string>; // own data properties, even for '__proto__'
}

/** Parses and validates the JSON header against the size of the data section that follows it. */
function parseHeader(json: Uint8Array, dataSize: number, source: string): Omit<SafetensorsHeader, 'dataStart'> {
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(json));
  } catch (e) {
    throw new CheckpointError(source, `header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (!isObject(raw)) throw new CheckpointError(source, 'header is not a JSON object');
  let metadata: Record<string, string> = {};
  const infos: [string, TensorInfo][] = [];
  for (const [name, value] of Object.entries(raw)) {
    if (name === '__metadata__') metadata = parseMetadata(value, source);
    else infos.push([name, parseInfo(name, value, source)]);
  }
  infos.sort(([, a], [, b]) => a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1]);
  let cursor = 0;
  for (const [name, { dataOffsets: [begin, end] }] of infos) {
    if (begin < cursor) throw new CheckpointError(source, `tensor '${name}': data_offsets [${begin}, ${end}] overlap the previous tensor's data (ending at ${cursor})`);
    if (begin > cursor) throw new CheckpointError(source, `tensor '${name}': data_offsets [${begin}, ${end}] leave a gap after byte ${cursor}; the tensors must cover the data section contiguously`);
    cursor = end;
  }
  if (cursor > dataSize) throw new CheckpointError(source, `data section is ${dataSize} bytes but the header describes ${cursor}: truncated`);
  if (cursor < dataSize) throw new CheckpointError(source, `${dataSize - cursor} bytes follow the last tensor's data; the header does not cover the data section`);
  return { tensors: new Map(infos), metadata };
}

function readExact(fd: number, position: number, length: number, source: string): Buffer {
  const out = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, out, done, Math.min(length - done, 1 << 30), position + done);
    if (n === 0) throw new CheckpointError(source, `file ended at byte ${position + done}, expected ${position + length}: truncated while reading`);
    done += n;
  }
  return out;
}

function withFile<T>(path: string, fn: (fd: number, size: number) => T): T {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CheckpointError(path, code === 'ENOENT' ? 'file not found' : `cannot open: ${(e as Error).message}`);
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new CheckpointError(path, 'not a regular file');
    return fn(fd, stat.size);
  } catch (e) {
    // File-system errors become CheckpointErrors; others (a bad device, say) are the caller's and pass through.
    throw (e as NodeJS.ErrnoException).code !== undefined && !(e instanceof CheckpointError) ? new CheckpointError(path, `cannot read: ${(e as Error).message}`) : e;
  } finally {
    closeSync(fd);
  }
}

function readHeader(fd: number, size: number, path: string): SafetensorsHeader {
  const n = headerLength(readExact(fd, 0, Math.min(size, 8), path), size, path);
  return { ...parseHeader(readExact(fd, 8, n, path), size - 8 - n, path), dataStart: 8 + n };
}

/** Wraps each tensor's bytes as a CPU tensor (a copy), then moves it to `device`; on error frees what it made. */
function build(header: SafetensorsHeader, bytesOf: (begin: number, end: number) => Uint8Array, device: Device | undefined): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  try {
    for (const [name, { dtype, shape, dataOffsets: [begin, end] }] of header.tensors) {
      // fromBuffer copies bytes, so any view works: no alignment needed, half types go in as raw bits.
      const t = new Tensor(native().fromBuffer(bytesOf(begin, end), shape, DTYPES[dtype]));
      out.set(name, t);
      if (device !== undefined && device !== 'cpu') {
        out.set(name, t.to(device));
        t.dispose();
      }
    }
  } catch (e) {
    for (const t of out.values()) t.dispose();
    throw e;
  }
  return out;
}

export interface LoadOptions {
  /** Where the tensors go (default cpu). */
  device?: Device;
  /** Reads only the tensors this accepts (the others' bytes are never read). */
  only?: (name: string, info: TensorInfo) => boolean;
}

export interface Loaded {
  /** Tensors in file (offset) order; they join the current scope like any new tensor. */
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

/**
 * Reads only the header of a safetensors file: names, dtypes, shapes and metadata, without the data.
 *
 * @example
 * const { tensors, metadata } = readSafetensorsHeader('model.safetensors');
 * for (const [name, info] of tensors) console.log(name, info.dtype, info.shape);
 */
export function readSafetensorsHeader(path: string): SafetensorsHeader {
  return withFile(path, (fd, size) => readHeader(fd, size, path));
}

/**
 * Parses a whole safetensors file held in memory.
 *
 * @example
 * const { tensors } = parseSafetensors(serializeSafetensors({ w: tensor([1, 2]) }));
 */
export function parseSafetensors(buf: Uint8Array, opts: LoadOptions & { source?: string } = {}): Loaded {
  const source = opts.source ?? '<buffer>';
  const n = headerLength(buf.subarray(0, 8), buf.byteLength, source);
  const header = { ...parseHeader(buf.subarray(8, 8 + n), buf.byteLength - 8 - n, source), dataStart: 8 + n };
  const tensors = build(header, (b, e) => buf.subarray(header.dataStart + b, header.dataStart + e), opts.device);
  return { tensors, metadata: header.metadata };
}

/**
 * Loads every tensor of a safetensors file, reading one tensor at a time (no whole-file buffer).
 *
 * @example
 * const { tensors, metadata } = loadSafetensors('model.safetensors', { device: 'cuda' });
 * const w = tensors.get('fc.weight');
 */
export function loadSafetensors(path: string, opts: LoadOptions = {}): Loaded {
  return withFile(path, (fd, size) => {
    const full = readHeader(fd, size, path);
    const only = opts.only;
    const header = only ? { ...full, tensors: new Map([...full.tensors].filter(([name, info]) => only(name, info))) } : full;
    const tensors = build(header, (b, e) => readExact(fd, header.dataStart + b, e - b, path), opts.device);
    return { tensors, metadata: header.metadata };
  });
}
