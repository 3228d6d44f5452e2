// IDX files (MNIST's format): every element type, raw and gzipped, read straight into shared
// memory, and one-line errors for files that are not IDX or are cut short.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { IdxError, parseIdx, readIdx } from '../../src/data/idx.js';

const dir = mkdtempSync(join(tmpdir(), 'kestrel-idx-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const CODES = { uint8: 0x08, int8: 0x09, int16: 0x0b, int32: 0x0c, float32: 0x0d, float64: 0x0e } as const;
const SETTERS = { uint8: 'setUint8', int8: 'setInt8', int16: 'setInt16', int32: 'setInt32', float32: 'setFloat32', float64: 'setFloat64' } as const;
const BYTES = { uint8: 1, int8: 1, int16: 2, int32: 4, float32: 4, float64: 8 } as const;

/** An IDX file's bytes: big-endian header and elements, as the format specifies. */
function idxBytes(type: keyof typeof CODES, shape: number[], values: number[]): Buffer {
  const start = 4 + 4 * shape.length;
  const buf = Buffer.alloc(start + values.length * BYTES[type]);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  buf[2] = CODES[type];
  buf[3] = shape.length;
  shape.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  values.forEach((v, i) => (view[SETTERS[type]] as (o: number, v: number, le: boolean) => void).call(view, start + i * BYTES[type], v, false));
  return buf;
}

function file(name: string, bytes: Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

describe('IDX', () => {
  const values = { uint8: [0, 7, 255, 128, 1, 2], int8: [-128, -1, 0, 1, 127, 5], int16: [-300, 300, 0, 1, -1, 32767], int32: [-70000, 70000, 0, 1, -1, 2 ** 31 - 1], float32: [0.5, -1.25, 3, 0, 1e6, -2], float64: [0.1, -1e-300, 3, 0, 1e300, -2] };
  for (const type of Object.keys(CODES) as (keyof typeof CODES)[]) {
    it(`reads ${type} elements in their shape, raw and gzipped`, () => {
      const bytes = idxBytes(type, [2, 3], values[type]);
      for (const p of [file(`${type}.idx`, bytes), file(`${type}.idx.gz`, gzipSync(bytes))]) {
        const a = readIdx(p);
        assert.deepEqual(a.shape, [2, 3]);
        assert.deepEqual(Array.from(a.data), values[type]);
      }
      assert.deepEqual(Array.from(parseIdx(bytes).data), values[type]);
    });
  }

  it('reads 8-bit elements into shared memory when asked, raw and gzipped', () => {
    const bytes = idxBytes('uint8', [3, 2], values.uint8);
    for (const p of [file('shared.idx', bytes), file('shared.idx.gz', gzipSync(bytes))]) {
      const a = readIdx(p, { shared: true });
      assert.ok(a.data instanceof Uint8Array);
      assert.ok(a.data.buffer instanceof SharedArrayBuffer);
      assert.equal(a.data.byteLength, 6, 'just the elements, no header');
      assert.deepEqual(Array.from(a.data), values.uint8);
      assert.ok(!(readIdx(p).data.buffer instanceof SharedArrayBuffer));
    }
    const s8 = readIdx(file('shared8.idx', idxBytes('int8', [6], values.int8)), { shared: true });
    assert.ok(s8.data instanceof Int8Array && s8.data.buffer instanceof SharedArrayBuffer);
    assert.deepEqual(Array.from(s8.data), values.int8);
  });

  it('parseIdx copies the elements out of the caller\'s buffer', () => {
    const bytes = idxBytes('uint8', [6], values.uint8);
    const a = parseIdx(bytes);
    bytes.fill(9);
    assert.deepEqual(Array.from(a.data), values.uint8);
  });

  it('names the file and the problem for a missing, foreign or truncated file', () => {
    const full = idxBytes('uint8', [2, 3], values.uint8);
    const cases: [string, string | Uint8Array, RegExp][] = [
      ['missing', join(dir, 'nope.idx'), /cannot read .*nope\.idx: ENOENT/],
      ['foreign', file('png.idx', Buffer.from('\x89PNG\r\n\x1a\n')), /png\.idx: not an IDX file \(bad magic number\)/],
      ['bad type', file('type.idx', Buffer.from([0, 0, 0x0a, 1, 0, 0, 0, 1, 0])), /type\.idx: unknown IDX element type 0xa/],
      ['short header', file('head.idx', full.subarray(0, 8)), /head\.idx: truncated IDX header/],
      ['short data', file('data.idx', full.subarray(0, full.length - 1)), /data\.idx: truncated IDX data \(17 bytes, expected 18\)/],
      ['short data, gzipped', file('data.idx.gz', gzipSync(full.subarray(0, full.length - 1))), /data\.idx\.gz: truncated IDX data/],
      ['short int32 data', file('i32.idx', idxBytes('int32', [2], [1, 2]).subarray(0, 11)), /i32\.idx: truncated IDX data \(11 bytes, expected 16\)/],
    ];
    for (const [what, p, re] of cases) {
      assert.throws(() => readIdx(p as string), (e: Error) => e instanceof IdxError && re.test(e.message) && !e.message.includes('\n'), what);
    }
  });
});
