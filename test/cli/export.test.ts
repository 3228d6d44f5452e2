// `kestrel export` as a user runs it: a checkpoint in, a .onnx file out (default name, or -o), the
// options reaching the file, and bad input giving one line, exit code 1 and no output file.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { buildTransforms } from '../../src/data/transforms.js';
import { FORMAT, saveCheckpoint } from '../../src/engine/checkpoint.js';
import { createModel } from '../../src/models/index.js';
import { readContract } from '../../src/onnx/contract.js';
import { decodeModel, toNumber, type ValueInfoProto } from '../../src/onnx/proto.js';
import { manualSeed } from '../../src/tensor/index.js';

const main = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

function kestrel(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [main, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const dims = (v: ValueInfoProto): (string | number)[] => v.type!.tensorType!.shape!.dim.map((d) => d.dimParam ?? toNumber(d.dimValue));

/** A one-line failure with exit code 1 and no stack. */
function assertFails(r: ReturnType<typeof kestrel>, message: RegExp): void {
  assert.equal(r.status, 1, r.stderr);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, message);
  assert.equal(r.stdout, '');
}

const dir = mkdtempSync(join(tmpdir(), 'kestrel-cli-export-'));
const weights = join(dir, 'best.safetensors');
const classes = ['cat', 'dog', 'bird'];

before(() => {
  manualSeed(0);
  const model = createModel('smallcnn', { numClasses: 3, inChannels: 1, imgSize: 28 }).eval();
  const preprocess = { imgsz: 28, channels: 1 as const, mean: [0.5], std: [0.25], transforms: buildTransforms('eval', { imgsz: 28, channels: 1, mean: [0.5], std: [0.25] }) };
  saveCheckpoint(weights, model, { format: FORMAT, task: 'classify', model: model.config, classes, preprocess, epoch: 3, createdAt: new Date().toISOString() });
  model.dispose();
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('kestrel export', () => {
  it('writes <weights>.onnx with a dynamic batch and the contract', () => {
    const r = kestrel('export', '--weights', weights, '--dynamic-batch');
    assert.equal(r.status, 0, r.stderr);
    const out = join(dir, 'best.onnx');
    assert.equal(r.stdout, `${out}: ONNX opset 17, images [N, 1, 28, 28] → logits [N, 3], ${(readFileSync(out).byteLength / 1e6).toFixed(1)} MB\n`);
    const proto = decodeModel(readFileSync(out));
    assert.deepEqual(dims(proto.graph.input[0]!), ['N', 1, 28, 28]);
    assert.deepEqual(dims(proto.graph.output[0]!), ['N', 3]);
    const contract = readContract(proto.metadataProps!)!;
    assert.deepEqual(contract.names, classes);
    assert.deepEqual([contract.mean, contract.std, contract.imgsz, contract.channels, contract.precision], [[0.5], [0.25], [28, 28], 1, 'fp32']);
  });

  it('-o, --opset and --batch reach the file', () => {
    const out = join(dir, 'fixed.onnx');
    const r = kestrel('export', '--weights', weights, '-o', out, '--opset', '13', '--batch', '4');
    assert.equal(r.status, 0, r.stderr);
    const proto = decodeModel(readFileSync(out));
    assert.equal(toNumber(proto.opsetImport[0]!.version), 13);
    assert.deepEqual(dims(proto.graph.input[0]!), [4, 1, 28, 28]);
    assert.deepEqual(dims(proto.graph.output[0]!), [4, 3]);
  });

  it('--help describes every option', () => {
    const r = kestrel('export', '--help');
    assert.equal(r.status, 0);
    assert.match(r.stdout, /^Usage: kestrel export/m);
    for (const opt of ['--weights', '--format', '--opset', '--dynamic-batch', '--batch', '--output']) assert.match(r.stdout, new RegExp(`${opt}\\b`), opt);
  });

  it('bad input: one line, exit 1, and no file written', () => {
    const before = readdirSync(dir).sort();
    assertFails(kestrel('export', '--weights', join(dir, 'missing.safetensors')), /^kestrel: .*missing\.safetensors: no such checkpoint$/);
    assert.ok(!existsSync(join(dir, 'missing.onnx')));
    assertFails(kestrel('export', '--weights', weights, '--format', 'tflite'), /^kestrel: option '--format <format>' argument 'tflite' is invalid\. Allowed choices are onnx\.$/);
    assertFails(kestrel('export', '--weights', weights, '--opset', '18'), /^kestrel: option '--opset <n>' argument '18' is invalid\. expected an opset from 13 to 17\.$/);
    assertFails(kestrel('export', '--weights', weights, '--dynamic-batch', '--batch', '2'), /^kestrel: --batch and --dynamic-batch exclude each other$/);
    assertFails(kestrel('export', '--weights', weights, '-o', join(dir, 'no-such-dir', 'm.onnx')), /^kestrel: output folder .*no-such-dir does not exist$/);
    assertFails(kestrel('export', '--weights', weights, '-o', weights), /would overwrite the checkpoint$/);
    assert.deepEqual(readdirSync(dir).sort(), before, 'files in the folder');
  });
});
