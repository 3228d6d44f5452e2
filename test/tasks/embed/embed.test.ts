// `kestrel embed`: the vectors are the model's pooled features before its classifier, checked
// against torchvision's own modules on its weights (test/fixtures/gen_embed.py), and for the ViT
// against the model's logits; the file is safetensors any reader takes; one bad image is a line
// of its own and does not stop the rest.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { loadSafetensors, readSafetensorsHeader, saveSafetensors } from '../../../src/checkpoint/index.js';
import { saveCheckpoint, type ClassifierMeta } from '../../../src/engine/checkpoint.js';
import { importWeights } from '../../../src/engine/pretrained.js';
import { cachedPath, hubEntry } from '../../../src/hub/index.js';
import { createModel, type ClassifierModel } from '../../../src/models/registry.js';
import { manualSeed, noGrad, tensor } from '../../../src/tensor/index.js';
import { embedToFile } from '../../../src/tasks/embed/embed.js';
import { readEmbeddings } from '../../../src/tasks/embed/file.js';
import { FIXTURES } from '../../helpers.js';
import { IMAGENET_WEIGHTS, imagenetWeightsMissing } from '../../imagenet-weights.js';

const CLI = fileURLToPath(new URL('../../../src/cli/main.js', import.meta.url));
const IMAGENET = join(FIXTURES, 'imagenet');
const PHOTO = join(IMAGENET, 'grace_hopper.jpg');
const expected = JSON.parse(readFileSync(join(IMAGENET, 'embed.json'), 'utf8')) as { models: Record<string, { dim: number; vector: number[] }> };
let dir: string;

function kestrel(args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: dir, encoding: 'utf8', timeout: 300_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** A w×h RGB image whose pixels follow `seed`, and its raw bytes. */
async function rgbPng(path: string, w: number, h: number, seed: number): Promise<Buffer> {
  const px = Buffer.alloc(w * h * 3);
  for (let i = 0; i < px.length; i++) px[i] = (i * 7 + seed * 31 + ((i * (seed + 3)) % 13) * 9) & 255;
  mkdirSync(join(path, '..'), { recursive: true });
  await sharp(px, { raw: { width: w, height: h, channels: 3 } }).png().toFile(path);
  return px;
}

/** A checkpoint whose eval pipeline is the identity on 0–1 pixels, so the test can feed the model the same input. */
function identityCheckpoint(path: string, model: ClassifierModel, imgsz: number): void {
  const meta: ClassifierMeta = {
    format: 'kestrel.classify/1', task: 'classify', model: model.config, classes: Array.from({ length: model.config.numClasses }, (_, i) => `c${i}`),
    preprocess: { imgsz, channels: 3, mean: [0, 0, 0], std: [1, 1, 1], transforms: [{ op: 'normalize', mean: [0, 0, 0], std: [1, 1, 1] }] },
    epoch: 0, createdAt: new Date(0).toISOString(),
  };
  saveCheckpoint(path, model, meta);
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'kestrel-embed-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('embed: the pooled features torchvision computes', () => {
  for (const [name, e] of Object.entries(expected.models)) {
    test(`${name}: equal to torchvision's pooled features of the photo, normalised, within 1e-5`, async (t) => {
      const missing = imagenetWeightsMissing();
      if (missing) return t.skip(missing);
      const ckpt = join(dir, `${name}.safetensors`);
      await importWeights({ weights: join(IMAGENET_WEIGHTS, `${name}_zip.pth`), model: name, out: ckpt, log: () => {} });
      const out = join(dir, `${name}-embed.safetensors`);
      const r = await embedToFile({ weights: ckpt, source: PHOTO, out });
      assert.deepEqual([r.count, r.dim, r.failed], [1, e.dim, []]);
      const got = readEmbeddings(out);
      assert.deepEqual(got.paths, [PHOTO]);
      assert.equal(got.meta.model.name, name);
      let worst = 0;
      let dot = 0;
      for (let i = 0; i < e.dim; i++) {
        worst = Math.max(worst, Math.abs(got.vectors[i]! - e.vector[i]!));
        dot += got.vectors[i]! * e.vector[i]!;
      }
      assert.ok(worst <= 1e-5, `${name}: max |Δ| ${worst}`);
      assert.ok(dot >= 1 - 1e-6, `${name}: cosine with torchvision's ${dot}`);
    });
  }
});

