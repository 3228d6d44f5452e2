// Every segmentation model of the registry through ONNX: exported with a dynamic batch at a size
// that is no multiple of the strides (so the bilinear Resize and U-Net's padding have fractional
// work to do), run by ONNX Runtime, against libtorch's eval output; files pass ONNX's checker.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { moduleToOnnx } from '../../src/export/export.js';
import { createSegmenter, modelNames, type SegmenterOptions } from '../../src/models/index.js';
import { encodeModel } from '../../src/onnx/proto.js';
import { manualSeed, memory, randn, tidy } from '../../src/tensor/index.js';
import { calibrateNorms } from '../models/calibrate-norms.js';
import { checkOnnxFiles, maxAbsDiff, onnxCheckerMissing, run, session, torchValues } from '../onnx/ort.js';

const TOL = 1e-4;
const [H, W] = [50, 42];

const CASES: [string, SegmenterOptions][] = [
  ...modelNames('segment').map((n): [string, SegmenterOptions] => [n, { numClasses: 4 }]),
  ['unet', { numClasses: 3, inChannels: 1, depth: 3, width: 8 }],
  ['deeplabv3', { numClasses: 4, backbone: 'mobilenet_v2' }],
  ['deeplabv3', { numClasses: 4, backbone: 'efficientnet_b0' }],
  ['lraspp', { numClasses: 4, backbone: 'resnet18' }],
  ['lraspp', { numClasses: 2, backbone: 'smallcnn', inChannels: 1 }],
];

const dir = mkdtempSync(join(tmpdir(), 'kestrel-onnx-segment-'));
const small: string[] = [];
after(() => rmSync(dir, { recursive: true, force: true }));

describe('segmentation models export to ONNX', () => {
  CASES.forEach(([name, opts], i) => {
    const what = `${name}${opts.backbone ? ` on ${opts.backbone}` : ''}${opts.depth ? ` (depth ${opts.depth}, width ${opts.width}, ${opts.inChannels} channel)` : ''}`;
    it(`${what}: ONNX Runtime gives libtorch's logits within ${TOL} × max(1, |logits|), at the input's size`, async (t) => {
      const before = memory().tensors;
      manualSeed(0);
      const model = createSegmenter(name, opts);
      const c = model.config.inChannels;
      const x = randn([2, c, H, W]);
      try {
        tidy(() => calibrateNorms(model, randn([4, c, H, W])));
        const proto = moduleToOnnx(model, [{ name: 'images', shape: ['N', c, H, W] }], { output: 'logits' });
        const out = proto.graph.output[0]!.type!.tensorType!.shape!.dim.map((d) => d.dimParam ?? Number(d.dimValue));
        assert.deepEqual(out, ['N', model.config.numClasses, H, W]);
        const bytes = encodeModel(proto);
        const expected = torchValues(() => model.forward(x));
        const got = await run(await session(bytes), { images: x });
        assert.deepEqual(got.dims, [2, model.config.numClasses, H, W]);
        const d = maxAbsDiff(got.data, expected);
        const scale = expected.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        assert.ok(scale > 0.05, `logits of size ${scale} make a weak comparison`);
        assert.ok(d <= TOL * Math.max(1, scale), `max abs diff ${d} (|logits| ≤ ${scale})`);
        t.diagnostic(`${what}: max abs diff ${d.toExponential(2)}, |logits| ≤ ${scale.toFixed(2)}`);
        if (model.numParameters() < 20e6) {
          const file = join(dir, `${i}-${name}.onnx`);
          writeFileSync(file, bytes);
          small.push(file);
        }
      } finally {
        x.dispose();
        model.dispose();
      }
      assert.equal(memory().tensors, before, 'live tensors after vs before');
    });
  });

  it('the files pass onnx.checker.check_model(full_check=True)', (t) => {
    const missing = onnxCheckerMissing();
    if (missing) {
      t.skip(missing);
      return;
    }
    assert.ok(small.length >= CASES.length - 2, `only ${small.length} files were written (an earlier test failed)`);
    assert.deepEqual(checkOnnxFiles(small), {});
  });
});
