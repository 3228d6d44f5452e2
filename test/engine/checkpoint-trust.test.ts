// Checkpoints are checked before they are trusted: metadata before the model is built, shapes and
// dtypes before any data is read, and the weights for NaN/Inf — each a one-line error.
import assert from 'node:assert/strict';
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, truncateSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { saveSafetensors } from '../../src/checkpoint/index.js';
import { FORMAT, loadCheckpoint, saveCheckpoint, type ClassifierMeta } from '../../src/engine/checkpoint.js';
import { checkpointToOnnx } from '../../src/export/export.js';
import { createModel } from '../../src/models/index.js';
import { memory, noGrad, tensor } from '../../src/tensor/index.js';

const dir = mkdtempSync(join(tmpdir(), 'kestrel-trust-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const goodMeta = (): ClassifierMeta => ({
  format: FORMAT, task: 'classify', model: { name: 'smallcnn', numClasses: 3, inChannels: 1, imgSize: 28 }, classes: ['a', 'b', 'c'],
  preprocess: { imgsz: 28, channels: 1, mean: [0.5], std: [0.25], transforms: [{ op: 'normalize', mean: [0.5], std: [0.25] }] }, epoch: 1, createdAt: 'now',
});

let n = 0;
function write(edit: (m: ClassifierMeta) => void = () => {}, weights: (sd: Map<string, ReturnType<typeof tensor>>) => void = () => {}): string {
  const model = createModel('smallcnn', { numClasses: 3, inChannels: 1, imgSize: 28 });
  weights(model.stateDict());
  const meta = goodMeta();
  edit(meta);
  const path = join(dir, `c${n++}.safetensors`);
  saveCheckpoint(path, model, meta);
  model.dispose();
  return path;
}

const oneLine = (re: RegExp) => (e: Error): boolean => re.test(e.message) && !e.message.includes('\n');

describe('checkpoint trust', () => {
  it('a good checkpoint loads', () => {
    const c = loadCheckpoint(write());
    assert.deepEqual(c.meta.classes, ['a', 'b', 'c']);
    c.model.dispose();
  });

  it('absurd metadata is refused before any model is built', () => {
    const before = memory().tensors;
    const cases: [(m: ClassifierMeta) => void, RegExp][] = [
      [(m) => void (m.model.numClasses = 5_000_000), /metadata model\.numClasses: /],
      [(m) => void (m.classes = ['a', 'b']), /lists 2 class names for a head of 3 outputs/],
      [(m) => void (m.classes = ['a', 'a', 'b']), /lists a class name twice/],
      [(m) => void (m.preprocess.std = [0]), /metadata preprocess\.std\.0: must be positive/],
      [(m) => void (m.preprocess.mean = [Number.NaN]), /metadata preprocess\.mean\.0/],
      [(m) => void (m.preprocess.imgsz = 1_000_000), /metadata preprocess\.imgsz: /],
      [(m) => void (m.preprocess.channels = 3), /mean\/std have 1\/1 values for 3 channel/],
      [(m) => void (m.preprocess.transforms = [{ op: 'explode' }] as never), /metadata preprocess\.transforms: /],
    ];
    for (const [edit, re] of cases) assert.throws(() => loadCheckpoint(write(edit)), oneLine(re), String(re));
    assert.equal(memory().tensors, before);
  });

  it('NaN or infinite weights are refused, naming the tensor', () => {
    const nanPath = write(undefined, (sd) => noGrad(() => void sd.get('classifier.4.weight')!.fill_(Number.NaN)));
    assert.throws(() => loadCheckpoint(nanPath), oneLine(/tensor 'classifier\.4\.weight' has NaN or infinite values/));
    const infPath = write(undefined, (sd) => noGrad(() => void sd.get('features.0.weight')!.fill_(Number.POSITIVE_INFINITY)));
    assert.throws(() => loadCheckpoint(infPath), oneLine(/tensor 'features\.0\.weight' has NaN or infinite values/));
  });

  it('export refuses a NaN checkpoint and so never writes an .onnx that predict would reject', async () => {
    const nanPath = write(undefined, (sd) => noGrad(() => void sd.get('classifier.4.bias')!.fill_(Number.NaN)));
    await assert.rejects(checkpointToOnnx(nanPath), /has NaN or infinite values/);
  });

  it('a dtype or shape that differs from the model is refused before the data is read', () => {
    const model = createModel('smallcnn', { numClasses: 3, inChannels: 1, imgSize: 28 });
    const sd = new Map(model.stateDict());
    const w = sd.get('classifier.4.weight')!;
    const asDouble = w.to('float64');
    sd.set('classifier.4.weight', asDouble);
    const p = join(dir, 'f64.safetensors');
    saveSafetensors(p, sd, { kestrel: JSON.stringify(goodMeta()) });
    assert.throws(() => loadCheckpoint(p), oneLine(/tensor 'classifier\.4\.weight' is float64; the model needs float32/));
    asDouble.dispose();
    model.dispose();
  });

  it('a 2 GiB tensor declared in the header costs nothing: the shape check comes first', () => {
    // A sparse file whose header declares every model tensor with its own shape except
    // 'classifier.4.weight', declared [3, 2^29] float32: 2 GiB of zeros that take no disk space,
    // and that reading would allocate.
    const model = createModel('smallcnn', { numClasses: 3, inChannels: 1, imgSize: 28 });
    const head: Record<string, unknown> = { __metadata__: { kestrel: JSON.stringify(goodMeta()) } };
    let bytes = 0;
    for (const [name, t] of model.stateDict()) {
      const shape = name === 'classifier.4.weight' ? [3, 2 ** 29] : t.shape;
      const size = shape.reduce((a, b) => a * b, 1) * (t.dtype === 'int64' ? 8 : 4);
      head[name] = { dtype: t.dtype === 'int64' ? 'I64' : 'F32', shape, data_offsets: [bytes, bytes + size] };
      bytes += size;
    }
    let json = JSON.stringify(head);
    json += ' '.repeat((8 - (json.length % 8)) % 8);
    const p = join(dir, 'huge.safetensors');
    const fd = openSync(p, 'w');
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    writeSync(fd, len);
    writeSync(fd, Buffer.from(json));
    closeSync(fd);
    truncateSync(p, 8 + json.length + bytes);
    const rss = process.memoryUsage.rss();
    assert.throws(() => loadCheckpoint(p), oneLine(/tensor 'classifier\.4\.weight' has shape \[3, 536870912\]; the model needs \[3, 128\]/));
    assert.ok(process.memoryUsage.rss() - rss < 256 * 2 ** 20, 'the tensor data was not read');
    model.dispose();
  });

  it('a last checkpoint keeps its training tensors only when asked (resume)', () => {
    const model = createModel('smallcnn', { numClasses: 3, inChannels: 1, imgSize: 28 });
    const p = join(dir, 'last.safetensors');
    const extra = tensor([1, 2, 3]);
    saveCheckpoint(p, model, goodMeta(), { tensors: new Map([['optimizer.step', extra]]) });
    const plain = loadCheckpoint(p);
    assert.equal(plain.extra.size, 0);
    plain.model.dispose();
    const resume = loadCheckpoint(p, { trainingState: true });
    assert.deepEqual([...resume.extra.keys()], ['optimizer.step']);
    resume.model.dispose();
    for (const t of resume.extra.values()) t.dispose();
    extra.dispose();
    model.dispose();
    assert.ok(existsSync(p));
  });
});
