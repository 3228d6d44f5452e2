/**
 * The YOLOv8 detection loss, as Ultralytics' current v8DetectionLoss, BboxLoss and DFLoss
 * (ultralytics/utils/loss.py): anchors are assigned by TaskAlignedAssigner; classification is BCE
 * against the alignment-scaled one-hot over every anchor; boxes are 1 − CIoU and the distribution
 * focal loss over the assigned anchors, each weighted by its class target; all three are divided
 * by the sum of the class targets (at least 1). With regMax 1 the box branch predicts plain
 * distances and the third term is L1 on them, normalised by the image size, as in Ultralytics.
 */
import * as F from '../../nn/functional.js';
import { arange, cat, stack, tensor, zeros } from '../../tensor/creation.js';
import { tidy } from '../../tensor/scope.js';
import type { Tensor } from '../../tensor/tensor.js';
import { TaskAlignedAssigner, type Assignment } from './assigner.js';
import { anchors, dist2bbox } from '../../models/yolo-head.js';
import { bbox2dist, bboxIou } from './boxes.js';

export interface DetectionLossOptions {
  /** Number of classes. */
  nc: number;
  /** Bins per box side in the distribution head (16); 1 for a head that predicts plain distances. */
  regMax?: number;
  /** The strides of the levels in `preds`, finest first ([8, 16, 32]). */
  strides?: readonly number[];
  /** Gains (Ultralytics' hyperparameters box, cls, dfl): 7.5, 0.5, 1.5. */
  box?: number;
  cls?: number;
  dfl?: number;
  /** The assigner's candidates per box (10) and its optional second cut (tal_topk2; off). */
  topk?: number;
  topk2?: number;
}

/** The three terms after their gains, for logging: Ultralytics' loss items. */
export interface DetectionLossItems {
  box: number;
  cls: number;
  dfl: number;
}

export interface DetectionLossResult {
  /** Scalar: (box + cls + dfl) · batch size, after gains, as Ultralytics trains on. */
  loss: Tensor;
  items: DetectionLossItems;
}

/**
 * @example
 * const criterion = new DetectionLoss({ nc: 80 });
 * const step = tidy(() => {
 *   const { loss, items } = criterion.forward(model.forward(batch.images), batch.boxes, [640, 640]);
 *   loss.backward();
 *   return items;             // { box, cls, dfl }
 * });
 */
export class DetectionLoss {
  readonly nc: number;
  readonly regMax: number;
  readonly strides: readonly number[];
  readonly gains: { box: number; cls: number; dfl: number };
  readonly assigner: TaskAlignedAssigner;

  constructor(o: DetectionLossOptions) {
    if (!Number.isInteger(o.nc) || o.nc < 1) throw new RangeError(`detection loss: nc must be a positive integer, got ${o.nc}`);
    this.nc = o.nc;
    this.regMax = o.regMax ?? 16;
    if (!Number.isInteger(this.regMax) || this.regMax < 1) throw new RangeError(`detection loss: regMax must be a positive integer, got ${this.regMax}`);
    this.strides = o.strides ?? [8, 16, 32];
    this.gains = { box: o.box ?? 7.5, cls: o.cls ?? 0.5, dfl: o.dfl ?? 1.5 };
    this.assigner = new TaskAlignedAssigner({ numClasses: this.nc, topk: o.topk ?? 10, alpha: 0.5, beta: 6.0, strides: this.strides, ...(o.topk2 === undefined ? {} : { topk2: o.topk2 }) });
  }

  /**
   * @param preds   one map per level, float32 [B, 4·regMax + nc, h, w], raw (box logits, class logits)
   * @param targets float32 [M, 6]: (index in batch, class, x1, y1, x2, y2) in input pixels (Batch.boxes)
   * @param imgsz   the input's [h, w] in pixels (scales the regMax-1 L1 term)
   */
  forward(preds: readonly Tensor[], targets: Tensor, imgsz: readonly [number, number]): DetectionLossResult {
    const { loss, terms } = tidy(() => {
      const { losses } = this.assignedTargetsAndLoss(preds, targets, imgsz);
      return { loss: losses.mul(preds[0]!.size(0)).sum(), terms: losses.detach() };
    });
    const [box, cls, dfl] = terms.toArray() as [number, number, number];
    terms.dispose();
    return { loss, items: { box, cls, dfl } };
  }

