// The YOLOv8 detection loss against a PyTorch restatement of Ultralytics' v8DetectionLoss
// (test/fixtures/yolo_loss.json, written by test/fixtures/gen_yolo_loss.py): the loss, its three
// items, the assigner's per-anchor targets and the gradient w.r.t. every level's predictions.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DetectionLoss, dfLoss } from '../../../src/tasks/detect/loss.js';
import { arange, cat, memory, randn, tensor, tidy, type Tensor } from '../../../src/tensor/index.js';
import { assertClose, assertNoLeak, fromEnc, loadFixture, values, type Case, type Enc } from '../../helpers.js';

const fx = loadFixture('yolo_loss');
const lossCases = Object.keys(fx).filter((k) => k.startsWith('s'));

interface Args { nc: number; regMax: number; imgsz: [number, number]; strides: number[]; topk2?: number }

/** Tolerance 1e-4, relative to the largest expected magnitude once that is over 1. */
const tol = (expected: number[]): number => 1e-4 * Math.max(1, ...expected.map(Math.abs));

function run(c: Case): { loss: Tensor; items: { box: number; cls: number; dfl: number }; preds: Tensor[]; crit: DetectionLoss; targets: Tensor } {
  const a = c.args as unknown as Args;
  const preds = [0, 1, 2].map((i) => fromEnc(c.inputs![`p${i}`]!));
  const targets = fromEnc(c.inputs!.targets!);
  const crit = new DetectionLoss({ nc: a.nc, regMax: a.regMax, strides: a.strides, ...(a.topk2 === undefined ? {} : { topk2: a.topk2 }) });
  return { ...crit.forward(preds, targets, a.imgsz), preds, crit, targets };
}

/** `actual` equals `expected` except where `skip` is 1 (per anchor: the last `inner` values share one flag). */
function assertEqualExcept(actual: Tensor, expected: Enc, skip: number[], what: string, atol = 0): void {
  assert.deepEqual(actual.shape, expected.shape, `${what}: shape`);
  const [got, want] = [actual.toArray(), values(expected)];
  const inner = got.length / skip.length;
  let bad = 0;
  for (let i = 0; i < got.length; i++) if (!skip[Math.floor(i / inner)] && !(Math.abs(got[i]! - want[i]!) <= atol)) bad++;
  assert.equal(bad, 0, `${what}: ${bad} of ${got.length} values differ`);
}

describe('DetectionLoss matches Ultralytics v8DetectionLoss (yolo_loss.json)', () => {
  it('has the cases the fixture script writes', () => assert.deepEqual(lossCases, ['s64_t1_t1', 's64_t7_t0', 's64_empty', 's32x96_t3_t1', 's64_regmax1', 's64_t4_t2_topk2']));
  for (const name of lossCases) {
    describe(name, () => {
      const c = fx[name]!;
      it('loss and items', () => tidy(() => {
        const { loss, items } = run(c);
        const want = values(c.outputs[0]!);
        assert.deepEqual(loss.shape, []);
        assertClose(loss, want, tol(want), 'loss');
        const wantItems = c.items as { box: number; cls: number; dfl: number };
        for (const k of ['box', 'cls', 'dfl'] as const) assertClose(items[k], wantItems[k], tol([wantItems[k]]), k);
        // Ultralytics trains on the items' sum times the batch size.
        assertClose(loss.item(), (items.box + items.cls + items.dfl) * 2, 1e-4 * loss.item(), 'loss vs items');
      }));
      it('gradient w.r.t. each level', () => tidy(() => {
        const { loss, preds } = run(c);
        loss.backward();
        preds.forEach((p, i) => {
          const want = c.grads![`p${i}`]!;
          assertClose(p.grad!, want, tol(values(want)), `grad of level ${i}`);
        });
      }));
      it('assigned targets', () => tidy(() => {
        const a = c.args as unknown as Args;
        const { crit, targets } = run(c);
        const preds = [0, 1, 2].map((i) => fromEnc(c.inputs![`p${i}`]!, false));
        const { assigned } = crit.assignedTargetsAndLoss(preds, targets, a.imgsz);
        const want = c.assigned as Record<string, Enc>;
        // Anchors whose assignment rests on topk's order among tied zeros (see the script) are
        // left out of the per-anchor comparisons; their class target is 0 either way.
        const skip = values(c.ambiguous as Enc);
        assert.equal(assigned.fgMask.dtype, 'bool');
        assertEqualExcept(assigned.fgMask, want.fgMask!, skip, 'fgMask');
        assertEqualExcept(assigned.targetLabels, want.targetLabels!, skip, 'targetLabels');
        assertEqualExcept(assigned.targetGtIdx, want.targetGtIdx!, skip, 'targetGtIdx');
        assertEqualExcept(assigned.targetBboxes, want.targetBboxes!, skip, 'targetBboxes', 1e-4);
        assertClose(assigned.targetScores, want.targetScores!, 1e-4, 'targetScores');
        assert.equal(assigned.fgMask.sum().item(), c.positives, 'positives');
      }));
    });
  }
});

