// YOLOv8's pieces with hand-computed values (anchors, dist2bbox, the DFL expectation, decode,
// bias_init), and the model's contract: output shapes per mode, memory ownership, channels-last
// inputs, input checks and a training step for every registered detector.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  anchors, createDetector, decode, dflExpectation, dist2bbox, modelNames, DFL, type DetectorModel, type DetectorOptions,
} from '../../src/models/index.js';
import { SGD } from '../../src/optim/index.js';
import { cat, manualSeed, memory, noGrad, randn, tensor, tidy, zeros, type Tensor } from '../../src/tensor/index.js';
import { assertClose } from '../helpers.js';

function withDetector(name: string, opts: DetectorOptions, fn: (m: DetectorModel) => void): void {
  const before = memory().tensors;
  manualSeed(0);
  const model = createDetector(name, opts);
  try {
    fn(model);
  } finally {
    model.dispose();
  }
  assert.equal(memory().tensors, before, 'live tensors after dispose vs before the model');
}

const maxAbs = (t: Tensor): number => tidy(() => t.abs().max().item());

describe('anchors()', () => {
  it('gives cell centres row by row, level by level, with each level\'s stride', () => {
    tidy(() => {
      const { points, strides } = anchors([[2, 3], [1, 2]], [8, 16]);
      assertClose(points, tensor([[0.5, 0.5], [1.5, 0.5], [2.5, 0.5], [0.5, 1.5], [1.5, 1.5], [2.5, 1.5], [0.5, 0.5], [1.5, 0.5]]), 0);
      assertClose(strides, tensor([[8], [8], [8], [8], [8], [8], [16], [16]]), 0);
      assertClose(anchors([[1, 2]], [32], { offset: 0 }).points, tensor([[0, 0], [1, 0]]), 0, 'offset 0: cell corners');
    });
    assert.throws(() => anchors([[2, 2]], [8, 16]), /1 map shapes but 2 strides/);
  });
});

describe('dist2bbox()', () => {
  it('turns (left, top, right, bottom) distances into (cx, cy, w, h) or corner boxes, along any dim', () => {
    tidy(() => {
      const d = tensor([[1, 2, 3, 4]]);
      const p = tensor([[10, 20]]);
      assertClose(dist2bbox(d, p), tensor([[11, 21, 4, 6]]), 0, 'xywh');
      assertClose(dist2bbox(d, p, { xywh: false }), tensor([[9, 18, 13, 24]]), 0, 'xyxy');
      // [N, 4, A] with points [1, 2, A], the head's layout
      assertClose(dist2bbox(d.t().unsqueeze(0), p.t().unsqueeze(0), { dim: 1 }), tensor([[[11], [21], [4], [6]]]), 0, 'dim 1');
    });
  });
});

describe('the DFL expectation', () => {
  it('is the mean distance under each side\'s softmax; the DFL module (a fixed 1×1 conv) agrees', () => {
    tidy(() => {
      // One anchor; sides peaked at bins 1, 2, 3, 15 (logit 40 vs 0), and a second anchor uniform.
      const logits = zeros([1, 64, 2]);
      [1, 2, 3, 15].forEach((bin, side) => logits.narrow(1, side * 16 + bin, 1).narrow(2, 0, 1).fill_(40));
      const e = dflExpectation(logits);
      assertClose(e, tensor([[[1, 7.5], [2, 7.5], [3, 7.5], [15, 7.5]]]), 1e-5);
      const dfl = new DFL(16);
      assert.equal(dfl.conv.weight.requiresGrad, false, 'the projection is not trained');
      const r = randn([2, 64, 5]).mul(3);
      assertClose(dfl.forward(r), dflExpectation(r), 1e-5, 'conv form vs softmax · arange');
      dfl.dispose();
    });
    assert.throws(() => tidy(() => dflExpectation(zeros([1, 60, 2]))), /60 box channels, expected 4·16/);
  });
});

