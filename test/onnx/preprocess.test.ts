// Resolving an .onnx model's preprocessing: the embedded contract, the user's keys over it, and
// the checks against the graph's declared shapes.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { DeployContract } from '../../src/onnx/contract.js';
import { loadPreprocessFile, readNames, resolvePreprocessing, type ModelShapes } from '../../src/runtime/preprocess.js';

const IMAGENET = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
const fixed224: ModelShapes = { channels: 3, height: 224, width: 224, classes: 1000 };
const free: ModelShapes = { channels: 3, height: null, width: null, classes: null };
const contract: DeployContract = {
  task: 'classify', names: ['a', 'b'], imgsz: [32, 32], channels: 3, ...IMAGENET,
  transforms: [{ op: 'resize', size: 36 }, { op: 'centerCrop', size: 32 }, { op: 'normalize', ...IMAGENET }],
  output: 'logits', precision: 'fp32',
};
const shapes32: ModelShapes = { channels: 3, height: 32, width: 32, classes: 2 };
const dir = mkdtempSync(join(tmpdir(), 'kestrel-pre-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const throwsLine = (fn: () => unknown, re: RegExp): void => assert.throws(fn, (e: Error) => !e.message.includes('\n') && re.test(e.message));

describe('resolvePreprocessing', () => {
  it('a third-party model gets Kestrel\'s eval preset: resize 256, centre crop 224, normalise; index labels', () => {
    const p = resolvePreprocessing('m.onnx', null, { ...IMAGENET }, fixed224);
    assert.deepEqual(p.imgsz, [224, 224]);
    assert.equal(p.channels, 3);
    assert.deepEqual(p.transforms, [{ op: 'resize', size: 256 }, { op: 'centerCrop', size: 224 }, { op: 'normalize', ...IMAGENET }]);
    assert.equal(p.names.length, 1000);
    assert.equal(p.names[999], '999');
    assert.equal(p.output, 'logits');
  });

  it('small and non-square inputs: resize straight to the size', () => {
    const grey = resolvePreprocessing('m.onnx', null, { mean: [0.1307], std: [0.3081] }, { channels: 1, height: 28, width: 28, classes: 10 });
    assert.deepEqual(grey.transforms, [{ op: 'resize', size: 28 }, { op: 'centerCrop', size: 28 }, { op: 'normalize', mean: [0.1307], std: [0.3081] }]);
    assert.equal(grey.channels, 1);
    const wide = resolvePreprocessing('m.onnx', null, { ...IMAGENET, imgsz: [32, 48] }, { ...free, classes: 2 });
    assert.deepEqual(wide.transforms.slice(0, -1), [{ op: 'resize', size: [32, 48] }]);
  });

  it('one mean/std value stands for every channel; a wrong count is an error', () => {
    const p = resolvePreprocessing('m.onnx', null, { mean: [0.5], std: [0.25] }, fixed224);
    assert.deepEqual([p.mean, p.std], [[0.5, 0.5, 0.5], [0.25, 0.25, 0.25]]);
    throwsLine(() => resolvePreprocessing('m.onnx', null, { mean: [0.5, 0.5], std: [0.5] }, fixed224), /^m\.onnx: mean has 2 values for 3 channel\(s\)$/);
  });

  it('uses the contract as it is when the user gives nothing (its normalize replaced by mean/std)', () => {
    const p = resolvePreprocessing('m.onnx', contract, {}, shapes32);
    assert.deepEqual(p.transforms, contract.transforms);
    assert.deepEqual(p.names, ['a', 'b']);
  });

  it('a contract whose transforms have no fixed size (an MNIST export: normalize only) is run ending at its imgsz', () => {
    const mnist: DeployContract = { ...contract, names: ['a', 'b'], imgsz: [28, 28], channels: 1, mean: [0.1307], std: [0.3081], transforms: [{ op: 'normalize', mean: [0.1307], std: [0.3081] }] };
    const p = resolvePreprocessing('m.onnx', mnist, {}, { channels: 1, height: 28, width: 28, classes: 2 });
    assert.deepEqual(p.transforms, [{ op: 'resize', size: [28, 28] }, { op: 'normalize', mean: [0.1307], std: [0.3081] }]);
  });

  it('user keys win over the contract: names, output, mean/std, and resize rebuilds the geometry', () => {
    const p = resolvePreprocessing('m.onnx', contract, { names: ['x', 'y'], output: 'probs', mean: [0], std: [1], resize: 40 }, shapes32);
    assert.deepEqual(p.names, ['x', 'y']);
    assert.equal(p.output, 'probs');
    assert.deepEqual(p.transforms, [{ op: 'resize', size: 40 }, { op: 'centerCrop', size: [32, 32] }, { op: 'normalize', mean: [0, 0, 0], std: [1, 1, 1] }]);
  });

  it('interpolation and rounding go on every resize, the preset\'s or the contract\'s, and need one', () => {
    const p = resolvePreprocessing('m.onnx', null, { ...IMAGENET, interpolation: 'bicubic', rounding: 'pil' }, fixed224);
    assert.deepEqual(p.transforms, [{ op: 'resize', size: 256, interpolation: 'bicubic', rounding: 'pil' }, { op: 'centerCrop', size: 224 }, { op: 'normalize', ...IMAGENET }]);
    const c = resolvePreprocessing('m.onnx', contract, { interpolation: 'bicubic' }, shapes32);
    assert.deepEqual(c.transforms, [{ op: 'resize', size: 36, interpolation: 'bicubic' }, { op: 'centerCrop', size: 32 }, { op: 'normalize', ...IMAGENET }]);
    const r = resolvePreprocessing('m.onnx', contract, { rounding: 'pil' }, shapes32);
    assert.deepEqual(r.transforms[0], { op: 'resize', size: 36, rounding: 'pil' });
    throwsLine(() => resolvePreprocessing('m.onnx', null, { ...IMAGENET, imgsz: 32, transforms: [{ op: 'centerCrop', size: 32 }], interpolation: 'bicubic' }, { ...free, classes: 2 }),
      /^m\.onnx: interpolation applies to a resize, and the preprocessing has none/);
  });

  it('errors: crop that is not imgsz, free size without imgsz, free classes without names, normalize in transforms, names count', () => {
    throwsLine(() => resolvePreprocessing('m.onnx', null, { ...IMAGENET, imgsz: 224, crop: 200 }, fixed224), /crop 200×200 does not give the input size 224×224/);
    throwsLine(() => resolvePreprocessing('m.onnx', null, { ...IMAGENET, names: ['a'] }, free), /input height and width are not fixed: give the input size with --imgsz/);
    throwsLine(() => resolvePreprocessing('m.onnx', null, { ...IMAGENET, imgsz: 64 }, free), /number of classes is not fixed: give the class names with --names/);
    throwsLine(() => resolvePreprocessing('m.onnx', null, { ...IMAGENET, transforms: [{ op: 'normalize', mean: [0], std: [1] }] }, fixed224), /leave normalize and toTensor out/);
    throwsLine(() => resolvePreprocessing('m.onnx', contract, { names: ['a', 'b', 'c'] }, shapes32), /^m\.onnx: 3 class names for a model with 2 outputs$/);
  });
});

describe('names and YAML files', () => {
  it('readNames: a comma list, or a text file with one name per line', () => {
    assert.deepEqual(readNames('cat, dog,fish'), ['cat', 'dog', 'fish']);
    writeFileSync(join(dir, 'n.txt'), 'great white shark\r\n\ntiger shark\n');
    assert.deepEqual(readNames(join(dir, 'n.txt')), ['great white shark', 'tiger shark']);
    assert.throws(() => readNames('a,,b'), /empty name/);
  });

  it('YAML: names as an index map, sizes as [h, w], transforms checked', () => {
    writeFileSync(join(dir, 'p.yaml'), 'names: {1: dog, 0: cat}\nimgsz: [32, 48]\nmean: [0.5]\nstd: [0.5]\ntransforms:\n  - {op: resize, size: [32, 48]}\n');
    assert.deepEqual(loadPreprocessFile(join(dir, 'p.yaml')), { imgsz: [32, 48], mean: [0.5], std: [0.5], names: ['cat', 'dog'], transforms: [{ op: 'resize', size: [32, 48] }] });
    writeFileSync(join(dir, 'q.yaml'), 'transforms:\n  - {op: spin}\n');
    throwsLine(() => loadPreprocessFile(join(dir, 'q.yaml')), /q\.yaml: "transforms": invalid transform spec at 0\.op/);
    writeFileSync(join(dir, 'r.yaml'), 'imgsz: -3\n');
    throwsLine(() => loadPreprocessFile(join(dir, 'r.yaml')), /r\.yaml: "imgsz"/);
    writeFileSync(join(dir, 's.yaml'), 'resize: 256\ninterpolation: bicubic\nrounding: pil\n');
    assert.deepEqual(loadPreprocessFile(join(dir, 's.yaml')), { resize: 256, interpolation: 'bicubic', rounding: 'pil' });
    writeFileSync(join(dir, 't.yaml'), 'interpolation: lanczos\n');
    throwsLine(() => loadPreprocessFile(join(dir, 't.yaml')), /t\.yaml: "interpolation"/);
  });
});