describe('embed: the ViT\'s class token, the input of its head', () => {
  test('the head applied to the vector gives the model\'s logits (up to the norm the file drops)', async () => {
    manualSeed(3);
    const model = createModel('vit_tiny', { numClasses: 7, imgSize: 32, patchSize: 8 });
    model.eval();
    const ckpt = join(dir, 'vit.safetensors');
    identityCheckpoint(ckpt, model, 32);
    const px = await rgbPng(join(dir, 'vit/a.png'), 32, 32, 1);
    const out = join(dir, 'vit.embed.safetensors');
    await embedToFile({ weights: ckpt, source: join(dir, 'vit'), out });
    const v = readEmbeddings(out).vectors;
    assert.equal(v.length, 192);
    const chw = Float32Array.from({ length: 3 * 32 * 32 }, (_, i) => px[(i % 1024) * 3 + Math.floor(i / 1024)]! / 255);
    const logits = noGrad(() => model.forward(tensor(chw, { shape: [1, 3, 32, 32] })).toArray());
    const head = model.getClassifier();
    const w = head.weight.toArray();
    const b = head.bias!.toArray();
    // logits − b = s·W·v for the one scale s = ‖class token‖ that normalising removed.
    const wv = b.map((_, c) => v.reduce((s, x, j) => s + w[c * 192 + j]! * x, 0));
    const lb = logits.map((l, c) => l - b[c]!);
    const s = lb.reduce((a, x, c) => a + x * wv[c]!, 0) / wv.reduce((a, x) => a + x * x, 0);
    assert.ok(s > 0);
    for (let c = 0; c < 7; c++) assert.ok(Math.abs(lb[c]! - s * wv[c]!) <= 1e-4 * Math.max(1, Math.abs(lb[c]!)), `class ${c}: ${lb[c]} vs ${s * wv[c]!}`);
    let norm = 0;
    for (const x of v) norm += x * x;
    assert.ok(Math.abs(norm - 1) < 1e-5, `‖v‖² = ${norm}`);
    model.dispose();
  });
});

