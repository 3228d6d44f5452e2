/**
 * Atomic file replacement: readers see the old file or the complete new one, never a half-written
 * file, even if the process dies mid-write.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

/** Largest single write: fs.writeSync refuses lengths of 2 GiB and above. */
const MAX_WRITE = 1 << 30;

function writeAll(fd: number, chunk: Uint8Array): void {
  let done = 0;
  while (done < chunk.byteLength) {
    done += writeSync(fd, chunk, done, Math.min(chunk.byteLength - done, MAX_WRITE));
  }
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // the write error being reported matters more than a failed close
  }
}

/** Best effort: makes the rename itself durable. Directories cannot be opened this way on Windows. */
function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // not supported on this platform or file system; the data itself is already synced
  } finally {
    if (fd !== undefined) closeQuietly(fd);
  }
}

/**
 * Writes `chunks` to `path` atomically: into a temporary file in the same directory, fsync, then
 * rename over `path`. On any error the temporary file is removed and `path` is left as it was.
 * `chunks` may be a lazy iterable, so large outputs never need to sit in memory whole.
 *
 * @example
 * writeFileAtomic('run/last.json', [Buffer.from(JSON.stringify(state))]);
 */
export function writeFileAtomic(path: string, chunks: Iterable<Uint8Array>): void {
  const target = resolve(path);
  const dir = dirname(target);
  const tmp = join(dir, `.${basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let fd: number | undefined = openSync(tmp, 'wx');
  try {
    for (const chunk of chunks) writeAll(fd, chunk);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, target);
  } catch (e) {
    if (fd !== undefined) closeQuietly(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  fsyncDir(dir);
}
