/**
 * PyTorch `.pth`/`.pt` files, read without Python. Two layouts:
 *  - zip (torch.save since 1.6): `<dir>/data.pkl` pickles the object; each storage is the entry
 *    `<dir>/data/<key>`; `<dir>/byteorder`, when present, says 'little' or 'big'.
 *  - legacy (`_use_new_zipfile_serialization=False`, torchvision's older checkpoints): pickles of
 *    the magic number, the protocol version and the system info, then the object, then the list
 *    of storage keys, then each storage as an int64 element count and its bytes.
 * Both pickles go through the restricted VM in pickle.ts: tensors, storages, (ordered) dicts,
 * lists, numbers and strings, nothing else.
 */
import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import type { DType } from '../tensor/dtype.js';
import { BYTES } from '../tensor/dtype.js';
import { PickleError, PyDict, PyTuple, unpickle, type PyCallable } from './pickle.js';
import { isZip, ZipError, ZipReader } from './zip.js';

/** A tensor read from a file: little-endian bytes in row-major order (possibly a view of a storage another tensor shares). */
export interface RawTensor {
  dtype: DType;
  shape: number[];
  data: Uint8Array;
}

/**
 * A storage named by a persistent id; `bytes` is filled once the file's storages are read. Very
 * old files (torch < 0.4) also pickled views of storages: `root` and `elemOffset` say into what.
 */
class Storage {
  bytes: Uint8Array | null = null;
  root: Storage = this;
  elemOffset = 0;
  constructor(readonly key: string, readonly dtype: DType, readonly numel: number) {}
}

/** What _rebuild_tensor_v2 describes: a strided view of a storage. */
export class TensorRef {
  constructor(readonly storage: Storage, readonly offset: number, readonly shape: number[], readonly stride: number[]) {}
}

export class TorchFileError extends Error {
  override readonly name = 'TorchFileError';
}

const STORAGES: Record<string, DType> = {
  FloatStorage: 'float32', DoubleStorage: 'float64', HalfStorage: 'float16', BFloat16Storage: 'bfloat16',
  LongStorage: 'int64', IntStorage: 'int32', ShortStorage: 'int16', CharStorage: 'int8', ByteStorage: 'uint8', BoolStorage: 'bool',
};

/** Marks a storage class named by GLOBAL; only a persistent id may use one. */
class StorageType {
  constructor(readonly dtype: DType) {}
}

const ints = (x: unknown, what: string): number[] => {
  if (!Array.isArray(x) || !x.every((v) => Number.isSafeInteger(v) && (v as number) >= 0)) throw new TorchFileError(`${what} is not a tuple of sizes`);
  return Array.from(x as number[]);
};

function rebuildTensor(args: unknown[]): TensorRef {
  const [storage, offset, size, stride] = args;
  if (!(storage instanceof Storage)) throw new TorchFileError('a tensor is rebuilt from something other than a storage');
  if (!Number.isSafeInteger(offset) || (offset as number) < 0) throw new TorchFileError('a tensor has an invalid storage offset');
  const shape = ints(size, 'a tensor size');
  const strides = ints(stride, 'a tensor stride');
  if (shape.length !== strides.length) throw new TorchFileError('a tensor has as many strides as dimensions');
  return new TensorRef(storage, offset as number, shape, strides);
}

function rebuildParameter(args: unknown[]): TensorRef {
  if (!(args[0] instanceof TensorRef)) throw new TorchFileError('a parameter wraps something other than a tensor');
  return args[0];
}

/** The only globals a state dict needs, and what each becomes. */
const GLOBALS: ReadonlyMap<string, PyCallable> = new Map<string, PyCallable>([
  ['collections.OrderedDict', () => new PyDict()],
  ['torch._utils._rebuild_tensor', rebuildTensor],
  ['torch._utils._rebuild_tensor_v2', rebuildTensor],
  ['torch._utils._rebuild_parameter', rebuildParameter],
  ['torch._utils._rebuild_parameter_with_state', rebuildParameter],
  ...Object.entries(STORAGES).map(([name, dtype]): [string, PyCallable] => [`torch.${name}`, Object.assign(() => { throw new TorchFileError(`torch.${name} is called, not used as a storage type`); }, { storageType: new StorageType(dtype) })]),
]);

const storageTypeOf = (x: unknown): DType | null => {
  const st = (x as { storageType?: unknown } | null)?.storageType;
  return st instanceof StorageType ? st.dtype : null;
};

