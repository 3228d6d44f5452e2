/**
 * Task-aligned assignment (TOOD, https://arxiv.org/abs/2108.07755) as Ultralytics' current
 * TaskAlignedAssigner (utils/tal.py) does it for the YOLOv8 loss: each ground-truth box takes the
 * topk anchors inside it with the best score^alpha · CIoU^beta, an anchor claimed by several boxes
 * goes to the one it overlaps most, and the class target is scaled by how well the anchor aligns.
 * Boxes are padded to the largest count per image (`maskGt` marks the real ones), so all the work
 * is batched tensors of shape [B, maxBoxes, anchors].
 */
import { arange, cat, full, ones, where, zeros, zerosLike } from '../../tensor/creation.js';
import { noGrad } from '../../tensor/runtime.js';
import { tidy } from '../../tensor/scope.js';
import type { Tensor } from '../../tensor/tensor.js';
import { bboxIou, xywh2xyxy, xyxy2xywh } from './boxes.js';

export interface TaskAlignedAssignerOptions {
  numClasses: number;
  /** Candidates kept per box (Ultralytics' detection loss: 10). */
  topk?: number;
  /** A second, tighter top-k per box after anchors claimed twice are settled; default `topk` (no effect). */
  topk2?: number;
  /** Exponent of the class score in the alignment metric (detection loss: 0.5). */
  alpha?: number;
  /** Exponent of the CIoU in the alignment metric (6). */
  beta?: number;
  /**
   * The model's strides, finest first: a box side under strides[0] is taken as strides[1] when
   * choosing the anchors inside it, so boxes thinner than the finest grid still get candidates.
   */
  strides?: readonly number[];
  eps?: number;
}

/** Per anchor: what it is trained towards. B images, A anchors, C classes. */
export interface Assignment {
  /** int64 [B, A]: the class of the box it is assigned to (numClasses when there are no boxes). */
  targetLabels: Tensor;
  /** float32 [B, A, 4]: that box, xyxy in the units of `gtBboxes`. */
  targetBboxes: Tensor;
  /** float32 [B, A, C]: the class target, one-hot scaled by alignment; zero on background. */
  targetScores: Tensor;
  /** bool [B, A]: anchors assigned to a box. */
  fgMask: Tensor;
  /** int64 [B, A]: index of that box among the image's padded boxes (0 on background). */
  targetGtIdx: Tensor;
}

export class TaskAlignedAssigner {
  readonly numClasses: number;
  readonly topk: number;
  readonly topk2: number;
  readonly alpha: number;
  readonly beta: number;
  readonly strides: readonly number[];
  readonly eps: number;

  constructor(o: TaskAlignedAssignerOptions) {
    this.numClasses = o.numClasses;
    this.topk = o.topk ?? 10;
    this.topk2 = o.topk2 ?? this.topk;
    this.alpha = o.alpha ?? 0.5;
    this.beta = o.beta ?? 6.0;
    this.strides = o.strides ?? [8, 16, 32];
    this.eps = o.eps ?? 1e-9;
    if (!Number.isInteger(this.topk) || this.topk < 1 || !Number.isInteger(this.topk2) || this.topk2 < 1) {
      throw new RangeError(`assigner topk and topk2 must be positive integers, got ${this.topk} and ${this.topk2}`);
    }
    if (this.strides.length === 0) throw new RangeError('assigner needs at least one stride');
  }

