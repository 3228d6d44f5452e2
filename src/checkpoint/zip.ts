/**
 * A read-only zip reader for PyTorch's archives (torch.save since 1.6): the central directory
 * (ZIP64 included, which torch writes past 4 GiB), then entries read by position from an open
 * file, so a 100 MB state dict is never held twice. torch writes its records stored (method 0);
 * deflate (method 8) is inflated with node:zlib for archives re-zipped by other tools. Every entry
 * is checked against its CRC-32.
 *
 * Why not a package: yauzl is callback-only (every caller would turn async for a 20-line need),
 * fflate and adm-zip want the whole archive in one buffer, and adm-zip is here only as
 * onnxruntime-node's install-time dependency. The format subset torch uses is small and is
 * tested against archives Python's torch and zipfile wrote.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { crc32, inflateRawSync } from 'node:zlib';

/** An archive that cannot be read; `message` is one line naming the file and the problem. */
export class ZipError extends Error {
  override readonly name = 'ZipError';
}

export interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  crc: number;
  /** Offset of the entry's local header. */
  headerOffset: number;
}

const EOCD = 0x06054b50;
const EOCD64 = 0x06064b50;
const LOCATOR64 = 0x07064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
/** The end record is 22 bytes plus a comment of at most 65,535. */
const TAIL = 22 + 0xffff;