/** Turns persistent ids ('storage', type, key, location, numel[, view]) into shared Storage objects. */
function storageLoader(storages: Map<string, Storage>): (pid: unknown) => Storage {
  return (pid) => {
    if (!(pid instanceof PyTuple) || pid[0] !== 'storage' || pid.length < 5) throw new TorchFileError('a persistent id is not a torch storage');
    const dtype = storageTypeOf(pid[1]);
    const key = String(pid[2]);
    const numel = pid[4];
    if (dtype === null) throw new TorchFileError(`storage '${key}' has an unknown storage type`);
    if (!Number.isSafeInteger(numel) || (numel as number) < 0) throw new TorchFileError(`storage '${key}' has an invalid size`);
    let root = storages.get(key);
    if (!root) storages.set(key, (root = new Storage(key, dtype, numel as number)));
    const view = pid[5];
    if (!(view instanceof PyTuple)) return root;
    const [viewKey, offset, viewSize] = view;
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(viewSize)) throw new TorchFileError(`storage view '${String(viewKey)}' is invalid`);
    const s = new Storage(String(viewKey), dtype, viewSize as number);
    s.root = root;
    s.elemOffset = offset as number;
    return s;
  };
}

/** The row-major bytes of a strided view: a view of the storage when contiguous, else a copy. */
function materialize(ref: TensorRef, source: string): RawTensor {
  const { storage, offset, shape, stride } = ref;
  const bytes = storage.root.bytes;
  if (bytes === null) throw new TorchFileError(`${source}: storage '${storage.key}' has no data`);
  const es = BYTES[storage.dtype];
  const base = (offset + storage.elemOffset) * es;
  const numel = shape.reduce((a, b) => a * b, 1);
  if (numel === 0) return { dtype: storage.dtype, shape, data: new Uint8Array(0) };
  let last = 0;
  for (let d = 0; d < shape.length; d++) last += (shape[d]! - 1) * stride[d]!;
  if (base + (last + 1) * es > bytes.byteLength) throw new TorchFileError(`${source}: a tensor of shape [${shape.join(', ')}] reads past the end of storage '${storage.key}'`);
  // Stride-0 (expanded) views may be larger than their storage, but not without bound: a few bytes
  // of hostile pickle must not make us allocate gigabytes.
  if (numel * es > Math.max(64 << 20, 16 * bytes.byteLength)) throw new TorchFileError(`${source}: a tensor of shape [${shape.join(', ')}] expands a ${bytes.byteLength}-byte storage to ${numel * es} bytes: refused`);
  const contiguous = shape.every((_, d) => shape[d] === 1 || stride[d] === shape.slice(d + 1).reduce((a, b) => a * b, 1));
  // A view, not a copy: a state dict's tensors are mostly whole, contiguous storages.
  if (contiguous) return { dtype: storage.dtype, shape, data: bytes.subarray(base, base + numel * es) };
  const out = new Uint8Array(numel * es);
  const idx = new Array<number>(shape.length).fill(0);
  for (let i = 0; i < numel; i++) {
    let at = 0;
    for (let d = 0; d < shape.length; d++) at += idx[d]! * stride[d]!;
    out.set(bytes.subarray(base + at * es, base + (at + 1) * es), i * es);
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d]! < shape[d]!) break;
      idx[d] = 0;
    }
  }
  return { dtype: storage.dtype, shape, data: out };
}

