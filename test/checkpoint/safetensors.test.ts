import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  CheckpointError, loadSafetensors, parseSafetensors, readSafetensorsHeader, saveSafetensors,
  serializeSafetensors, SAFETENSORS_DTYPES, writeFileAtomic,
} from '../../src/checkpoint/index.js';
import { native } from '../../src/native/index.js';
import { cudaAvailable, memory, tensor, type DType, type Tensor } from '../../src/tensor/index.js';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/safetensors/', import.meta.url));
const FIXTURE = join(FIXTURES, 'reference.safetensors');
const fixtureBytes = readFileSync(FIXTURE);

interface Expected { dtype: string; shape: number[]; values: (number | string)[] }
const expected = JSON.parse(readFileSync(join(FIXTURES, 'reference.json'), 'utf8')) as {
  metadata: Record<string, string>; order: string[]; tensors: Record<string, Expected>;
};

const dir = mkdtempSync(join(tmpdir(), 'kestrel-safetensors-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const rawBytes = (t: Tensor): Buffer => Buffer.from(native().toBuffer(t.handle));
const num = (v: number | string): number => (typeof v === 'number' ? v : v === 'nan' ? NaN : v === 'inf' ? Infinity : v === '-inf' ? -Infinity : Number(v));
/** Values as comparable plain data: int64 as decimal strings, everything else as numbers. */
const valuesOf = (t: Tensor): (number | string)[] => {
  const d = t.dataSync();
  return d instanceof BigInt64Array ? Array.from(d, String) : Array.from(d as ArrayLike<number>);
};
const KESTREL = new Map(Object.entries(SAFETENSORS_DTYPES).map(([d, n]) => [n, d as DType]));

function fromExpected(e: Expected): Tensor {
  const shape = e.shape;
  const floats = Float32Array.from(e.values, num);
  switch (e.dtype) {
    case 'I64': return tensor(BigInt64Array.from(e.values, (v) => BigInt(v)), { shape });
    case 'F64': return tensor(Float64Array.from(e.values, num), { shape });
    case 'F32': return tensor(floats, { shape });
    case 'F16': return tensor(floats, { shape, dtype: 'float16' });
    case 'BF16': return tensor(floats, { shape, dtype: 'bfloat16' });
    case 'I32': return tensor(Int32Array.from(e.values, num), { shape });
    case 'I16': return tensor(Int16Array.from(e.values, num), { shape });
    case 'I8': return tensor(Int8Array.from(e.values, num), { shape });
    case 'U8': return tensor(Uint8Array.from(e.values, num), { shape });
    case 'BOOL': return tensor(Uint8Array.from(e.values, num), { shape, dtype: 'bool' });
    default: throw new Error(`fixture dtype ${e.dtype}`);
  }
}

/** One tensor per kestrel dtype, with edge values, plus a 0-dim, an empty and a non-contiguous one. */
function everyDtype(): Map<string, Tensor> {
  const transposed = tensor(new Float32Array([1, 2, 3, 4, 5, 6]), { shape: [2, 3] }).t();
  assert.equal(transposed.isContiguous(), false);
  return new Map<string, Tensor>([
    ['float32', tensor(new Float32Array([1.5, -0, NaN, Infinity, 3.4028234663852886e38, 1e-45]), { shape: [2, 3] })],
    ['float64', tensor(new Float64Array([1 / 3, -1e300, 5e-324, Math.PI]))],
    ['float16', tensor([0.5, -1.5, 65504, 6.103515625e-5, 5.960464477539063e-8, -0], { dtype: 'float16' })],
    ['bfloat16', tensor([1, -2.5, 3.140625, 0.0078125, 65280, -0], { dtype: 'bfloat16', shape: [3, 2] })],
    ['int64', tensor(new BigInt64Array([-(2n ** 63n), 2n ** 62n + 1n, -1n, 0n]))],
    ['int32', tensor(new Int32Array([-(2 ** 31), 2 ** 31 - 1, 7]))],
    ['int16', tensor(new Int16Array([-32768, 32767, 12]))],
    ['int8', tensor(new Int8Array([-128, 127, 0]))],
    ['uint8', tensor(new Uint8Array([0, 255, 128]))],
    ['bool', tensor([true, false, true, true])],
    ['scalar', tensor(3.5)],
    ['empty', tensor(new Float32Array(0), { shape: [0, 3] })],
    ['transposed', transposed],
    ['10', tensor(new Uint8Array([1, 2]))],
  ]);
}

const rejects = (fn: () => unknown, pattern: RegExp): void =>
  assert.throws(fn, (e: unknown) => e instanceof CheckpointError && pattern.test(e.message), `expected CheckpointError matching ${pattern}`);

describe('safetensors round trip', () => {
  test('every dtype keeps its dtype, shape and exact bytes', () => {
    const src = everyDtype();
    const path = join(dir, 'all.safetensors');
    saveSafetensors(path, src);
    const { tensors, metadata } = loadSafetensors(path);
    assert.deepEqual(metadata, {});
    assert.deepEqual([...tensors.keys()].sort(), [...src.keys()].sort());
    for (const [name, t] of src) {
      const got = tensors.get(name)!;
      assert.equal(got.dtype, t.dtype, name);
      assert.deepEqual(got.shape, t.shape, name);
      assert.deepEqual(valuesOf(got), valuesOf(t), name);
      assert.deepEqual(rawBytes(got), rawBytes(t), name);
    }
    assert.deepEqual(valuesOf(tensors.get('transposed')!), [1, 4, 2, 5, 3, 6]);
    assert.deepEqual(valuesOf(tensors.get('int64')!), ['-9223372036854775808', '4611686018427387905', '-1', '0']);
    assert.deepEqual(valuesOf(tensors.get('float16')!), [0.5, -1.5, 65504, 6.103515625e-5, 5.960464477539063e-8, -0]);
    assert.deepEqual(tensors.get('scalar')!.shape, []);
    assert.equal(tensors.get('scalar')!.item(), 3.5);
    for (const t of [...src.values(), ...tensors.values()]) t.dispose();
  });

  test('metadata round trips (integer-like and non-ASCII keys); parse of serialize is the identity', () => {
    const meta = { epoch: '12', '0': 'zero', 'clé': 'valeur "citée"\n', empty: '' };
    const path = join(dir, 'meta.safetensors');
    const w = tensor([1, 2, 3]);
    saveSafetensors(path, { w }, meta);
    assert.deepEqual(loadSafetensors(path).metadata, meta);
    assert.deepEqual(readSafetensorsHeader(path).metadata, meta);
    const parsed = parseSafetensors(serializeSafetensors({ w }, meta));
    assert.deepEqual(parsed.metadata, meta);
    assert.deepEqual(valuesOf(parsed.tensors.get('w')!), [1, 2, 3]);
  });

  test('a tensor that requires grad is saved by value', () => {
    const p = tensor([0.25, -4]).requiresGrad_();
    const { tensors } = parseSafetensors(serializeSafetensors({ p }));
    assert.deepEqual(valuesOf(tensors.get('p')!), [0.25, -4]);
    assert.equal(tensors.get('p')!.requiresGrad, false);
  });

  test('device option moves tensors (cuda only where available)', { skip: !cudaAvailable() && 'no CUDA' }, () => {
    const { tensors } = loadSafetensors(FIXTURE, { device: 'cuda' });
    assert.equal(tensors.get('f64')!.device, 'cuda:0');
    assert.deepEqual(rawBytes(tensors.get('bf16')!), rawBytes(parseSafetensors(fixtureBytes).tensors.get('bf16')!));
  });
});

describe('safetensors against the python-written fixture', () => {
  test('values, dtypes, shapes, order and metadata match reference.json', () => {
    const { tensors, metadata } = loadSafetensors(FIXTURE);
    assert.deepEqual(metadata, expected.metadata);
    assert.deepEqual([...tensors.keys()], expected.order);
    for (const [name, e] of Object.entries(expected.tensors)) {
      const t = tensors.get(name);
      assert.ok(t, name);
      assert.equal(t.dtype, KESTREL.get(e.dtype), name);
      assert.deepEqual(t.shape, e.shape, name);
      const want = e.dtype === 'I64' ? e.values : e.values.map(num);
      assert.deepEqual(valuesOf(t), want, name);
    }
  });

  test('our writer reproduces the python bytes exactly', () => {
    const fromJson = new Map(Object.entries(expected.tensors).map(([k, e]) => [k, fromExpected(e)]));
    assert.ok(serializeSafetensors(fromJson, expected.metadata).equals(fixtureBytes));
    const path = join(dir, 'rewritten.safetensors');
    saveSafetensors(path, loadSafetensors(FIXTURE).tensors, expected.metadata);
    assert.ok(readFileSync(path).equals(fixtureBytes));
  });

  test("matches the reference implementation's own test vectors", () => {
    const attn = tensor(new Float32Array([0, 1, 2, 3, 4, 5]), { shape: [1, 2, 3] });
    const json = '{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}';
    const want = Buffer.concat([Buffer.from([64, 0, 0, 0, 0, 0, 0, 0]), Buffer.from(json), rawBytes(attn)]);
    assert.deepEqual(serializeSafetensors({ 'attn.0': attn }), want);
    assert.deepEqual(serializeSafetensors({}), Buffer.from([8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]));
    assert.deepEqual(serializeSafetensors({}, { framework: 'pt' }).subarray(0, 8), Buffer.from([40, 0, 0, 0, 0, 0, 0, 0]));
    assert.equal(serializeSafetensors({}, { framework: 'pt' }).subarray(8).toString(), '{"__metadata__":{"framework":"pt"}}     ');
  });

  test('readSafetensorsHeader lists entries without loading data', () => {
    const before = memory().tensors;
    const h = readSafetensorsHeader(FIXTURE);
    assert.equal(memory().tensors, before);
    assert.deepEqual([...h.tensors.keys()], expected.order);
    assert.deepEqual(h.tensors.get('i64'), { dtype: 'int64', shape: [5], dataOffsets: [0, 40] });
    assert.equal(h.dataStart, 8 + Number(fixtureBytes.readBigUInt64LE(0)));
    assert.equal(h.dataStart % 8, 0);
    assert.deepEqual(h.metadata, expected.metadata);
  });
});

describe('safetensors atomic save', () => {
  const listing = (): string[] => readdirSync(dir).filter((f) => f.startsWith('.') || f.endsWith('.tmp'));

  test('a failing save leaves the previous file intact and no temp file', () => {
    const path = join(dir, 'keep.safetensors');
    saveSafetensors(path, { w: tensor([1, 2, 3]) }, { v: '1' });
    const original = readFileSync(path);
    rejects(() => saveSafetensors(path, { w: tensor([9]) }, { epoch: 3 } as unknown as Record<string, string>), /keep\.safetensors: metadata 'epoch' is a number, not a string/);
    const gone = tensor([4, 5]);
    gone.dispose();
    rejects(() => saveSafetensors(path, { w: gone }), /tensor 'w' was disposed/);
    rejects(() => saveSafetensors(path, { __metadata__: tensor([1]) }), /reserved/);
    assert.ok(readFileSync(path).equals(original));
    assert.deepEqual(listing(), []);
  });

  test('an error in the middle of writing removes the temp file', () => {
    const path = join(dir, 'mid.bin');
    writeFileSync(path, 'old');
    function* failing(): Generator<Uint8Array> {
      yield Buffer.from('new data');
      throw new Error('disk on fire');
    }
    assert.throws(() => writeFileAtomic(path, failing()), /disk on fire/);
    assert.equal(readFileSync(path, 'utf8'), 'old');
    assert.deepEqual(listing(), []);
    writeFileAtomic(path, [Buffer.from('new '), Buffer.from('data')]);
    assert.equal(readFileSync(path, 'utf8'), 'new data');
  });

  test('an unwritable destination is a CheckpointError', () => {
    rejects(() => saveSafetensors(join(dir, 'no/such/dir/x.safetensors'), { w: tensor([1]) }), /x\.safetensors: cannot write: .*ENOENT/);
  });
});

/** A file with the given header (object or raw text) and data bytes. */
function craft(header: unknown, data = Buffer.alloc(0)): Buffer {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, data]);
}
const f32 = (offsets: [number, number], shape = [(offsets[1] - offsets[0]) / 4]): object => ({ dtype: 'F32', shape, data_offsets: offsets });

