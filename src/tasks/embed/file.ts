/**
 * The embeddings file `kestrel embed` writes and `kestrel search` and `data dedup` read: one
 * safetensors file holding a float32 tensor `embeddings` [N, D] (one L2-normalised row per image)
 * and, in its metadata under `kestrel`, the image paths in row order and the model that made them.
 * Safetensors because one file then carries vectors and paths together, Python reads it with
 * `safetensors.numpy.load_file` (or any safetensors reader: Rust, Hugging Face, Kestrel's own)
 * without a pickle, and the vectors can be memory-mapped; a `.npy` would need a second file for
 * the paths. Pure JavaScript: reading and writing it never loads libtorch.
 *
 * @example
 * const e = readEmbeddings('photos.safetensors');
 * e.paths[0]; e.vectors.subarray(0, e.dim);   // the first image and its vector
 */
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../../checkpoint/atomic.js';

export const EMBED_FORMAT = 'kestrel.embed/1';

export interface EmbedMeta {
  format: typeof EMBED_FORMAT;
  /** The checkpoint the vectors came from (as given), its zoo model and its input pipeline's size. */
  model: { weights: string; name: string; imgsz: number };
  /** Vector length (the model's pre-logits width). */
  dim: number;
  /** The image of each row, in row order. */
  paths: string[];
  createdAt: string;
}

export interface Embeddings {
  meta: EmbedMeta;
  paths: string[];
  dim: number;
  /** N·D floats, row-major. */
  vectors: Float32Array;
}

export class EmbedFileError extends Error {
  constructor(path: string, problem: string) {
    super(`${path}: ${problem}`);
    this.name = 'EmbedFileError';
  }
}

/** Writes vectors (row-major, `paths.length` rows) atomically. */
export function writeEmbeddings(path: string, vectors: Float32Array, meta: Omit<EmbedMeta, 'format' | 'createdAt'>): void {
  const n = meta.paths.length;
  if (vectors.length !== n * meta.dim) throw new Error(`${n} paths but ${vectors.length / meta.dim} vectors of ${meta.dim}`);
  const full: EmbedMeta = { format: EMBED_FORMAT, ...meta, createdAt: new Date().toISOString() };
  const header = {
    __metadata__: { kestrel: JSON.stringify(full) },
    embeddings: { dtype: 'F32', shape: [n, meta.dim], data_offsets: [0, vectors.byteLength] },
  };
  let json = JSON.stringify(header);
  // The data section starts 8-aligned (the safetensors spec pads the header with spaces), so a reader can map it as float32 in place.
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const head = Buffer.alloc(8 + Buffer.byteLength(json));
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)), 0);
  head.write(json, 8, 'utf8');
  // Safetensors is little-endian, as is every platform Node runs Kestrel on.
  writeFileAtomic(path, [head, new Uint8Array(vectors.buffer, vectors.byteOffset, vectors.byteLength)]);
}

function parseHeader(path: string, buf: Buffer): { header: Record<string, unknown>; dataStart: number } {
  if (buf.length < 8) throw new EmbedFileError(path, 'not an embeddings file (too short for a safetensors header)');
  const len = Number(buf.readBigUInt64LE(0));
  if (len > buf.length - 8) throw new EmbedFileError(path, 'not an embeddings file (its header runs past the end: truncated, or not safetensors)');
  try {
    const header = JSON.parse(buf.subarray(8, 8 + len).toString('utf8')) as unknown;
    if (header === null || typeof header !== 'object' || Array.isArray(header)) throw new Error('not an object');
    return { header: header as Record<string, unknown>, dataStart: 8 + len };
  } catch {
    throw new EmbedFileError(path, 'not an embeddings file (its header is not safetensors JSON)');
  }
}

/** Reads an embeddings file, checking that its header, metadata and tensor agree. */
export function readEmbeddings(path: string): Embeddings {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    throw new EmbedFileError(path, (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such embeddings file (kestrel embed writes one)' : (e as Error).message);
  }
  const { header, dataStart } = parseHeader(path, buf);
  const raw = (header.__metadata__ as Record<string, string> | undefined)?.kestrel;
  let meta: EmbedMeta;
  try {
    meta = JSON.parse(raw ?? 'null') as EmbedMeta;
  } catch {
    throw new EmbedFileError(path, "its 'kestrel' metadata is not JSON");
  }
  if (meta?.format !== EMBED_FORMAT) {
    throw new EmbedFileError(path, `not a Kestrel embeddings file (format ${meta === null ? 'missing' : `'${String(meta.format)}'`}, expected ${EMBED_FORMAT}; kestrel embed writes one)`);
  }
  const info = header.embeddings as { dtype?: string; shape?: number[]; data_offsets?: [number, number] } | undefined;
  const [n, d] = info?.shape ?? [];
  if (info?.dtype !== 'F32' || n !== meta.paths.length || d !== meta.dim) {
    throw new EmbedFileError(path, `its embeddings tensor (${info?.dtype ?? 'missing'} [${info?.shape?.join(', ') ?? ''}]) does not match its ${meta.paths.length} paths of dim ${meta.dim}`);
  }
  const [begin, end] = info.data_offsets ?? [0, -1];
  if (end - begin !== n * d * 4 || dataStart + end > buf.length) throw new EmbedFileError(path, 'truncated: its vectors end past the end of the file');
  // A copy: the file's bytes need not be 4-aligned within Node's buffer pool.
  const vectors = new Float32Array(n * d);
  new Uint8Array(vectors.buffer).set(buf.subarray(dataStart + begin, dataStart + end));
  return { meta, paths: meta.paths, dim: d, vectors };
}