  /**
   * @param pdScores  [B, A, C] predicted class probabilities (after sigmoid)
   * @param pdBboxes  [B, A, 4] predicted boxes, xyxy, in the units of `gtBboxes`
   * @param ancPoints [A, 2] anchor centres in those units
   * @param gtLabels  [B, M, 1] class of each padded box
   * @param gtBboxes  [B, M, 4] boxes, xyxy
   * @param maskGt    [B, M, 1] 1 for real boxes, 0 for padding
   */
  forward(pdScores: Tensor, pdBboxes: Tensor, ancPoints: Tensor, gtLabels: Tensor, gtBboxes: Tensor, maskGt: Tensor): Assignment {
    return noGrad(() => tidy(() => {
      const [bs, na] = [pdScores.size(0), pdScores.size(1)];
      if (gtBboxes.size(1) === 0) {
        const device = pdScores.device;
        return {
          targetLabels: full([bs, na], this.numClasses, { dtype: 'int64', device }),
          targetBboxes: zerosLike(pdBboxes),
          targetScores: zerosLike(pdScores),
          fgMask: zeros([bs, na], { dtype: 'bool', device }),
          targetGtIdx: zeros([bs, na], { dtype: 'int64', device }),
        };
      }
      const { maskPos: candidates, alignMetric, overlaps } = this.getPosMask(pdScores, pdBboxes, gtLabels, gtBboxes, ancPoints, maskGt);
      const { targetGtIdx, fgMask, maskPos } = this.selectHighestOverlaps(candidates, overlaps, alignMetric);
      const { targetLabels, targetBboxes, targetScores } = this.getTargets(gtLabels, gtBboxes, targetGtIdx, fgMask);
      // Scale each box's one-hot so its best-aligned anchor gets that anchor's IoU with the box.
      const align = alignMetric.mul(maskPos);
      const posAlignMetrics = align.amax(-1, true);
      const posOverlaps = overlaps.mul(maskPos).amax(-1, true);
      const normAlignMetric = align.mul(posOverlaps).div(posAlignMetrics.add(this.eps)).amax(-2).unsqueeze(-1);
      return { targetLabels, targetBboxes, targetScores: targetScores.mul(normAlignMetric), fgMask: fgMask.to('bool'), targetGtIdx };
    }));
  }

  /** Candidates: inside the box and among its topk by alignment; [B, M, A] each. */
  getPosMask(pdScores: Tensor, pdBboxes: Tensor, gtLabels: Tensor, gtBboxes: Tensor, ancPoints: Tensor, maskGt: Tensor): { maskPos: Tensor; alignMetric: Tensor; overlaps: Tensor } {
    const maskInGts = this.selectCandidatesInGts(ancPoints, gtBboxes, maskGt);
    const { alignMetric, overlaps } = this.getBoxMetrics(pdScores, pdBboxes, gtLabels, gtBboxes, maskInGts.mul(maskGt));
    const k = Math.min(this.topk, alignMetric.size(-1));
    const maskTopk = this.selectTopkCandidates(alignMetric, k, maskGt.expand(-1, -1, k).to('bool'));
    return { maskPos: maskTopk.mul(maskInGts).mul(maskGt), alignMetric, overlaps };
  }

  /** score(box's class)^alpha · CIoU^beta for every (box, anchor) pair in `mask`, else 0. */
  getBoxMetrics(pdScores: Tensor, pdBboxes: Tensor, gtLabels: Tensor, gtBboxes: Tensor, mask: Tensor): { alignMetric: Tensor; overlaps: Tensor } {
    const [bs, nMax, na] = mask.shape as [number, number, number];
    const inside = mask.to('bool');
    const labels = gtLabels.squeeze(-1).long().unsqueeze(-1).expand(bs, nMax, na);
    const bboxScores = where(inside, pdScores.transpose(1, 2).gather(1, labels), 0);
    // CIoU only for the pairs in the mask: the dense [B, M, A] product would be mostly wasted.
    const pdBoxes = pdBboxes.unsqueeze(1).expand(bs, nMax, na, 4).index([inside]);
    const gtBoxes = gtBboxes.unsqueeze(2).expand(bs, nMax, na, 4).index([inside]);
    const overlaps = zeros([bs, nMax, na], { dtype: pdBboxes.dtype, device: pdBboxes.device }).indexPut_([inside], this.iouCalculation(gtBoxes, pdBoxes));
    return { alignMetric: bboxScores.pow(this.alpha).mul(overlaps.pow(this.beta)), overlaps };
  }

