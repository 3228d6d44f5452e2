// One bad image never stops `kestrel predict` or `kestrel val`: a checkpoint whose eval pipeline
// has no fixed size (an MNIST one: just normalize) still takes an image of another size, resized
// to its imgsz at load time (the checkpoint and its .onnx export); an image over --max-pixels, an
// empty file and a file that is not an image each get their own error line in our words.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import type { TransformSpec } from '../../src/data/transforms.js';
import { FORMAT, saveCheckpoint } from '../../src/engine/checkpoint.js';
import { createModel } from '../../src/models/registry.js';
import { checkpointToOnnx } from '../../src/export/export.js';
import { manualSeed } from '../../src/tensor/index.js';

const main = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const CLASSES = ['a', 'b'];
const NORM: TransformSpec & { op: 'normalize' } = { op: 'normalize', mean: [0.5], std: [0.25] };
let dir: string;

function kestrel(args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [main, ...args], { cwd: dir, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

type Line = { source: string; top?: { label: string; score: number }[]; error?: string };
const lines = (out: string): Line[] => out.trim().split('\n').map((l) => JSON.parse(l) as Line);
const bySource = (ls: Line[]): Map<string, Line> => new Map(ls.map((l) => [l.source.split('/').at(-1)!, l]));

/** A grey w×h PNG with a texture that depends on `seed`. */
async function greyPng(path: string, w: number, h: number, seed: number): Promise<void> {
  const px = Buffer.alloc(w * h);
  for (let i = 0; i < px.length; i++) px[i] = ((i % w) * 13 + Math.floor(i / w) * 7 + seed * 50 + ((i * seed) % 11)) & 255;
  mkdirSync(join(path, '..'), { recursive: true });
  await sharp(px, { raw: { width: w, height: h, channels: 1 } }).toColourspace('b-w').png().toFile(path);
}

function assertClose(a: Line | undefined, b: Line | undefined, what: string, tol = 1e-5): void {
  assert.ok(a?.top && b?.top, `${what}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
  assert.deepEqual(a.top.map((t) => t.label), b.top.map((t) => t.label), what);
  a.top.forEach((t, i) => assert.ok(Math.abs(t.score - b.top![i]!.score) <= tol, `${what}: ${t.score} vs ${b.top![i]!.score}`));
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kestrel-robust-'));
  for (let i = 0; i < 4; i++) await greyPng(join(dir, `imgs/d${i}.png`), 28, 28, i);
  await greyPng(join(dir, 'imgs/odd.png'), 40, 32, 7);
  writeFileSync(join(dir, 'imgs/empty.png'), '');
  symlinkSync('/etc/passwd', join(dir, 'imgs/passwd.png'));
  // The same network twice: as an MNIST checkpoint saves it (no resize: its data was all 28×28),
  // and with the resize to 28×28 written out, which is what the first must run as.
  manualSeed(3);
  const model = createModel('smallcnn', { numClasses: CLASSES.length, inChannels: 1, imgSize: 28 });
  const variants: [string, TransformSpec[]][] = [['mnist', [NORM]], ['explicit', [{ op: 'resize', size: [28, 28] }, NORM]]];
  for (const [name, transforms] of variants) {
    saveCheckpoint(join(dir, `${name}.safetensors`), model, {
      format: FORMAT, task: 'classify', model: model.config, classes: CLASSES, epoch: 0, createdAt: new Date(0).toISOString(),
      preprocess: { imgsz: 28, channels: 1, mean: NORM.mean, std: NORM.std, transforms },
    });
  }
  model.dispose();
  writeFileSync(join(dir, 'mnist.onnx'), (await checkpointToOnnx(join(dir, 'mnist.safetensors'), { dynamicBatch: true })).bytes);
  // A val set: the same images under two classes, the odd one among them.
  for (const split of ['train', 'val']) {
    for (const [k, f] of ['d0', 'd1', 'odd', 'd2', 'd3'].entries()) {
      mkdirSync(join(dir, 'data', split, CLASSES[k % 2]!), { recursive: true });
      writeFileSync(join(dir, 'data', split, CLASSES[k % 2]!, `${f}.png`), readFileSync(join(dir, 'imgs', `${f}.png`)));
    }
  }
});

after(() => rmSync(dir, { recursive: true, force: true }));

describe('kestrel predict: one line per image, whatever the image', () => {
  const files = ['d0.png', 'd1.png', 'd2.png', 'd3.png', 'odd.png', 'empty.png', 'passwd.png'];

  it('a checkpoint without a fixed-size transform: every image gets its line; the odd-sized one is resized to imgsz', () => {
    const r = kestrel(['predict', '--weights', 'mnist.safetensors', '--source', 'imgs', '--topk', '3', '--workers', '0']);
    assert.equal(r.code, 1, `per-image errors make the exit code 1: ${r.err}`);
    const got = bySource(lines(r.out));
    assert.deepEqual([...got.keys()].sort(), [...files].sort());
    const ref = bySource(lines(kestrel(['predict', '--weights', 'explicit.safetensors', '--source', 'imgs', '--topk', '3', '--workers', '0']).out));
    for (const f of ['d0.png', 'd1.png', 'd2.png', 'd3.png', 'odd.png']) assertClose(got.get(f), ref.get(f), f, 0);
    assert.equal(got.get('empty.png')!.error, 'decode failed: the file is empty');
    assert.match(got.get('passwd.png')!.error!, /^decode failed: not an image\b/);
  });

  it('its .onnx export, old or new: the same lines as the checkpoint (scores within 1e-5)', () => {
    const torch = bySource(lines(kestrel(['predict', '--weights', 'mnist.safetensors', '--source', 'imgs', '--topk', '3']).out));
    const r = kestrel(['predict', '--weights', 'mnist.onnx', '--source', 'imgs', '--topk', '3', '--batch', '4']);
    assert.equal(r.code, 1, r.err);
    const ort = bySource(lines(r.out));
    assert.deepEqual([...ort.keys()].sort(), [...files].sort());
    for (const f of ['d0.png', 'd1.png', 'd2.png', 'd3.png', 'odd.png']) assertClose(ort.get(f), torch.get(f), f);
    assert.equal(ort.get('empty.png')!.error, torch.get('empty.png')!.error);
  });

  it('--max-pixels: an image over the limit is its own error line, read from its header', () => {
    for (const weights of ['mnist.safetensors', 'mnist.onnx']) {
      const r = kestrel(['predict', '--weights', weights, '--source', 'imgs', '--max-pixels', '1000']);
      assert.equal(r.code, 1, r.err);
      const got = bySource(lines(r.out));
      assert.equal(got.size, files.length);
      assert.equal(got.get('odd.png')!.error, 'decode failed: too many pixels: 40×32 is 1280 pixels, over the limit of 1000 (--max-pixels)', weights);
      assert.ok(got.get('d0.png')!.top, weights);
    }
    const bad = kestrel(['predict', '--weights', 'mnist.onnx', '--source', 'imgs', '--max-pixels', '0']);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /--max-pixels.*positive integer/);
  });
});

describe('kestrel val: an odd-sized image is scored, an oversized one skipped', () => {
  it('scores all five images with the checkpoint and its .onnx export alike', () => {
    const metrics = (name: string): { count: number; accuracy: number } => JSON.parse(readFileSync(join(dir, 'runs', name, 'metrics.json'), 'utf8')) as { count: number; accuracy: number };
    for (const [weights, name] of [['mnist.safetensors', 't'], ['mnist.onnx', 'o']]) {
      const r = kestrel(['val', '--weights', weights, '--data', 'data', '--project', 'runs', '--name', name, '--workers', '0']);
      assert.equal(r.code, 0, r.err);
      assert.equal(metrics(name).count, 5);
    }
    assert.equal(metrics('o').accuracy, metrics('t').accuracy);
    const r = kestrel(['val', '--weights', 'mnist.safetensors', '--data', 'data', '--project', 'runs', '--name', 'small', '--max-pixels', '1000']);
    assert.equal(r.code, 0, r.err);
    assert.equal(metrics('small').count, 4);
    assert.match(readFileSync(join(dir, 'runs/small/val.log'), 'utf8'), /skipped .*odd\.png: too many pixels: 40×32 is 1280 pixels, over the limit of 1000/);
  });
});

describe('kestrel train --max-pixels', () => {
  it('skips training and val images over the limit, naming them in train.log', () => {
    const r = kestrel(['train', '--data', 'data', '--model', 'smallcnn', '--imgsz', '28', '--epochs', '1', '--batch', '2', '--workers', '0', '--project', 'runs', '--name', 'tr', '--max-pixels', '1000']);
    assert.equal(r.code, 0, r.err);
    const log = readFileSync(join(dir, 'runs/tr/train.log'), 'utf8');
    for (const split of ['train', 'val']) assert.match(log, new RegExp(`skipped \\S*/data/${split}/a/odd\\.png: too many pixels: 40×32 is 1280 pixels, over the limit of 1000 \\(--max-pixels\\)`), split);
  });
});