describe('safetensors validation', () => {
  test('a truncated file is reported as truncated, from disk and from memory', () => {
    const dataStart = readSafetensorsHeader(FIXTURE).dataStart;
    for (const cut of [0, 4, 7, 8, 20, dataStart - 1, dataStart, dataStart + 10, fixtureBytes.length - 1]) {
      const bytes = fixtureBytes.subarray(0, cut);
      const path = join(dir, `cut${cut}.safetensors`);
      writeFileSync(path, bytes);
      const before = memory().tensors;
      rejects(() => loadSafetensors(path), new RegExp(`cut${cut}\\.safetensors: .*truncated`));
      rejects(() => readSafetensorsHeader(path), /truncated/);
      rejects(() => parseSafetensors(bytes), /^<buffer>: .*truncated/);
      assert.equal(memory().tensors, before, `no tensor leaked at cut ${cut}`);
    }
  });

  test('corrupt headers are CheckpointErrors naming the problem', () => {
    const four = Buffer.alloc(4);
    const cases: [Buffer, RegExp][] = [
      [craft('{"a": '), /header is not valid UTF-8 JSON/],
      [Buffer.concat([Buffer.from([8, 0, 0, 0, 0, 0, 0, 0]), Buffer.from([0x22, 0xc3, 0x28, 0x22, 32, 32, 32, 32])]), /not valid UTF-8/],
      [craft('[1, 2]'), /header is not a JSON object/],
      [craft('null'), /header is not a JSON object/],
      [craft({ a: 3 }), /tensor 'a': header entry is not an object/],
      [craft({ a: { dtype: 'U16', shape: [2], data_offsets: [0, 4] } }, four), /tensor 'a': unsupported dtype "U16"/],
      [craft({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, four), /tensor 'a': invalid shape/],
      [craft({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 0] } }, four), /tensor 'a': invalid data_offsets/],
      [craft({ a: f32([0, 4], [2]) }, four), /tensor 'a': shape \[2\] of F32 needs 8 bytes but data_offsets \[0, 4\] span 4/],
      [craft({ a: f32([0, 8]), b: f32([4, 8]) }, Buffer.alloc(8)), /tensor 'b': data_offsets \[4, 8\] overlap/],
      [craft({ a: f32([0, 4]), b: f32([8, 12]) }, Buffer.alloc(12)), /tensor 'b': .*gap after byte 4/],
      [craft({ a: f32([4, 8]) }, Buffer.alloc(8)), /tensor 'a': .*gap after byte 0/],
      [craft({ a: f32([0, 4]) }, Buffer.alloc(8)), /4 bytes follow the last tensor's data/],
      [craft({ a: f32([0, 4000]) }, four), /data section is 4 bytes but the header describes 4000: truncated/],
      [craft({ __metadata__: { epoch: 3 } }), /__metadata__ must be an object mapping strings to strings/],
      [craft({ a: { dtype: 'F32', shape: [2 ** 40, 2 ** 40], data_offsets: [0, 4] } }, four), /too large/],
    ];
    for (const [bytes, pattern] of cases) rejects(() => parseSafetensors(bytes), pattern);
    const path = join(dir, 'corrupt.safetensors');
    writeFileSync(path, cases[0]![0]);
    rejects(() => loadSafetensors(path), /corrupt\.safetensors: header is not valid UTF-8 JSON/);
  });

  test('missing files, directories and non-safetensors files', () => {
    rejects(() => loadSafetensors(join(dir, 'absent.safetensors')), /absent\.safetensors: file not found/);
    rejects(() => readSafetensorsHeader(dir), /not a regular file/);
    const png = join(dir, 'image.png');
    writeFileSync(png, Buffer.from('\x89PNG\r\n\x1a\n' + 'x'.repeat(100), 'latin1'));
    rejects(() => loadSafetensors(png), /image\.png: header length \d+ runs past the end of the 108-byte file/);
  });

  test('an empty checkpoint is valid', () => {
    const { tensors, metadata } = parseSafetensors(serializeSafetensors({}));
    assert.equal(tensors.size, 0);
    assert.deepEqual(metadata, {});
  });
});
