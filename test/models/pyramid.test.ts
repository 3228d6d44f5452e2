// Feature pyramids of the zoo CNNs: the maps have the strides and channels the static levels
// announce, the last level is the classifier's own features, dilation keeps the resolution where
// torchvision's does, nothing leaks, and the ONNX twin gives libtorch's maps.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildBackbone, createModel, SEGMENT_BACKBONES, type PyramidBackbone, type SegmentBackbone } from '../../src/models/index.js';
import { moduleToOnnx } from '../../src/export/export.js';
import { Module } from '../../src/nn/index.js';
import { encodeModel } from '../../src/onnx/proto.js';
import type { OnnxGraph, OnnxValue } from '../../src/onnx/graph.js';
import * as E from '../../src/onnx/emit.js';
import { cat, manualSeed, memory, noGrad, randn, tidy, type Tensor } from '../../src/tensor/index.js';
import { maxAbsDiff, run, session, torchValues } from '../onnx/ort.js';
import { calibrateNorms } from './calibrate-norms.js';

type Backbone = PyramidBackbone & Module<never, unknown>;

/** Every pyramid map flattened and joined: one output, so the whole pyramid is compared at once. */
class JoinedPyramid extends Module {
  constructor(readonly net: Backbone) {
    super();
    this.registerModule('net', net);
  }

  forward(x: Tensor): Tensor {
    return tidy(() => cat(this.net.forwardPyramid(x).map((m) => m.flatten(1)), 1));
  }

  protected override onnx(g: OnnxGraph, x: OnnxValue): OnnxValue {
    return g.op('Concat', this.net.onnxPyramid(g, x).map((m) => E.flatten(g, m, 1)), { axis: 1 });
  }
}

const inChannels = (name: SegmentBackbone): number => (name === 'smallcnn' ? 1 : 3);

describe('feature pyramids', () => {
  for (const name of SEGMENT_BACKBONES) {
    it(`${name}: the maps have the announced strides and channels, the last is forwardFeatures(), nothing leaks`, () => {
      manualSeed(0);
      const net = buildBackbone(name, inChannels(name), false);
      try {
        net.eval();
        const before = memory().tensors;
        noGrad(() => tidy(() => {
          const x = randn([2, inChannels(name), 64, 96]);
          const maps = net.forwardPyramid(x);
          const shapes = maps.map((m) => m.shape);
          const expected = net.pyramidLevels.map((l) => [2, l.channels, Math.ceil(64 / l.stride), Math.ceil(96 / l.stride)]);
          assert.deepEqual(shapes, expected);
          const strides = net.pyramidLevels.map((l) => l.stride);
          assert.deepEqual(strides, name === 'smallcnn' ? [2, 4] : [4, 8, 16, 32]);
          const features = (net as unknown as { forwardFeatures(x: Tensor): Tensor }).forwardFeatures(x);
          assert.equal(maxAbsDiff(maps[maps.length - 1]!.dataSync() as Float32Array, features.dataSync() as Float32Array), 0);
        }));
        assert.equal(memory().tensors, before, 'live tensors after the scope');
      } finally {
        net.dispose();
      }
    });
  }

  it("dilation keeps torchvision's resolutions: ResNets at output stride 8, MobileNetV3 at 16", () => {
    for (const [name, strides] of [['resnet18', [4, 8, 8, 8]], ['resnet50', [4, 8, 8, 8]], ['mobilenet_v3_large', [4, 8, 16, 16]], ['mobilenet_v3_small', [4, 8, 16, 16]]] as const) {
      const net = buildBackbone(name, 3, true);
      try {
        net.eval();
        assert.deepEqual(net.pyramidLevels.map((l) => l.stride), strides, name);
        const shapes = noGrad(() => tidy(() => net.forwardPyramid(randn([1, 3, 64, 64])).map((m) => m.shape.slice(2))));
        assert.deepEqual(shapes, strides.map((s) => [64 / s, 64 / s]), name);
      } finally {
        net.dispose();
      }
    }
  });

  it('a classifier built from its registry name has the same pyramid as buildBackbone()', () => {
    const model = createModel('mobilenet_v2', { numClasses: 10 });
    try {
      assert.deepEqual((model as unknown as PyramidBackbone).pyramidLevels, [
        { stride: 4, channels: 24 }, { stride: 8, channels: 32 }, { stride: 16, channels: 96 }, { stride: 32, channels: 1280 },
      ]);
    } finally {
      model.dispose();
    }
  });

  for (const name of SEGMENT_BACKBONES) {
    it(`${name}: the ONNX twin gives libtorch's maps (dynamic batch, dilated where it can be)`, async () => {
      manualSeed(0);
      const dilated = name.startsWith('resnet') || name.startsWith('mobilenet_v3');
      const model = new JoinedPyramid(buildBackbone(name, inChannels(name), dilated)).eval();
      const x = randn([2, inChannels(name), 48, 40]);
      try {
        tidy(() => calibrateNorms(model, randn([4, inChannels(name), 48, 40])));
        const bytes = encodeModel(moduleToOnnx(model, [{ name: 'images', shape: ['N', inChannels(name), 48, 40] }]));
        const got = await run(await session(bytes), { images: x });
        const expected = torchValues(() => model.forward(x));
        const scale = expected.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        assert.ok(scale > 1e-3, `maps of size ${scale} make a weak comparison`);
        assert.ok(maxAbsDiff(got.data, expected) <= 1e-4 * Math.max(1, scale), `max abs diff ${maxAbsDiff(got.data, expected)}`);
      } finally {
        x.dispose();
        model.net.dispose();
      }
    });
  }
});
