import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { readTorchFile, type RawTensor } from '../../src/checkpoint/torch.js';
import { ZipReader } from '../../src/checkpoint/zip.js';
import { FIXTURES } from '../helpers.js';

const PTH = join(FIXTURES, 'pth');
interface Described { dtype: string; shape: number[]; sha256: string; first: string[] }
const expected = JSON.parse(readFileSync(join(PTH, 'expected.json'), 'utf8')) as { resnet: Record<string, Described>; mixed: Record<string, Described> };
const dir = mkdtempSync(join(tmpdir(), 'kestrel-pth-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** Every tensor bit for bit (sha256 of its row-major bytes), with its dtype, shape and key order. */
function assertSame(got: Map<string, RawTensor>, want: Record<string, Described>): void {
  assert.deepEqual([...got.keys()], Object.keys(want));
  for (const [k, e] of Object.entries(want)) {
    const t = got.get(k)!;
    assert.equal(t.dtype, e.dtype === 'bool' ? 'bool' : e.dtype, k);
    assert.deepEqual(t.shape, e.shape, k);
    assert.equal(sha(t.data), e.sha256, `${k}: bytes differ from torch's`);
  }
}

const asMap = (x: unknown): Map<unknown, unknown> => {
  assert.ok(x instanceof Map);
  return x;
};

describe('readTorchFile', () => {
  for (const layout of ['zip', 'legacy']) {
    test(`reads a ResNet-named state dict (${layout}) bit for bit, in torch's key order`, () => {
      assertSame(asMap(readTorchFile(join(PTH, `resnet_${layout}.pth`))) as Map<string, RawTensor>, expected.resnet);
    });

    test(`reads every dtype, views, shared and non-contiguous storages and a checkpoint dict (${layout})`, () => {
      const ckpt = asMap(readTorchFile(join(PTH, `mixed_${layout}.pth`)));
      assert.equal(ckpt.get('epoch'), 7);
      assert.equal(ckpt.get('arch'), 'tiny');
      assert.equal(ckpt.get('best'), 0.5);
      assert.deepEqual(ckpt.get('names'), ['a', 'b']);
      const sd = asMap(ckpt.get('state_dict')) as Map<string, RawTensor>;
      assertSame(sd, expected.mixed);
      // Spot values beside the hashes, so a failure says what went wrong.
      assert.deepEqual([...new Float32Array(sd.get('transposed')!.data.slice().buffer)].slice(0, 2).map((v) => v.toPrecision(6)), expected.mixed.transposed!.first.slice(0, 2).map((v) => Number(v).toPrecision(6)));
      assert.deepEqual([...new BigInt64Array(sd.get('i64')!.data.slice().buffer)], [-(2n ** 63n), 2n ** 62n + 1n, -1n, 9007199254740993n]);
      assert.deepEqual([...new Float32Array(sd.get('slice_of_big')!.data.slice().buffer)], [90, 91, 92, 93, 94]);
    });
  }

  test('reads an archive re-zipped with deflate, and its entries pass their CRC-32', () => {
    assertSame(asMap(readTorchFile(join(PTH, 'deflated.pth'))) as Map<string, RawTensor>, expected.resnet);
    using zip = ZipReader.open(join(PTH, 'deflated.pth'));
    assert.ok(zip.entries.every((e) => e.method === 8 || e.size === 0));
  });

  for (const [file, global] of [['hostile_zip.pth', 'posix.system'], ['hostile_legacy.pth', 'posix.system'], ['hostile_eval.pth', 'builtins.eval']] as const) {
    test(`refuses a pickle that calls ${global} (${file}) with one line naming it`, () => {
      const marker = '/tmp/kestrel-pwned-marker';
      rmSync(marker, { force: true });
      assert.throws(() => readTorchFile(join(PTH, file)), (e: Error) => {
        assert.equal(e.name, 'TorchFileError');
        assert.ok(e.message.includes(`calls ${global}`), e.message);
        assert.ok(!e.message.includes('\n'));
        return true;
      });
      assert.equal(existsSync(marker), false);
    });
  }

  test('a corrupted byte in a stored entry fails its CRC-32', () => {
    const bytes = readFileSync(join(PTH, 'resnet_zip.pth'));
    using zip = ZipReader.open(join(PTH, 'resnet_zip.pth'));
    const e = zip.entries.find((x) => x.name.endsWith('/data/0'))!;
    const at = e.headerOffset + 30 + bytes.readUInt16LE(e.headerOffset + 26) + bytes.readUInt16LE(e.headerOffset + 28) + 5;
    const bad = Buffer.from(bytes);
    bad[at] = bad[at]! ^ 0xff;
    writeFileSync(join(dir, 'flipped.pth'), bad);
    assert.throws(() => readTorchFile(join(dir, 'flipped.pth')), /data\/0' fails its CRC-32 check/);
  });

  for (const layout of ['zip', 'legacy']) {
    test(`truncated ${layout} files give one line saying so, at every cut`, () => {
      const bytes = readFileSync(join(PTH, `mixed_${layout}.pth`));
      for (const cut of [0, 1, 10, 100, Math.floor(bytes.length / 2), bytes.length - 30, bytes.length - 1]) {
        writeFileSync(join(dir, 'cut.pth'), bytes.subarray(0, cut));
        assert.throws(() => readTorchFile(join(dir, 'cut.pth')), (e: Error) => {
          assert.equal(e.name, 'TorchFileError', `cut at ${cut}: ${e.stack}`);
          assert.match(e.message, /truncated|not a PyTorch file|corrupt/, `cut at ${cut}: ${e.message}`);
          assert.ok(!e.message.includes('\n'));
          return true;
        });
      }
    });
  }

  test('an expanded (stride-0) view reads as its values; one that would allocate 400 MB from 4 bytes is refused', () => {
    const x = asMap(readTorchFile(join(PTH, 'expanded.pth'))).get('expanded') as RawTensor;
    assert.deepEqual(x.shape, [4, 3]);
    assert.deepEqual([...new Float32Array(x.data.slice().buffer)], [0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2]);
    assert.throws(() => readTorchFile(join(PTH, 'bomb.pth')), /bomb\.pth: a tensor of shape \[100000000\] expands a 4-byte storage to 400000000 bytes: refused/);
  });

  test('a file that is neither zip nor pickle is named as such', () => {
    writeFileSync(join(dir, 'text.pth'), 'hello world, not weights');
    assert.throws(() => readTorchFile(join(dir, 'text.pth')), /text\.pth: not a PyTorch file/);
  });
});