const u64 = (b: Buffer, at: number): number => {
  const v = b.readBigUInt64LE(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError('a 64-bit size exceeds 2^53');
  return Number(v);
};

/** The first 4 bytes of a zip file (a local header) or of an empty one (the end record). */
export function isZip(head: Uint8Array): boolean {
  if (head.byteLength < 4) return false;
  const sig = Buffer.from(head.buffer, head.byteOffset, 4).readUInt32LE(0);
  return sig === LOCAL || sig === EOCD;
}

/**
 * An open zip archive. Close it (or use `using`) when done.
 *
 * @example
 * using zip = ZipReader.open('resnet.pth');
 * const pkl = zip.read(zip.entries.find((e) => e.name.endsWith('/data.pkl'))!);
 */
export class ZipReader {
  readonly entries: ZipEntry[];
  readonly #fd: number;
  readonly #size: number;

  private constructor(readonly path: string, fd: number) {
    this.#fd = fd;
    this.#size = fstatSync(fd).size;
    this.entries = this.#directory();
  }

  static open(path: string): ZipReader {
    const fd = openSync(path, 'r');
    try {
      return new ZipReader(path, fd);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  #fail(problem: string): never {
    throw new ZipError(`${this.path}: ${problem}`);
  }

  #bytes(position: number, length: number): Buffer {
    if (position < 0 || position + length > this.#size) this.#fail(`needs bytes ${position}–${position + length} of a ${this.#size}-byte file: truncated or corrupt archive`);
    const out = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const n = readSync(this.#fd, out, done, Math.min(length - done, 1 << 30), position + done);
      if (n === 0) this.#fail(`ended at byte ${position + done}: truncated while reading`);
      done += n;
    }
    return out;
  }

  /** Where the central directory is and how many entries it holds (ZIP64 records when present). */
  #locate(): { offset: number; size: number; count: number } {
    const start = Math.max(0, this.#size - TAIL);
    const tail = this.#bytes(start, this.#size - start);
    let at = -1;
    for (let i = tail.length - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === EOCD && i + 22 + tail.readUInt16LE(i + 20) === tail.length) {
        at = i;
        break;
      }
    }
    if (at < 0) this.#fail('no zip end record: truncated, or not a zip archive');
    let count = tail.readUInt16LE(at + 10);
    let size = tail.readUInt32LE(at + 12);
    let offset = tail.readUInt32LE(at + 16);
    if (count === 0xffff || size === 0xffffffff || offset === 0xffffffff) {
      const loc = start + at - 20;
      const locator = this.#bytes(loc, 20);
      if (locator.readUInt32LE(0) !== LOCATOR64) this.#fail('ZIP64 end locator missing: corrupt archive');
      const rec = this.#bytes(u64(locator, 8), 56);
      if (rec.readUInt32LE(0) !== EOCD64) this.#fail('ZIP64 end record missing: corrupt archive');
      count = u64(rec, 32);
      size = u64(rec, 40);
      offset = u64(rec, 48);
    }
    return { offset, size, count };
  }

  #directory(): ZipEntry[] {
    const { offset, size, count } = this.#locate();
    const cd = this.#bytes(offset, size);
    const entries: ZipEntry[] = [];
    let p = 0;
    for (let i = 0; i < count; i++) {
      if (p + 46 > cd.length || cd.readUInt32LE(p) !== CENTRAL) this.#fail(`central directory entry ${i} is damaged`);
      const flags = cd.readUInt16LE(p + 8);
      if (flags & 1) this.#fail('holds encrypted entries');
      const nameLen = cd.readUInt16LE(p + 28);
      const extraLen = cd.readUInt16LE(p + 30);
      const commentLen = cd.readUInt16LE(p + 32);
      const e: ZipEntry = {
        name: cd.toString('utf8', p + 46, p + 46 + nameLen),
        method: cd.readUInt16LE(p + 10),
        crc: cd.readUInt32LE(p + 16),
        compressedSize: cd.readUInt32LE(p + 20),
        size: cd.readUInt32LE(p + 24),
        headerOffset: cd.readUInt32LE(p + 42),
      };
      this.#zip64(e, cd.subarray(p + 46 + nameLen, p + 46 + nameLen + extraLen));
      entries.push(e);
      p += 46 + nameLen + extraLen + commentLen;
    }
    return entries;
  }

  /** The ZIP64 extra field holds, in this order, whichever of the sizes and offset overflowed. */
  #zip64(e: ZipEntry, extra: Buffer): void {
    for (let q = 0; q + 4 <= extra.length; q += 4 + extra.readUInt16LE(q + 2)) {
      if (extra.readUInt16LE(q) !== 0x0001) continue;
      let r = q + 4;
      const next = (): number => {
        if (r + 8 > extra.length) this.#fail(`entry '${e.name}': ZIP64 extra field too short`);
        const v = u64(extra, r);
        r += 8;
        return v;
      };
      if (e.size === 0xffffffff) e.size = next();
      if (e.compressedSize === 0xffffffff) e.compressedSize = next();
      if (e.headerOffset === 0xffffffff) e.headerOffset = next();
    }
  }

  /** Offset of an entry's data (after its local header, whose extra field may differ from the directory's). */
  #dataStart(e: ZipEntry): number {
    const h = this.#bytes(e.headerOffset, 30);
    if (h.readUInt32LE(0) !== LOCAL) this.#fail(`entry '${e.name}': no local header at byte ${e.headerOffset}`);
    return e.headerOffset + 30 + h.readUInt16LE(26) + h.readUInt16LE(28);
  }

  /** The entry's bytes, inflated if need be and checked against its CRC-32. */
  read(e: ZipEntry): Buffer {
    const raw = this.#bytes(this.#dataStart(e), e.compressedSize);
    let data: Buffer;
    if (e.method === 0) data = raw;
    else if (e.method === 8) {
      try {
        data = inflateRawSync(raw);
      } catch (err) {
        this.#fail(`entry '${e.name}': cannot inflate (${(err as Error).message})`);
      }
    } else this.#fail(`entry '${e.name}' uses compression method ${e.method}; only stored (0) and deflate (8) are read`);
    if (data.length !== e.size) this.#fail(`entry '${e.name}' holds ${data.length} bytes, the directory says ${e.size}`);
    if (crc32(data) !== e.crc) this.#fail(`entry '${e.name}' fails its CRC-32 check: corrupt archive`);
    return data;
  }

  close(): void {
    closeSync(this.#fd);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
