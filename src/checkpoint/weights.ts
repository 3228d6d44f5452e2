/**
 * Weight files of any origin, as one map of tensors by name: PyTorch `.pth`/`.pt` (a bare state
 * dict or a training checkpoint holding one), safetensors from timm and others, and Kestrel's own
 * checkpoints (model tensors only; optimizer and EMA state are never read). The format is
 * sniffed from the first bytes, not the extension.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { native } from '../native/index.js';
import { DTYPES } from '../tensor/dtype.js';
import { Tensor } from '../tensor/index.js';
import { CheckpointError, loadSafetensors, readSafetensorsHeader } from './safetensors.js';
import { readTorchFile, type RawTensor } from './torch.js';
import { isZip } from './zip.js';

export interface WeightFile {
  /** Tensors by the file's names (a 'module.' or '_orig_mod.' prefix on every name dropped). */
  tensors: Map<string, Tensor>;
  format: 'pth' | 'safetensors' | 'kestrel';
  /** safetensors metadata (a Kestrel checkpoint's under 'kestrel'); empty for .pth files. */
  metadata: Record<string, string>;
}

/** Where training checkpoints keep the model's weights, in the order they are looked for. */
const NESTED = ['state_dict', 'model_state_dict', 'model', 'module', 'state_dict_ema', 'model_ema', 'net', 'network'];

const isRaw = (x: unknown): x is RawTensor => x !== null && typeof x === 'object' && 'dtype' in x && 'shape' in x && (x as RawTensor).data instanceof Uint8Array;
const isStateDict = (x: unknown): x is Map<string, RawTensor> => x instanceof Map && x.size > 0 && [...x.values()].every(isRaw);

/** The state dict inside what a .pth holds; a one-line error lists the top-level keys otherwise. */
function stateDictIn(obj: unknown, path: string): Map<string, RawTensor> {
  if (isStateDict(obj)) return obj;
  if (obj instanceof Map) {
    for (const k of NESTED) if (isStateDict(obj.get(k))) return obj.get(k) as Map<string, RawTensor>;
    // A checkpoint may hold non-tensor entries beside its tensors (timm's 'version' and the like).
    const tensors = new Map([...obj].filter(([, v]) => isRaw(v))) as Map<string, RawTensor>;
    if (tensors.size > 0 && tensors.size >= obj.size / 2) return tensors;
    throw new CheckpointError(path, `holds no state dict: a dict with keys ${[...obj.keys()].slice(0, 10).map(String).join(', ')} (looked for tensors and under ${NESTED.join(', ')})`);
  }
  throw new CheckpointError(path, `holds a ${Array.isArray(obj) ? 'list' : typeof obj}, not a state dict`);
}

/** Drops a prefix every name has: DataParallel's 'module.', torch.compile's '_orig_mod.'. */
function unwrap<T>(m: Map<string, T>): Map<string, T> {
  for (const prefix of ['module.', '_orig_mod.']) {
    if ([...m.keys()].every((k) => k.startsWith(prefix))) return new Map([...m].map(([k, v]) => [k.slice(prefix.length), v]));
  }
  return m;
}

function sniff(path: string): 'zip' | 'pickle' | 'other' {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new CheckpointError(path, (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : `cannot open: ${(e as Error).message}`);
  }
  try {
    const head = Buffer.alloc(4);
    const n = readSync(fd, head, 0, 4, 0);
    if (n >= 4 && isZip(head)) return 'zip';
    return n >= 2 && head[0] === 0x80 && head[1]! <= 5 ? 'pickle' : 'other';
  } finally {
    closeSync(fd);
  }
}

const TRAINING_STATE = /^(optimizer\.|ema\.|rng_state$)/;

/**
 * Reads the weights of `path` onto the CPU, whatever wrote them.
 *
 * @example
 * const { tensors, format } = readWeights('resnet50-11ad3fa6.pth');   // format 'pth'
 */
export function readWeights(path: string): WeightFile {
  if (sniff(path) !== 'other') {
    const sd = stateDictIn(readTorchFile(path), path);
    const tensors = new Map<string, Tensor>();
    for (const [k, t] of unwrap(sd)) tensors.set(k, new Tensor(native().fromBuffer(t.data, t.shape, DTYPES[t.dtype])));
    return { tensors, format: 'pth', metadata: {} };
  }
  let metadata: Record<string, string>;
  try {
    metadata = readSafetensorsHeader(path).metadata;
  } catch (e) {
    throw new CheckpointError(path, `not a weight file Kestrel reads (PyTorch .pth/.pt or safetensors): ${(e as CheckpointError).problem ?? (e as Error).message}`);
  }
  const kestrel = metadata.kestrel !== undefined;
  const { tensors } = loadSafetensors(path, kestrel ? { only: (name) => !TRAINING_STATE.test(name) } : {});
  return { tensors: unwrap(tensors), format: kestrel ? 'kestrel' : 'safetensors', metadata };
}
