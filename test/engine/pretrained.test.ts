import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { readWeights, saveSafetensors } from '../../src/checkpoint/index.js';
import { native } from '../../src/native/index.js';
import { loadCheckpoint } from '../../src/engine/checkpoint.js';
import { importWeights } from '../../src/engine/pretrained.js';
import { checkpointToOnnx, contractFromMeta } from '../../src/export/export.js';
import { imagenetClasses } from '../../src/hub/index.js';
import { createModel, type ClassifierModel } from '../../src/models/registry.js';
import { predict } from '../../src/tasks/classify/predict.js';
import { FIXTURES } from '../helpers.js';
import { IMAGENET_WEIGHTS, imagenetWeightsMissing } from '../imagenet-weights.js';

const IMAGENET = join(FIXTURES, 'imagenet');
const PTH = join(FIXTURES, 'pth');
interface Top { label: string; score: number; float_pipeline_score: number }
type Eval = { resize: number; crop: number; interpolation: 'bilinear' | 'bicubic' };
const expected = JSON.parse(readFileSync(join(IMAGENET, 'expected.json'), 'utf8')) as { models: Record<string, { sha256: Record<string, string>; eval: Eval; top5: Top[] }> };
const dir = mkdtempSync(join(tmpdir(), 'kestrel-import-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const quiet = (): void => {};

async function sha256(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** The legacy file holds the zip file's tensors, bit for bit (its own bytes vary from run to run). */
function assertSameTensors(a: string, b: string): void {
  const [x, y] = [readWeights(a).tensors, readWeights(b).tensors];
  assert.deepEqual([...x.keys()], [...y.keys()]);
  for (const [k, t] of x) assert.ok(Buffer.from(native().toBuffer(t.handle)).equals(Buffer.from(native().toBuffer(y.get(k)!.handle))), k);
  for (const t of [...x.values(), ...y.values()]) t.dispose();
}

async function top5(weights: string): Promise<{ label: string; score: number }[]> {
  const out = [];
  for await (const p of predict({ weights, source: join(IMAGENET, 'grace_hopper.jpg'), topk: 5 })) out.push(p);
  assert.equal(out.length, 1);
  return (out[0] as unknown as { top: { label: string; score: number }[] }).top;
}

describe('kestrel import: torchvision state dicts → predict gives torchvision\'s top-5', () => {
  for (const [name, e] of Object.entries(expected.models)) {
    for (const layout of ['zip', 'legacy']) {
      const file = join(IMAGENET_WEIGHTS, `${name}_${layout}.pth`);
      test(`${name} (${layout})`, async (t) => {
        const missing = imagenetWeightsMissing();
        if (missing) return t.skip(missing);
        if (layout === 'zip') assert.equal(await sha256(file), e.sha256.zip, `${file} is not the file expected.json describes: rerun gen_pretrained.py`);
        else assertSameTensors(file, join(IMAGENET_WEIGHTS, `${name}_zip.pth`));
        const out = join(dir, `${name}_${layout}.safetensors`);
        const r = await importWeights({ weights: file, model: name, out, log: quiet });
        assert.equal(r.how, 'names as they are');
        const ckpt = loadCheckpoint<ClassifierModel>(out, { task: 'classify' });
        ckpt.model.dispose();
        assert.deepEqual(ckpt.meta.classes, imagenetClasses());
        // torchvision's <Model>_Weights.IMAGENET1K_V1.transforms(), resizing as PIL does (bicubic for EfficientNet).
        assert.deepEqual(ckpt.meta.preprocess.transforms, [
          { op: 'resize', size: e.eval.resize, interpolation: e.eval.interpolation, rounding: 'pil' },
          { op: 'centerCrop', size: e.eval.crop },
          { op: 'normalize', mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
        ]);
        const got = await top5(out);
        assert.deepEqual(got.map((x) => x.label), e.top5.map((x) => x.label));
        // torchvision's PIL pipeline: the same 8-bit input, so only float arithmetic in the networks differs.
        for (const [i, x] of got.entries()) assert.ok(Math.abs(x.score - e.top5[i]!.score) <= 1e-5, `${x.label}: ${x.score} vs torchvision (PIL) ${e.top5[i]!.score}`);
      });
    }
  }
});

describe('the .onnx export of an import carries its PIL resize', () => {
  test("resnet50 (the model that tells PIL's rounding from float): ONNX Runtime predict gives torchvision's top-5 (1e-4)", async (t) => {
    const missing = imagenetWeightsMissing();
    if (missing) return t.skip(missing);
    const out = join(dir, 'resnet50_onnx.safetensors');
    await importWeights({ weights: join(IMAGENET_WEIGHTS, 'resnet50_zip.pth'), model: 'resnet50', out, log: quiet });
    const { bytes, meta } = await checkpointToOnnx(out);
    const onnx = join(dir, 'resnet50.onnx');
    writeFileSync(onnx, bytes);
    assert.deepEqual(contractFromMeta(meta).transforms[0], { op: 'resize', size: 256, interpolation: 'bilinear', rounding: 'pil' });
    const e = expected.models['resnet50']!;
    const got = await top5(onnx);
    assert.deepEqual(got.map((x) => x.label), e.top5.map((x) => x.label));
    for (const [i, x] of got.entries()) assert.ok(Math.abs(x.score - e.top5[i]!.score) <= 1e-4, `${x.label}: ${x.score} vs torchvision (PIL) ${e.top5[i]!.score}`);
  });
});

describe('importWeights: what does not fit is named', () => {
  test('a model the weights do not fit: missing and unexpected keys and mismatched shapes in one line', async () => {
    await assert.rejects(importWeights({ weights: join(PTH, 'resnet_zip.pth'), model: 'resnet18', out: join(dir, 'x.safetensors'), log: quiet }), (e: Error) => {
      assert.ok(!e.message.includes('\n'));
      assert.match(e.message, /resnet_zip\.pth: does not fit resnet18: missing keys: layer1\.0\.conv1\.weight|missing keys: .*layer1\.1\./);
      assert.match(e.message, /mismatched shapes: conv1\.weight \[4, 3, 3, 3\] in the file, \[64, 3, 7, 7\] in the model/);
      assert.match(e.message, /\(\d+ in all\)/);
      return true;
    });
    assert.equal(existsSync(join(dir, 'x.safetensors')), false);
  });

  test('unexpected keys are named', async () => {
    const m = createModel('smallcnn', { numClasses: 3, imgSize: 28 });
    const sd = new Map(m.stateDict());
    sd.set('extra.weight', sd.values().next().value!);
    saveSafetensors(join(dir, 'extra.safetensors'), sd);
    m.dispose();
    await assert.rejects(importWeights({ weights: join(dir, 'extra.safetensors'), model: 'smallcnn', out: join(dir, 'y.safetensors'), classes: ['a', 'b', 'c'], log: quiet }), /does not fit smallcnn: unexpected keys: extra\.weight$/);
  });

  test('a truncated or wrong-format file is one line naming it', async () => {
    const bytes = readFileSync(join(PTH, 'resnet_zip.pth'));
    writeFileSync(join(dir, 'cut.pth'), bytes.subarray(0, 3000));
    await assert.rejects(importWeights({ weights: join(dir, 'cut.pth'), model: 'resnet18', out: join(dir, 'z.safetensors'), log: quiet }), /cut\.pth: .*truncated/);
    writeFileSync(join(dir, 'notes.txt'), 'these are not weights');
    await assert.rejects(importWeights({ weights: join(dir, 'notes.txt'), model: 'resnet18', out: join(dir, 'z.safetensors'), log: quiet }), /notes\.txt: not a weight file Kestrel reads/);
    await assert.rejects(importWeights({ weights: join(PTH, 'hostile_zip.pth'), model: 'resnet18', out: join(dir, 'z.safetensors'), log: quiet }), /calls posix\.system/);
  });

  test('timm names are translated, and a names file renames by prefix and drops with null', async () => {
    const m = createModel('smallcnn', { numClasses: 3, imgSize: 28 });
    const own = [...m.stateDict()];
    const other = new Map(own.map(([k, t]) => [`net.${k}`, t]));
    other.set('aux.weight', own[0]![1]);
    saveSafetensors(join(dir, 'other.safetensors'), other);
    writeFileSync(join(dir, 'names.json'), JSON.stringify({ 'net.': '', 'aux.': null }));
    const r = await importWeights({ weights: join(dir, 'other.safetensors'), model: 'smallcnn', names: join(dir, 'names.json'), out: join(dir, 'named.safetensors'), classes: ['a', 'b', 'c'], log: quiet });
    assert.equal(r.tensors, own.length);
    const back = loadCheckpoint<ClassifierModel>(join(dir, 'named.safetensors'));
    for (const [k, t] of own) assert.deepEqual(back.model.stateDict().get(k)!.toArray(), t.toArray(), k);
    assert.deepEqual(back.meta.classes, ['a', 'b', 'c']);
    back.model.dispose();
    m.dispose();
  });
});