describe('decode()', () => {
  it('maps one-hot box bins and class logits to pixel boxes and sigmoid scores', () => {
    tidy(() => {
      // One level, stride 8, a 1×2 map, 2 classes; both anchors predict distances (1, 2, 3, 4).
      const map = zeros([1, 64 + 2, 1, 2]);
      [1, 2, 3, 4].forEach((bin, side) => map.narrow(1, side * 16 + bin, 1).fill_(40));
      map.narrow(1, 64, 1).fill_(Math.log(3)); // class 0: sigmoid = 0.75
      const out = decode([map], { numClasses: 2, strides: [8] });
      // anchor (0.5, 0.5): x1 -0.5, y1 -1.5, x2 3.5, y2 4.5 → cx 1.5, cy 1.5, w 4, h 6; ×8
      // anchor (1.5, 0.5): cx 2.5 → 20
      assertClose(out, tensor([[[12, 20], [12, 12], [32, 32], [48, 48], [0.75, 0.75], [0.5, 0.5]]]), 1e-4);
    });
    assert.throws(() => tidy(() => decode([zeros([1, 70, 2, 2])], { numClasses: 3, strides: [8] })), /expected \[N, 67, h, w\]/);
  });
});

describe('YOLOv8', () => {
  it("bias_init: box logits 1, class logits log(5 / nc / (640 / stride)²) per level", () => {
    withDetector('yolov8n', {}, (m) => {
      const sd = m.stateDict();
      [-11.536642, -10.150348, -8.764053].forEach((v, level) => {
        assertClose(sd.get(`model.22.cv2.${level}.2.bias`)!, new Array(64).fill(1), 0, `box bias ${level}`);
        assertClose(sd.get(`model.22.cv3.${level}.2.bias`)!, new Array(80).fill(v), 1e-5, `class bias ${level}`);
      });
      tidy(() => assertClose(sd.get('model.22.dfl.conv.weight')!.flatten(), Array.from({ length: 16 }, (_, i) => i), 0, 'DFL weights 0…15'));
      assert.deepEqual(sd.get('model.0.conv.weight')!.shape, [16, 3, 3, 3]);
    });
  });

  it('train mode gives the per-level maps; eval mode adds decode(maps), boxes inside a plausible range', () => {
    withDetector('yolov8n', { numClasses: 3 }, (m) => {
      const x = randn([2, 3, 64, 96]);
      tidy(() => {
        const train = m.forward(x);
        assert.deepEqual(train.maps.map((t) => t.shape), [[2, 67, 8, 12], [2, 67, 4, 6], [2, 67, 2, 3]]);
        assert.equal(train.decoded, null);
      });
      m.eval();
      noGrad(() => tidy(() => {
        const { maps, decoded } = m.forward(x);
        assert.deepEqual(decoded!.shape, [2, 7, 96 + 24 + 6]);
        assertClose(decoded!, decode(maps, { numClasses: 3 }), 1e-4, 'the exported decode() is the head\'s');
        const scores = decoded!.narrow(1, 4, 3);
        assert.ok(tidy(() => scores.min().item()) > 0 && tidy(() => scores.max().item()) < 1, 'scores are probabilities');
        // Widths and heights are sums of two expectations in [0, 15] cells: at most 30 × stride.
        assert.ok(tidy(() => decoded!.narrow(1, 2, 2).min().item()) >= 0);
        assert.ok(tidy(() => decoded!.narrow(1, 2, 2).max().item()) <= 30 * 32);
      }));
      x.dispose();
    });
  });

  it('owns its memory: after forward and backward only the outputs are new, and disposing them restores the count', () => {
    withDetector('yolov8n', { numClasses: 2 }, (m) => {
      const x = randn([2, 3, 64, 64]);
      const before = memory().tensors;
      const out = m.forward(x);
      assert.equal(memory().tensors, before + 3, 'train mode: three maps, no intermediate left');
      const loss = tidy(() => cat(out.maps.map((t) => t.pow(2).mean().unsqueeze(0))).sum());
      loss.backward();
      for (const t of [...out.maps, loss]) t.dispose();
      m.zeroGrad();
      assert.equal(memory().tensors, before, 'after backward');

      m.eval();
      noGrad(() => {
        const features = m.forwardFeatures(x);
        assert.equal(memory().tensors, before + 3, 'forwardFeatures keeps P3, P4, P5 only');
        const head = m.forwardHead(features);
        for (const t of [...features, ...head.maps, head.decoded!]) t.dispose();
      });
      assert.equal(memory().tensors, before, 'after eval');
      x.dispose();
    });
  });

  it('runs channels-last (weights and input NHWC) to the same outputs', () => {
    withDetector('yolov8n', { numClasses: 3 }, (m) => {
      m.eval();
      const x = randn([1, 3, 64, 64]);
      const ref = noGrad(() => tidy(() => m.forward(x).decoded!));
      m.memoryFormat('channelsLast');
      const xl = x.contiguous(true);
      assert.equal(xl.isContiguous(), false, 'the input really is NHWC');
      noGrad(() => tidy(() => assertClose(m.forward(xl).decoded!, ref, 1e-4 * Math.max(1, maxAbs(ref)), 'channels-last decoded')));
      m.train();
      tidy(() => {
        const maps = m.forward(xl).maps;
        maps.reduce((s: Tensor, t) => s.add(t.sum()), zeros([])).backward();
        assert.ok(Number.isFinite(maxAbs(m.stateDict().get('model.0.conv.weight')!.grad!)));
      });
      for (const t of [x, xl, ref]) t.dispose();
    });
  });

  it('rejects inputs it cannot take, saying why', () => {
    withDetector('yolov8n', { numClasses: 3, inChannels: 1 }, (m) => {
      assert.deepEqual(m.stateDict().get('model.0.conv.weight')!.shape, [16, 1, 3, 3]);
      assert.throws(() => tidy(() => m.forward(randn([1, 1, 100, 96]))), /yolov8n: input is 100×96; both sides must be multiples of 32/);
      assert.throws(() => tidy(() => m.forward(randn([1, 3, 64, 64]))), /expected images \[N, 1, H, W\], got \[1, 3, 64, 64\]/);
    });
  });
});

