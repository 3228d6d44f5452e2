// The registry's detectors: createDetector's defaults and errors, buildModel from a saved config,
// listModels('detect') and `kestrel models --task detect` with parameters and GFLOPs, and the
// shape of their ONNX export (its values: test/models/yolo-onnx.test.ts).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { buildModel, createDetector, createModel, listModels, modelNames, YOLOv8, type DetectorModel, type ModelConfig } from '../../src/models/index.js';
import { exportOnnx, moduleToOnnx } from '../../src/export/export.js';
import { decodeModel, toNumber } from '../../src/onnx/proto.js';
import { manualSeed, memory, noGrad, rand, randn, tidy } from '../../src/tensor/index.js';
import { assertClose } from '../helpers.js';

// dist/test/models/… → dist/src/cli/main.js
const main = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

function withDetector(name: string, config: Partial<ModelConfig>, fn: (m: DetectorModel) => void): void {
  const before = memory().tensors;
  const model = createDetector(name, config);
  try {
    fn(model);
  } finally {
    model.dispose();
  }
  assert.equal(memory().tensors, before, 'live tensors after dispose');
}

describe('listModels and kestrel models for detectors', () => {
  // First in this file: the stats are measured once per process, and this test must see it happen.
  it('listModels("detect") gives yolov8n and yolov8s with Ultralytics\' sizes (then yolov8 over a zoo CNN), without moving the seeded generator', () => {
    manualSeed(7);
    const expected = tidy(() => rand([4]).toArray());
    manualSeed(7);
    const models = listModels('detect');
    assert.deepEqual(tidy(() => rand([4]).toArray()), expected, 'the draw after listModels() is the draw without it');
    assert.deepEqual(models.slice(0, 2).map((m) => [m.name, m.task, m.defaultImgsz, m.params]), [['yolov8n', 'detect', 640, 3_157_200], ['yolov8s', 'detect', 640, 11_166_560]]);
    assert.deepEqual(models.slice(2).map((m) => m.name), ['yolov8'], 'its sizes: yolo-backbone.test.ts');
    for (const [m, gflops] of [[models[0]!, 8.7], [models[1]!, 28.6]] as const) {
      assert.ok(Math.abs(m.gflops! - gflops) <= 0.01 * gflops, `${m.name}: ${m.gflops} GFLOPs vs Ultralytics' ${gflops}`);
    }
    assert.ok(listModels('classify').every((m) => m.params === undefined && m.gflops === undefined), 'classifiers carry no size columns');
  });

  it('`kestrel models --task detect` prints parameters and GFLOPs; --json carries them as numbers', () => {
    const text = spawnSync(process.execPath, [main, 'models', '--task', 'detect'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(text.status, 0, text.stderr);
    const lines = text.stdout.trim().split('\n');
    assert.equal(lines.length, 3, text.stdout);
    assert.match(lines[0]!, /^yolov8n\s+detect\s+640 px\s+3\.2M params\s+8\.7 GFLOPs\s+YOLOv8n/);
    assert.match(lines[1]!, /^yolov8s\s+detect\s+640 px\s+11\.2M params\s+28\.6 GFLOPs\s+YOLOv8s/);
    assert.match(lines[2]!, /^yolov8\s+detect\s+640 px\s+13\.5M params\s+35\.6 GFLOPs\s+YOLOv8n's PAN neck/);
    const json = spawnSync(process.execPath, [main, 'models', '--task', 'detect', '--json'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(json.status, 0, json.stderr);
    const rows = json.stdout.trim().split('\n').map((l) => JSON.parse(l) as { name: string; params: number; gflops: number });
    assert.deepEqual(rows.map((r) => [r.name, r.params, Math.round(r.gflops * 10) / 10]), [['yolov8n', 3_157_200, 8.7], ['yolov8s', 11_166_560, 28.6], ['yolov8', 13_475_776, 35.6]]);
  });
});

describe('createDetector and buildModel', () => {
  it('defaults: 80 classes, 3 channels, 640 px; the config names what was built', () => {
    withDetector('yolov8n', {}, (m) => {
      assert.ok(m instanceof YOLOv8);
      assert.deepEqual(m.config, { name: 'yolov8n', numClasses: 80, inChannels: 3, imgSize: 640 });
      assert.deepEqual(m.strides, [8, 16, 32]);
      assert.equal(m.regMax, 16);
    });
  });

  it('rejects what it cannot build, naming the fix', () => {
    assert.throws(() => createDetector('yolov9'), (e: Error) => /unknown model 'yolov9'; known models: .*yolov8n, yolov8s/.test(e.message));
    assert.throws(() => createDetector('resnet18'), /resnet18 is a classify model; createDetector\(\) builds detect models \(yolov8n, yolov8s, yolov8\)/);
    assert.throws(() => createModel('yolov8n'), /yolov8n is a detect model; createModel\(\) builds classify models \(.*vit_tiny\); use createDetector\(\)/);
    assert.throws(() => createDetector('yolov8n', { numClasses: 0 }), /numClasses must be a positive integer, got 0/);
    assert.throws(() => createDetector('yolov8n', { imgSize: 100 }), /yolov8n: imgSize 100 is not a multiple of 32/);
    assert.throws(() => createDetector('yolov8s', { patchSize: 4 } as never), /yolov8s takes no patchSize/);
    assert.deepEqual(modelNames('detect'), ['yolov8n', 'yolov8s', 'yolov8']);
  });

  it('buildModel() rebuilds a detector from its JSON config; its weights load and give the same outputs', () => {
    withDetector('yolov8n', { numClasses: 5, inChannels: 1, imgSize: 96 }, (a) => {
      const config = JSON.parse(JSON.stringify(a.config)) as ModelConfig;
      assert.deepEqual(config, { name: 'yolov8n', numClasses: 5, inChannels: 1, imgSize: 96 });
      const b = buildModel(config) as DetectorModel;
      try {
        assert.ok(b instanceof YOLOv8);
        assert.deepEqual([...b.stateDict()].map(([k, t]) => [k, t.shape]), [...a.stateDict()].map(([k, t]) => [k, t.shape]));
        b.loadStateDict(a.stateDict());
        noGrad(() => tidy(() => {
          const x = randn([1, 1, 96, 96]);
          assertClose(b.eval().forward(x).decoded!, a.eval().forward(x).decoded!, 0, 'same weights, same output');
        }));
      } finally {
        b.dispose();
      }
      assert.equal(a.gflops(), a.gflops(96), 'gflops() defaults to the config\'s size');
    });
  });
});

describe('ONNX export of a detector', () => {
  it('exportOnnx and moduleToOnnx give the decoded output [N, 4 + nc, anchors] under output0', () => {
    withDetector('yolov8n', { numClasses: 2 }, (m) => {
      m.eval();
      const viaExport = decodeModel(exportOnnx(m, { imgsz: 64 }, { dynamicBatch: true })).graph;
      const viaModule = moduleToOnnx(m, [{ name: 'images', shape: [1, 3, 64, 64] }]).graph;
      const dims = (g: typeof viaExport): (number | string)[] => g.output[0]!.type!.tensorType!.shape!.dim!.map((d) => d.dimParam ?? toNumber(d.dimValue));
      assert.equal(viaExport.output[0]!.name, 'output0');
      assert.deepEqual(dims(viaExport), ['N', 6, 64 + 16 + 4]);
      assert.deepEqual(dims(viaModule), [1, 6, 84]);
    });
  });
});
