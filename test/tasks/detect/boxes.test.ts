// Box geometry of the detection loss: anchors and distance coding by hand, CIoU against
// torchvision's complete_box_iou_loss (an independent implementation) and against the fixture
// script's restatement of Ultralytics' bbox_iou (test/fixtures/yolo_loss.json, case `ciou`).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { anchors, dist2bbox } from '../../../src/models/yolo-head.js';
import { bbox2dist, bboxIou, xywh2xyxy, xyxy2xywh } from '../../../src/tasks/detect/boxes.js';
import { tensor, tidy } from '../../../src/tensor/index.js';
import { assertClose, fromEnc, loadFixture, type Enc } from '../../helpers.js';

const fx = loadFixture('yolo_loss');

describe('anchors (the model head\'s, shared with the loss)', () => {
  it('lists cell centres row by row, level after level, with their strides', () => tidy(() => {
    const { points, strides } = anchors([[2, 3], [1, 2]], [8, 16]);
    assert.deepEqual(points.shape, [8, 2]);
    assert.deepEqual(points.toArray(), [0.5, 0.5, 1.5, 0.5, 2.5, 0.5, 0.5, 1.5, 1.5, 1.5, 2.5, 1.5, 0.5, 0.5, 1.5, 0.5]);
    assert.deepEqual(strides.shape, [8, 1]);
    assert.deepEqual(strides.toArray(), [8, 8, 8, 8, 8, 8, 16, 16]);
    assert.deepEqual(anchors([[1, 1]], [32], { offset: 0 }).points.toArray(), [0, 0]);
  }));
  it('refuses a stride count that does not match the maps', () => {
    assert.throws(() => anchors([[2, 2]], [8, 16]), /^RangeError: anchors\(\): 1 map shapes but 2 strides$/);
  });
});

describe('dist2bbox and bbox2dist', () => {
  const points = (): ReturnType<typeof tensor> => tensor([[4.5, 2.5], [0.5, 7.5]]);
  it('turn distances into xyxy and xywh boxes', () => tidy(() => {
    const dist = tensor([[1, 2, 3, 4], [0.5, 0, 2, 1]]);
    assert.deepEqual(dist2bbox(dist, points(), { xywh: false }).toArray(), [3.5, 0.5, 7.5, 6.5, 0, 7.5, 2.5, 8.5]);
    assert.deepEqual(dist2bbox(dist, points(), { xywh: true }).toArray(), [5.5, 3.5, 4, 6, 1.25, 8, 2.5, 1]);
    // Along dim 1 of [B, 4, A] maps, as a head decodes them.
    const byColumn = dist2bbox(dist.t().unsqueeze(0), points().t().unsqueeze(0), { xywh: false, dim: 1 });
    assert.deepEqual(byColumn.squeeze(0).t().toArray(), [3.5, 0.5, 7.5, 6.5, 0, 7.5, 2.5, 8.5]);
  }));
  it('bbox2dist inverts dist2bbox and clamps to [0, regMax - 0.01]', () => tidy(() => {
    const dist = tensor([[1, 2, 3, 4], [0.5, 0, 2, 1]]);
    assertClose(bbox2dist(points(), dist2bbox(dist, points(), { xywh: false })), dist, 1e-6);
    const far = tensor([[-20, 1, 30, 3]]);
    assert.deepEqual(bbox2dist(tensor([[4, 2]]), far).toArray(), [24, 1, 26, 1]);
    assertClose(bbox2dist(tensor([[4, 2]]), far, 15), [14.99, 1, 14.99, 1], 1e-6);
    assertClose(bbox2dist(tensor([[40, 2]]), far, 15), [14.99, 1, 0, 1], 1e-6);
  }));
  it('xyxy2xywh and xywh2xyxy are inverse', () => tidy(() => {
    const xyxy = tensor([[1, 2, 5, 10], [0, 0, 3, 1]]);
    assert.deepEqual(xyxy2xywh(xyxy).toArray(), [3, 6, 4, 8, 1.5, 0.5, 3, 1]);
    assert.deepEqual(xywh2xyxy(xyxy2xywh(xyxy)).toArray(), xyxy.toArray());
  }));
});

describe('bboxIou', () => {
  // [0,0,2,2] and [1,1,3,3]: intersection 1, union 7, enclosing box 3×3 (area 9, diagonal² 18),
  // centres (1,1) and (2,2) (distance² 2), same aspect ratio (CIoU's v = 0).
  const a = (): ReturnType<typeof tensor> => tensor([[0, 0, 2, 2]]);
  const b = (): ReturnType<typeof tensor> => tensor([[1, 1, 3, 3]]);
  it('IoU, GIoU, DIoU and CIoU of two squares', () => tidy(() => {
    assertClose(bboxIou(a(), b(), { xywh: false }), [1 / 7], 1e-6);
    assertClose(bboxIou(a(), b(), { xywh: false, giou: true }), [1 / 7 - 2 / 9], 1e-6);
    assertClose(bboxIou(a(), b(), { xywh: false, diou: true }), [1 / 7 - 2 / 18], 1e-6);
    assertClose(bboxIou(a(), b(), { xywh: false, ciou: true }), [1 / 7 - 2 / 18], 1e-6);
    // The same boxes given as centre and size.
    assertClose(bboxIou(tensor([[1, 1, 2, 2]]), tensor([[2, 2, 2, 2]]), { ciou: true }), [1 / 7 - 2 / 18], 1e-6);
    assert.deepEqual(bboxIou(a(), b(), { xywh: false }).shape, [1, 1]);
  }));
  it('CIoU penalises a different aspect ratio', () => tidy(() => {
    // [0,0,4,1] inside [0,0,4,4]: IoU 1/4, centres 1.5 apart in y, diagonal² 32,
    // v = 4/π²·(atan 1 − atan 4)², α = v / (v − IoU + 1).
    const v = (4 / Math.PI ** 2) * (Math.atan(1) - Math.atan(4)) ** 2;
    const want = 0.25 - (2.25 / 32 + (v * v) / (v - 0.25 + 1));
    assertClose(bboxIou(tensor([[0, 0, 4, 1]]), tensor([[0, 0, 4, 4]]), { xywh: false, ciou: true }), [want], 1e-5);
  }));

  const c = fx.ciou!;
  const tv = c.torchvision as Record<string, Enc>;
  it('1 - CIoU matches torchvision complete_box_iou_loss, values and gradients', () => tidy(() => {
    const [ba, bb] = [fromEnc(c.inputs!.a!), fromEnc(c.inputs!.b!)];
    const loss = bboxIou(ba, bb, { xywh: false, ciou: true }).neg().add(1).squeeze(-1);
    assertClose(loss, tv.loss!, 1e-5, '1 - ciou');
    loss.sum().backward();
    assertClose(ba.grad!, tv.gradA!, 1e-4, 'grad a');
    assertClose(bb.grad!, tv.gradB!, 1e-4, 'grad b');
  }));
  it('matches the fixture script\'s bbox_iou(CIoU=True)', () => tidy(() => {
    assertClose(bboxIou(fromEnc(c.inputs!.a!, false), fromEnc(c.inputs!.b!, false), { xywh: false, ciou: true }), c.outputs[0]!, 1e-6);
  }));
});
