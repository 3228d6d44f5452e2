// YOLOv8's export twins against their forward(): every block, the Detect head (anchor decoding in
// the graph) and whole yolov8n/yolov8s models, exported with moduleToOnnx and run by ONNX Runtime
// on random input, against libtorch's eval output. Batch norms get random statistics and affine
// parameters first, so a folded or misplaced norm cannot hide behind an identity.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { moduleToOnnx, buildDetectOnnxModel } from '../../src/export/export.js';
import { Bottleneck, C2f, Concat, Conv, SPPF, Upsample } from '../../src/models/yolo-blocks.js';
import { DFL, Detect } from '../../src/models/yolo-head.js';
import { createDetector } from '../../src/models/index.js';
import { BatchNorm2d } from '../../src/nn/index.js';
import type { Module } from '../../src/nn/module.js';
import { encodeModel, type ModelProto } from '../../src/onnx/proto.js';
import { manualSeed, noGrad, randn, tidy, type Tensor } from '../../src/tensor/index.js';
import { run, session, torchValues } from '../onnx/ort.js';

type AnyModule = Module<never, unknown>;

/** Random running statistics and affine parameters on every batch norm, then eval mode. */
function randomNorms<M extends AnyModule>(m: M): M {
  noGrad(() => {
    for (const [, n] of m.namedModules()) {
      if (!(n instanceof BatchNorm2d)) continue;
      n.runningMean!.normal_(0, 0.2);
      n.runningVar!.uniform_(0.5, 2);
      n.weight!.uniform_(0.5, 1.5);
      n.bias!.uniform_(-0.3, 0.3);
    }
  });
  m.eval();
  return m;
}

/** Largest |a − b| / max(1, |b|): absolute for values of order one, relative for box coordinates in pixels. */
function maxScaledDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'value counts');
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!) / Math.max(1, Math.abs(b[i]!)));
  return Number.isNaN(d) ? Infinity : d;
}

const TOL = 1e-4;

async function compare(proto: ModelProto, inputs: Record<string, Tensor>, expected: Float32Array, dims: number[]): Promise<number> {
  const out = await run(await session(encodeModel(proto)), inputs);
  assert.deepEqual(out.dims, dims, 'output shape');
  return maxScaledDiff(out.data, expected);
}

interface BlockCase {
  make: () => AnyModule;
  inputs: number[][];
  out: number[];
}

const BLOCKS: Record<string, BlockCase> = {
  'Conv 3×3 stride 2 (Conv2d + BatchNorm2d + SiLU)': { make: () => new Conv(3, 8, 3, 2), inputs: [[2, 3, 16, 16]], out: [2, 8, 8, 8] },
  'Bottleneck with its residual': { make: () => new Bottleneck(8, 8, true), inputs: [[2, 8, 8, 8]], out: [2, 8, 8, 8] },
  'Bottleneck without a residual (widths differ)': { make: () => new Bottleneck(8, 12, true), inputs: [[2, 8, 8, 8]], out: [2, 12, 8, 8] },
  'C2f, two bottlenecks with shortcuts': { make: () => new C2f(8, 16, 2, true), inputs: [[2, 8, 8, 8]], out: [2, 16, 8, 8] },
  'C2f without shortcuts': { make: () => new C2f(16, 8, 1, false), inputs: [[2, 16, 8, 8]], out: [2, 8, 8, 8] },
  SPPF: { make: () => new SPPF(16, 8, 5), inputs: [[2, 16, 8, 8]], out: [2, 8, 8, 8] },
  'Upsample ×2 (nearest)': { make: () => new Upsample(2), inputs: [[2, 4, 3, 5]], out: [2, 4, 6, 10] },
  'Concat of three': { make: () => new Concat(1), inputs: [[2, 3, 4, 4], [2, 5, 4, 4], [2, 1, 4, 4]], out: [2, 9, 4, 4] },
  'DFL (softmax over bins, expectation as a 1×1 conv)': { make: () => new DFL(16), inputs: [[2, 64, 7]], out: [2, 4, 7] },
  'Detect, three levels, decoded': { make: () => new Detect(3, [16, 32, 64]), inputs: [[2, 16, 8, 8], [2, 32, 4, 4], [2, 64, 2, 2]], out: [2, 7, 84] },
};

