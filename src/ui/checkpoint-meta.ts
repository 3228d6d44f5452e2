/**
 * The `kestrel` metadata of a checkpoint, from the safetensors header alone (an 8-byte
 * little-endian length, then that many bytes of JSON): the UI must not load libtorch, which
 * src/checkpoint/safetensors.ts does, and needs no tensor data.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { realInside } from './safe-path.js';

/** The safetensors reference refuses larger headers. */
const MAX_HEADER = 100_000_000;

function readAt(fd: number, position: number, length: number): Buffer | null {
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buf, done, length - done, position + done);
    if (n === 0) return null;
    done += n;
  }
  return buf;
}

/**
 * The parsed `kestrel` metadata of `root/rel`, or null when the file is missing, leads outside
 * `root`, is not a safetensors file or holds no Kestrel metadata.
 *
 * @example
 * readCheckpointMeta('runs/classify/train', 'weights/best.safetensors')?.epoch; // 10
 */
export function readCheckpointMeta(root: string, rel: string): Record<string, unknown> | null {
  let fd: number;
  try {
    const path = realInside(root, rel, root);
    if (path === null) return null;
    fd = openSync(path, 'r');
  } catch {
    return null;
  }
  try {
    const size = fstatSync(fd).size;
    const first = size >= 8 ? readAt(fd, 0, 8) : null;
    const n = first === null ? -1 : Number(first.readBigUInt64LE(0));
    if (n < 2 || n > MAX_HEADER || 8 + n > size) return null;
    const header = JSON.parse(readAt(fd, 8, n)?.toString('utf8') ?? 'null') as { __metadata__?: { kestrel?: unknown } } | null;
    const raw = header?.__metadata__?.kestrel;
    const meta = typeof raw === 'string' ? (JSON.parse(raw) as unknown) : null;
    return meta !== null && typeof meta === 'object' && !Array.isArray(meta) ? (meta as Record<string, unknown>) : null;
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}