describe('every registered detector', () => {
  for (const name of modelNames('detect')) {
    it(`${name}: a training step gives every trainable parameter a finite gradient and moves the head`, () => {
      withDetector(name, { numClasses: 4, imgSize: 64 }, (m) => {
        const optimizer = new SGD(m.parameters().filter((p) => p.requiresGrad), { lr: 1e-3, momentum: 0.9 });
        const x = randn([2, 3, 64, 64]);
        // yolov8n/s keep Ultralytics' layer numbers (head model.22); yolov8 over a zoo CNN numbers its neck and head from 3.
        const headKey = [...m.stateDict().keys()].find((k) => /^model\.\d+\.cv3\.0\.2\.weight$/.test(k))!;
        const head = m.stateDict().get(headKey)!;
        const headBefore = head.clone();
        try {
          tidy(() => {
            const { maps } = m.train().forward(x);
            const loss = cat(maps.map((t) => t.sigmoid().mean().unsqueeze(0))).sum();
            loss.backward();
            for (const [key, p] of m.namedParameters()) {
              if (!p.requiresGrad) {
                assert.equal(key, headKey.replace(/cv3\.0\.2\.weight$/, 'dfl.conv.weight'), `${key} is frozen`);
                continue;
              }
              assert.ok(p.grad !== null, `${key} got no gradient`);
              assert.ok(Number.isFinite(maxAbs(p.grad)), `${key}: gradient is not finite`);
            }
            optimizer.step();
          });
          assert.ok(tidy(() => head.sub(headBefore).abs().max().item()) > 0, 'the step moved the class head');
        } finally {
          for (const t of [x, headBefore]) t.dispose();
          optimizer.dispose();
        }
      });
    });
  }
});