  /**
   * The assignment and the three terms after gains ([box, cls, dfl], not yet times the batch
   * size): Ultralytics' get_assigned_targets_and_loss, which segmentation and pose losses extend.
   * Target boxes are in input pixels; `anchorPoints` in grid units, times `strideTensor` for pixels.
   */
  assignedTargetsAndLoss(preds: readonly Tensor[], targets: Tensor, imgsz: readonly [number, number]): { losses: Tensor; assigned: Assignment; anchorPoints: Tensor; strideTensor: Tensor } {
    const bs = this.check(preds, targets, imgsz);
    const device = preds[0]!.device;
    const flat = cat(preds.map((p) => p.reshape(bs, 4 * this.regMax + this.nc, -1)), 2);
    const [distri, scores] = flat.split([4 * this.regMax, this.nc], 1);
    const predScores = scores!.permute(0, 2, 1).contiguous(); // [B, A, nc]
    const predDistri = distri!.permute(0, 2, 1).contiguous(); // [B, A, 4·regMax]
    const { points: anchorPoints, strides: strideTensor } = anchors(preds.map((p) => [p.size(2), p.size(3)] as const), this.strides, { device });

    const gt = this.preprocess(targets, bs).to(device);
    const [gtLabels, gtBboxes] = gt.split([1, 4], 2);
    const maskGt = gtBboxes!.sum(2, true).gt(0).float();
    const predBboxes = this.bboxDecode(anchorPoints, predDistri); // xyxy, grid units

    const assigned = this.assigner.forward(
      predScores.detach().sigmoid(), predBboxes.detach().mul(strideTensor).float(), anchorPoints.mul(strideTensor), gtLabels!, gtBboxes!, maskGt,
    );
    const targetScoresSum = assigned.targetScores.sum().clamp(1);
    const cls = F.binaryCrossEntropyWithLogits(predScores, assigned.targetScores.to(predScores.dtype), { reduction: 'sum' }).div(targetScoresSum);
    // With no anchor assigned both box terms are sums over nothing, 0, as Ultralytics' skip gives.
    const { iou, dfl } = this.bboxLoss(predDistri, predBboxes, anchorPoints, assigned.targetBboxes.div(strideTensor), assigned.targetScores, targetScoresSum, assigned.fgMask, imgsz, strideTensor);
    const losses = stack([iou.mul(this.gains.box), cls.mul(this.gains.cls), dfl.mul(this.gains.dfl)]);
    return { losses, assigned, anchorPoints, strideTensor };
  }

  /** Rows (index, class, x1, y1, x2, y2) → [B, most boxes in one image, 5] (class, xyxy), zero-padded. */
  preprocess(targets: Tensor, bs: number): Tensor {
    const n = targets.size(0);
    if (n === 0) return zeros([bs, 0, 5]);
    const head = targets.narrow(1, 0, 2).cpu().toArray();
    const counts = new Array<number>(bs).fill(0);
    const rows = new BigInt64Array(n);
    const slots = new BigInt64Array(n);
    for (let i = 0; i < n; i++) {
      const [b, c] = [head[2 * i]!, head[2 * i + 1]!];
      if (!Number.isInteger(b) || b < 0 || b >= bs) throw new RangeError(`detection loss: target row ${i} is for image ${b}, but the batch holds ${bs}`);
      if (!Number.isInteger(c) || c < 0 || c >= this.nc) throw new RangeError(`detection loss: target row ${i} has class ${c}, outside 0..${this.nc - 1}`);
      rows[i] = BigInt(b);
      slots[i] = BigInt(counts[b]!++);
    }
    return zeros([bs, Math.max(...counts), 5]).indexPut_([tensor(rows), tensor(slots)], targets.cpu().narrow(1, 1, 5).float());
  }