describe('YOLOv8 blocks: ONNX Runtime output equals the libtorch eval forward', () => {
  for (const [name, c] of Object.entries(BLOCKS)) {
    it(name, async () => {
      manualSeed(1);
      const m = randomNorms(c.make());
      try {
        const xs = c.inputs.map((s) => randn(s));
        const call = (): Tensor => {
          const out = (m.forward as (...a: unknown[]) => unknown)(...(m instanceof Concat || m instanceof Detect ? [xs] : xs));
          return m instanceof Detect ? (out as { decoded: Tensor }).decoded : (out as Tensor);
        };
        const expected = torchValues(call);
        const proto = moduleToOnnx(m, c.inputs.map((s, i) => ({ name: `x${i}`, shape: ['N', ...s.slice(1)] })));
        const d = await compare(proto, Object.fromEntries(xs.map((x, i) => [`x${i}`, x])), expected, c.out);
        assert.ok(d < TOL, `max scaled difference ${d}`);
        for (const x of xs) x.dispose();
      } finally {
        m.dispose();
      }
    });
  }

  it('the Detect graph decodes: boxes equal decode() on hand-set maps, in input pixels', async () => {
    // A 1-class head at stride 8 and 16 over 2×2 and 1×1 maps; the decoded values are checked
    // against libtorch above, and here their layout: 5 anchors, rows cx, cy, w, h, p.
    manualSeed(2);
    const m = randomNorms(new Detect(1, [16, 16], [8, 16]));
    try {
      const xs = [randn([1, 16, 2, 2]), randn([1, 16, 1, 1])];
      const out = await run(await session(encodeModel(moduleToOnnx(m, [{ name: 'a', shape: [1, 16, 2, 2] }, { name: 'b', shape: [1, 16, 1, 1] }]))), { a: xs[0]!, b: xs[1]! });
      assert.deepEqual(out.dims, [1, 5, 5]);
      const row = (r: number): number[] => Array.from(out.data.subarray(r * 5, r * 5 + 5));
      // A box's centre lies within regMax−1 cells of its anchor, and its size within 2·(regMax−1) cells.
      const centres = [[4, 4], [12, 4], [4, 12], [12, 12], [8, 8]];
      const strides = [8, 8, 8, 8, 16];
      centres.forEach(([cx, cy], a) => {
        assert.ok(Math.abs(row(0)[a]! - cx!) <= 7.5 * strides[a]!, `anchor ${a} cx`);
        assert.ok(Math.abs(row(1)[a]! - cy!) <= 7.5 * strides[a]!, `anchor ${a} cy`);
        assert.ok(row(2)[a]! >= 0 && row(2)[a]! <= 30 * strides[a]!, `anchor ${a} w`);
      });
      for (const p of row(4)) assert.ok(p > 0 && p < 1, 'probabilities');
      for (const x of xs) x.dispose();
    } finally {
      m.dispose();
    }
  });
});

describe('whole detectors: ONNX Runtime output equals the libtorch eval forward', () => {
  for (const [name, size, opset] of [['yolov8n', 64, 17], ['yolov8n', 96, 13], ['yolov8s', 64, 17]] as const) {
    it(`${name} at ${size} px, opset ${opset}, dynamic batch, run with batch 2`, async () => {
      manualSeed(3);
      const m = randomNorms(createDetector(name, { numClasses: 5 }));
      try {
        const x = randn([2, 3, size, size]);
        const expected = torchValues(() => tidy(() => m.forward(x).decoded!));
        const proto = buildDetectOnnxModel(m, { imgsz: size }, { dynamicBatch: true, opset });
        const anchors = (size / 8) ** 2 + (size / 16) ** 2 + (size / 32) ** 2;
        const d = await compare(proto, { images: x }, expected, [2, 9, anchors]);
        assert.ok(d < TOL, `max scaled difference ${d}`);
        x.dispose();
      } finally {
        m.dispose();
      }
    });
  }
});