function checkStorage(s: Storage, bytes: Uint8Array, source: string): Uint8Array {
  const want = s.numel * BYTES[s.dtype];
  if (bytes.byteLength < want) throw new TorchFileError(`${source}: storage '${s.key}' holds ${bytes.byteLength} bytes, needs ${want}: truncated`);
  // A plain Uint8Array over the Buffer's bytes: Buffer's slice() shares memory, Uint8Array's copies.
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function readZip(path: string): { obj: unknown; storages: Map<string, Storage> } {
  using zip = ZipReader.open(path);
  const pkl = zip.entries.find((e) => /^[^/]+\/data\.pkl$/.test(e.name));
  if (!pkl) throw new TorchFileError(`${path}: a zip archive without <name>/data.pkl: not a PyTorch file`);
  const dir = pkl.name.slice(0, -'data.pkl'.length);
  const order = zip.entries.find((e) => e.name === `${dir}byteorder`);
  if (order && zip.read(order).toString().trim() !== 'little') throw new TorchFileError(`${path}: saved on a big-endian machine; only little-endian files are read`);
  const storages = new Map<string, Storage>();
  const { value } = unpickle(zip.read(pkl), { globals: GLOBALS, persistentLoad: storageLoader(storages), source: path });
  const byName = new Map(zip.entries.map((e) => [e.name, e]));
  for (const s of storages.values()) {
    const e = byName.get(`${dir}data/${s.key}`);
    if (!e) throw new TorchFileError(`${path}: storage '${s.key}' is missing from the archive`);
    s.bytes = checkStorage(s, zip.read(e), path);
  }
  return { obj: value, storages };
}

const MAGIC = 0x1950a86a20f9469cfc6cn;

function readLegacy(bytes: Buffer, path: string): { obj: unknown; storages: Map<string, Storage> } {
  const none = new Map<string, PyCallable>();
  const magic = unpickle(bytes, { globals: none, source: path });
  if (magic.value !== MAGIC) throw new TorchFileError(`${path}: not a PyTorch file (no zip header, no legacy magic number)`);
  const proto = unpickle(bytes, { globals: none, start: magic.end, source: path });
  if (proto.value !== 1001) throw new TorchFileError(`${path}: legacy protocol ${String(proto.value)}; only 1001 is read`);
  const info = unpickle(bytes, { globals: none, start: proto.end, source: path });
  if (info.value instanceof PyDict && info.value.items.get('little_endian') === false) throw new TorchFileError(`${path}: saved on a big-endian machine; only little-endian files are read`);
  const storages = new Map<string, Storage>();
  const main = unpickle(bytes, { globals: GLOBALS, persistentLoad: storageLoader(storages), start: info.end, source: path });
  const keys = unpickle(bytes, { globals: none, start: main.end, source: path });
  if (!Array.isArray(keys.value)) throw new TorchFileError(`${path}: the storage key list is missing`);
  let p = keys.end;
  for (const key of keys.value) {
    const s = storages.get(String(key));
    if (!s) throw new TorchFileError(`${path}: lists storage '${String(key)}' that no tensor uses`);
    if (p + 8 > bytes.length) throw new TorchFileError(`${path}: ends before storage '${s.key}': truncated`);
    const n = Number(bytes.readBigInt64LE(p));
    if (n < 0) throw new TorchFileError(`${path}: storage '${s.key}' has a negative size: corrupt`);
    const len = n * BYTES[s.dtype];
    if (p + 8 + len > bytes.length) throw new TorchFileError(`${path}: storage '${s.key}' runs past the end of the file: truncated`);
    s.bytes = checkStorage(s, bytes.subarray(p + 8, p + 8 + len), path);
    p += 8 + len;
  }
  return { obj: main.value, storages };
}

function readHead(path: string): { head: Buffer; size: number } {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(4);
    readSync(fd, head, 0, 4, 0);
    return { head, size: fstatSync(fd).size };
  } finally {
    closeSync(fd);
  }
}

/** Turns every TensorRef in a pickled object into a RawTensor; dicts become Maps, tuples arrays. */
function resolve(x: unknown, source: string): unknown {
  if (x instanceof TensorRef) return materialize(x, source);
  if (x instanceof PyDict) return new Map([...x.items].map(([k, v]) => [k, resolve(v, source)]));
  if (Array.isArray(x)) return Array.from(x, (v) => resolve(v, source));
  return x;
}

/**
 * Reads a `.pth`/`.pt` file (either layout) and returns its object: state dicts come back as
 * Maps of RawTensor, nested dicts as Maps, lists and tuples as arrays. Any global other than a
 * state dict's is refused before anything is built; truncated files give a one-line error.
 *
 * @example
 * const sd = readTorchFile('resnet18.pth') as Map<string, RawTensor>;
 * sd.get('fc.weight')?.shape;   // [1000, 512]
 */
export function readTorchFile(path: string): unknown {
  const { head, size } = readHead(path);
  try {
    if (isZip(head)) {
      const { obj } = readZip(path);
      return resolve(obj, path);
    }
    if (size < 2 || head[0] !== 0x80) throw new TorchFileError(`${path}: not a PyTorch file (neither a zip archive nor a pickle)`);
    const { obj } = readLegacy(readFileSync(path), path);
    return resolve(obj, path);
  } catch (e) {
    if (e instanceof PickleError || e instanceof ZipError || e instanceof TorchFileError) throw new TorchFileError(e.message.startsWith(path) ? e.message : `${path}: ${e.message}`);
    if (e instanceof RangeError) throw new TorchFileError(`${path}: ${e.message}: truncated or corrupt`);
    throw e;
  }
}