  /** Box distributions → xyxy boxes in grid units (the expectation over the regMax bins per side). */
  bboxDecode(anchorPoints: Tensor, predDist: Tensor): Tensor {
    let dist = predDist;
    if (this.regMax > 1) {
      const [b, a, c] = predDist.shape as [number, number, number];
      const proj = arange(0, this.regMax, 1, { dtype: predDist.dtype, device: predDist.device });
      dist = F.softmax(predDist.view(b, a, 4, c / 4), 3).matmul(proj);
    }
    return dist2bbox(dist, anchorPoints, { xywh: false });
  }

  /** BboxLoss: 1 − CIoU and DFL (or L1 with regMax 1) over the assigned anchors, each weighted by its class target. */
  bboxLoss(predDist: Tensor, predBboxes: Tensor, anchorPoints: Tensor, targetBboxes: Tensor, targetScores: Tensor, targetScoresSum: Tensor, fgMask: Tensor, imgsz: readonly [number, number], stride: Tensor): { iou: Tensor; dfl: Tensor } {
    const weight = targetScores.index([fgMask]).sum(-1, true);
    const ciou = bboxIou(predBboxes.index([fgMask]), targetBboxes.index([fgMask]), { xywh: false, ciou: true });
    const iou = ciou.neg().add(1).mul(weight).sum().div(targetScoresSum);
    if (this.regMax > 1) {
      const targetLtrb = bbox2dist(anchorPoints, targetBboxes, this.regMax - 1);
      const dfl = dfLoss(predDist.index([fgMask]).view(-1, this.regMax), targetLtrb.index([fgMask]), this.regMax);
      return { iou, dfl: dfl.mul(weight).sum().div(targetScoresSum) };
    }
    // Distances in pixels over the image's width (left, right) and height (top, bottom).
    const size = tensor([imgsz[1], imgsz[0], imgsz[1], imgsz[0]], { device: predDist.device });
    const targetLtrb = bbox2dist(anchorPoints, targetBboxes).mul(stride).div(size);
    const pred = predDist.mul(stride).div(size);
    const l1 = F.l1Loss(pred.index([fgMask]), targetLtrb.index([fgMask]), 'none').mean(-1, true);
    return { iou, dfl: l1.mul(weight).sum().div(targetScoresSum) };
  }

  private check(preds: readonly Tensor[], targets: Tensor, imgsz: readonly [number, number]): number {
    if (preds.length !== this.strides.length) throw new RangeError(`detection loss: ${preds.length} prediction maps for ${this.strides.length} strides`);
    const channels = 4 * this.regMax + this.nc;
    const bs = preds[0]!.size(0);
    preds.forEach((p, i) => {
      if (p.ndim !== 4 || p.size(0) !== bs || p.size(1) !== channels) {
        throw new RangeError(`detection loss: prediction map ${i} is [${p.shape}], expected [${bs}, ${channels} (4·${this.regMax} + ${this.nc}), h, w]`);
      }
    });
    if (targets.ndim !== 2 || targets.size(1) !== 6) throw new RangeError(`detection loss: targets are [${targets.shape}], expected [M, 6] rows (index, class, x1, y1, x2, y2)`);
    if (imgsz.length !== 2 || !imgsz.every((v) => Number.isInteger(v) && v > 0)) throw new RangeError(`detection loss: imgsz must be [h, w] in pixels, got [${imgsz.join(', ')}]`);
    return bs;
  }
}

/**
 * Distribution focal loss (https://arxiv.org/abs/2006.04388): cross entropy of each side's bin
 * distribution against the two bins around the target distance, weighted by nearness; [N, 1].
 */
export function dfLoss(predDist: Tensor, target: Tensor, regMax: number): Tensor {
  const t = target.clamp(0, regMax - 1 - 0.01);
  const tl = t.long();
  const tr = tl.add(1);
  const wl = tr.sub(t);
  const wr = wl.neg().add(1);
  const logp = F.logSoftmax(predDist, 1);
  const left = logp.gather(1, tl.view(-1, 1)).view(tl.shape).mul(wl);
  const right = logp.gather(1, tr.view(-1, 1)).view(tl.shape).mul(wr);
  return left.add(right).mean(-1, true).neg();
}