describe('kestrel embed (CLI)', () => {
  test('a bad image gets its own line and exit code 1; the others are written, readable by any safetensors reader', async () => {
    manualSeed(0);
    const model = createModel('smallcnn', { numClasses: 3 });
    model.eval();
    identityCheckpoint(join(dir, 'small.safetensors'), model, 32);
    model.dispose();
    await rgbPng(join(dir, 'imgs/a.png'), 32, 32, 1);
    await rgbPng(join(dir, 'imgs/sub/b.png'), 40, 30, 2);
    writeFileSync(join(dir, 'imgs/broken.jpg'), 'not a jpeg');
    const r = kestrel(['embed', '--model', 'small.safetensors', '--source', 'imgs', '-o', 'imgs.safetensors']);
    assert.equal(r.code, 1, r.err);
    assert.match(r.out, /^embedded 2 images \(128 values each\) → imgs\.safetensors; 1 could not be read\n$/);
    const errLines = r.err.trim().split('\n');
    assert.equal(errLines.length, 1);
    assert.match(errLines[0]!, /imgs\/broken\.jpg: /);
    // Kestrel's general safetensors reader (not the one embed uses) sees the same tensor and paths.
    const header = readSafetensorsHeader(join(dir, 'imgs.safetensors'));
    const meta = JSON.parse(header.metadata.kestrel!) as { format: string; paths: string[]; dim: number; model: { name: string } };
    assert.equal(meta.format, 'kestrel.embed/1');
    assert.deepEqual(meta.paths, [join(dir, 'imgs/a.png'), join(dir, 'imgs/sub/b.png')]);
    assert.equal(meta.model.name, 'smallcnn');
    const { tensors } = loadSafetensors(join(dir, 'imgs.safetensors'));
    const emb = tensors.get('embeddings')!;
    assert.deepEqual(emb.shape, [2, 128]);
    assert.deepEqual(emb.toArray(), [...readEmbeddings(join(dir, 'imgs.safetensors')).vectors]);
    emb.dispose();
    assert.equal(header.dataStart % 8, 0);
  });

  test('a hub name: imported once into $KESTREL_HOME/checkpoints; the vectors are those of kestrel import, then embed', async () => {
    const before = process.env.KESTREL_HOME;
    process.env.KESTREL_HOME = join(dir, 'home');
    try {
      // The download as the hub cache keeps it (a timm-named state dict, seeded weights), so nothing is fetched.
      manualSeed(5);
      const model = createModel('resnet18', { numClasses: 1000 });
      const cached = cachedPath(hubEntry('timm:resnet18.a1_in1k'));
      mkdirSync(dirname(cached), { recursive: true });
      saveSafetensors(cached, new Map(model.stateDict()));
      model.dispose();
      const first = kestrel(['embed', '--model', 'timm:resnet18.a1_in1k', '--source', PHOTO, '-o', 'hub.safetensors', '--threads', '1']);
      assert.equal(first.code, 0, first.err);
      const ckpt = join(dir, 'home', 'checkpoints', 'timm', 'resnet18.a1_in1k.safetensors');
      assert.match(first.err, new RegExp(`→ ${ckpt.replace(/[.\\/]/g, '\\$&')}: resnet18, `));
      const made = statSync(ckpt).mtimeMs;
      const again = kestrel(['embed', '--model', 'timm:resnet18.a1_in1k', '--source', PHOTO, '-o', 'hub2.safetensors', '--threads', '1']);
      assert.equal(again.code, 0, again.err);
      assert.equal(again.err, '');
      assert.equal(statSync(ckpt).mtimeMs, made);

      await importWeights({ weights: 'timm:resnet18.a1_in1k', out: join(dir, 'ref.safetensors'), log: () => {} });
      await embedToFile({ weights: join(dir, 'ref.safetensors'), source: PHOTO, out: join(dir, 'ref-vec.safetensors'), threads: 1 });
      const [got, want] = [readEmbeddings(join(dir, 'hub.safetensors')), readEmbeddings(join(dir, 'ref-vec.safetensors'))];
      assert.equal(got.meta.model.weights, 'timm:resnet18.a1_in1k');
      assert.equal(got.dim, 512);
      assert.ok(got.vectors.every((v, i) => Math.abs(v - want.vectors[i]!) < 1e-6), 'the same vector as import, then embed');
    } finally {
      if (before === undefined) delete process.env.KESTREL_HOME;
      else process.env.KESTREL_HOME = before;
    }
  });

  test('an .onnx model, an unknown hub name, a checkpoint given as an index and a truncated embeddings file are refused in one line', async () => {
    const onnx = kestrel(['embed', '--model', 'm.onnx', '--source', 'imgs', '-o', 'x.safetensors']);
    assert.equal(onnx.code, 1);
    assert.match(onnx.err, /^kestrel: m\.onnx: an exported \.onnx model outputs class scores, not the pooled features before them; embed takes the \.safetensors checkpoint it was exported from, or a hub name \(torchvision:…, timm:…\)\n$/);
    const hub = kestrel(['embed', '--model', 'timm:resnet18.nope', '--source', 'imgs', '-o', 'x.safetensors']);
    assert.equal(hub.code, 1);
    assert.match(hub.err, /^kestrel: unknown hub name 'timm:resnet18\.nope'; known: timm:resnet18\.a1_in1k, .*\n$/);
    const full = readFileSync(join(dir, 'imgs.safetensors'));
    writeFileSync(join(dir, 'cut.safetensors'), full.subarray(0, full.length - 100));
    assert.throws(() => readEmbeddings(join(dir, 'cut.safetensors')), /cut\.safetensors: truncated: its vectors end past the end of the file$/);
    const search = kestrel(['search', '--index', 'small.safetensors', '--query', 'imgs/a.png']);
    assert.equal(search.code, 1);
    assert.match(search.err, /^kestrel: .*small\.safetensors: not a Kestrel embeddings file \(format 'kestrel\.classify\/1', expected kestrel\.embed\/1; kestrel embed writes one\)\n$/);
  });
});