describe('DetectionLoss behaviour', () => {
  const c = fx.s64_t7_t0!;
  const a = c.args as unknown as Args;

  it('does not depend on the order of the target rows', () => tidy(() => {
    const { loss } = run(c);
    const targets = fromEnc(c.inputs!.targets!);
    // Image 1's rows first, then image 0's: the rows of one image keep their order.
    const reordered = cat([targets.index([targets.select(1, 0).eq(1)]), targets.index([targets.select(1, 0).eq(0)])]);
    const crit = new DetectionLoss({ nc: a.nc });
    const again = crit.forward([0, 1, 2].map((i) => fromEnc(c.inputs![`p${i}`]!, false)), reordered, a.imgsz).loss;
    assert.equal(again.item(), loss.item());
  }));

  it('refuses inputs that do not fit, in one line', () => tidy(() => {
    const crit = new DetectionLoss({ nc: 3 });
    const preds = [8, 4, 2].map((s) => randn([2, 67, s, s]));
    const row = (b: number, cls: number): Tensor => tensor([[b, cls, 1, 1, 9, 9]]);
    assert.throws(() => crit.forward(preds, row(2, 0), [64, 64]), /^RangeError: detection loss: target row 0 is for image 2, but the batch holds 2$/);
    assert.throws(() => crit.forward(preds, row(0, 3), [64, 64]), /^RangeError: detection loss: target row 0 has class 3, outside 0\.\.2$/);
    assert.throws(() => crit.forward(preds.slice(0, 2), row(0, 0), [64, 64]), /^RangeError: detection loss: 2 prediction maps for 3 strides$/);
    assert.throws(() => new DetectionLoss({ nc: 4 }).forward(preds, row(0, 0), [64, 64]), /prediction map 0 is \[2,67,8,8\], expected \[2, 68 \(4·16 \+ 4\), h, w\]/);
    assert.throws(() => crit.forward(preds, tensor([[0, 0, 1, 1, 9]]), [64, 64]), /targets are \[1,5\], expected \[M, 6\]/);
  }));

  it('frees everything but the loss, step after step', () => {
    const preds = [0, 1, 2].map((i) => fromEnc(c.inputs![`p${i}`]!));
    const targets = fromEnc(c.inputs!.targets!);
    const crit = new DetectionLoss({ nc: a.nc });
    const step = (): void => tidy(() => {
      const { loss } = crit.forward(preds, targets, a.imgsz);
      loss.backward();
      for (const p of preds) p.grad = null;
    });
    step(); // warm-up: first calls cache operator handles
    assertNoLeak(() => { for (let i = 0; i < 3; i++) step(); });
    // Outside the step scope only the loss is left to the caller.
    const before = memory().tensors;
    const { loss } = crit.forward(preds, targets, a.imgsz);
    assert.equal(memory().tensors, before + 1);
    loss.dispose();
    for (const t of [...preds, targets]) t.dispose();
  });
});

describe('dfLoss', () => {
  it('splits each side between the two bins around it, targets clamped to [0, regMax - 1.01]', () => tidy(() => {
    // Logits 0.1·j over 16 bins: log p_j = 0.1·j − log Σ_k e^{0.1·k}.
    const lse = Math.log(Array.from({ length: 16 }, (_, k) => Math.exp(0.1 * k)).reduce((x, y) => x + y));
    const logp = (j: number): number => 0.1 * j - lse;
    const pred = arange(0, 16, 1, { dtype: 'float32' }).mul(0.1).unsqueeze(0).expand(4, 16);
    // Sides at 3.25 bins, 20 (clamped to 14.99), −1 (clamped to 0) and exactly 7.
    const target = tensor([[3.25, 20, -1, 7]]);
    const side = [-(0.75 * logp(3) + 0.25 * logp(4)), -(0.01 * logp(14) + 0.99 * logp(15)), -logp(0), -logp(7)];
    assertClose(dfLoss(pred, target, 16), [side.reduce((x, y) => x + y) / 4], 1e-5);
  }));
});