  iouCalculation(gtBboxes: Tensor, pdBboxes: Tensor): Tensor {
    return bboxIou(gtBboxes, pdBboxes, { xywh: false, ciou: true }).squeeze(-1).clamp(0);
  }

  /** 1 where an anchor is among a box's top k by `metrics` ([B, M, A]), as metrics' dtype. */
  selectTopkCandidates(metrics: Tensor, k: number, topkMask?: Tensor): Tensor {
    const { values, indices } = metrics.topk(k, -1, true);
    const keep = topkMask ?? values.amax(-1, true).gt(this.eps).expandAs(indices);
    const idx = indices.maskedFill(keep.logicalNot(), 0);
    const device = metrics.device;
    const count = zeros(metrics.shape, { dtype: 'int8', device }).scatterAdd(-1, idx, ones(idx.shape, { dtype: 'int8', device }));
    // Masked-out boxes sent all k picks to anchor 0: a count over 1 marks those, not a real pick.
    return count.maskedFill(count.gt(1), 0).to(metrics.dtype);
  }

  /** bool [B, M, A]: anchor centres strictly inside each box, boxes thinner than strides[0] widened to strides[1]. */
  selectCandidatesInGts(xyCenters: Tensor, gtBboxes: Tensor, maskGt: Tensor): Tensor {
    const xywh = xyxy2xywh(gtBboxes);
    const wh = xywh.narrow(-1, 2, 2);
    const small = wh.lt(this.strides[0]!).logicalAnd(maskGt.to('bool'));
    const grown = where(small, this.strides[1] ?? this.strides[0]!, wh);
    const boxes = xywh2xyxy(cat([xywh.narrow(-1, 0, 2), grown], -1));
    const [lt, rb] = boxes.unsqueeze(2).chunk(2, 3);
    return cat([xyCenters.sub(lt!), rb!.sub(xyCenters)], -1).amin(3).gt(this.eps);
  }

  /** An anchor claimed by several boxes goes to the one it overlaps most; then topk2, if tighter. */
  selectHighestOverlaps(maskPos: Tensor, overlaps: Tensor, alignMetric: Tensor): { targetGtIdx: Tensor; fgMask: Tensor; maskPos: Tensor } {
    // Ultralytics skips this when no anchor is claimed twice; it changes nothing then, and doing
    // it always spares reading a value back from the device every step.
    const multi = maskPos.sum(-2).unsqueeze(1).gt(1).expandAs(maskPos);
    const isMax = zerosLike(maskPos).scatter(1, overlaps.argmax(1).unsqueeze(1), 1);
    let pos = where(multi, isMax, maskPos).float();
    if (this.topk2 !== this.topk) {
      const best = alignMetric.mul(pos).topk(Math.min(this.topk2, pos.size(-1)), -1, true).indices;
      pos = pos.mul(zerosLike(pos).scatter(-1, best, 1));
    }
    return { targetGtIdx: pos.argmax(-2), fgMask: pos.sum(-2), maskPos: pos };
  }

  getTargets(gtLabels: Tensor, gtBboxes: Tensor, targetGtIdx: Tensor, fgMask: Tensor): { targetLabels: Tensor; targetBboxes: Tensor; targetScores: Tensor } {
    const [bs, na] = targetGtIdx.shape as [number, number];
    const nMax = gtBboxes.size(1);
    const device = targetGtIdx.device;
    const flat = targetGtIdx.add(arange(0, bs, 1, { dtype: 'int64', device }).unsqueeze(-1).mul(nMax)).flatten();
    const targetLabels = gtLabels.long().flatten().indexSelect(0, flat).view(bs, na).clamp(0);
    const targetBboxes = gtBboxes.reshape(-1, gtBboxes.size(-1)).indexSelect(0, flat).view(bs, na, -1);
    const oneHot = zeros([bs, na, this.numClasses], { dtype: 'int8', device }).scatter(2, targetLabels.unsqueeze(-1), 1);
    return { targetLabels, targetBboxes, targetScores: oneHot.mul(fgMask.unsqueeze(-1).gt(0)) };
  }
}
