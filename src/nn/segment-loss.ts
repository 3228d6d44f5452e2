/**
 * Dense (per-pixel) classification losses for segmentation, over logits [N, C, ...] and integer
 * targets [N, ...]; pixels whose target is `ignoreIndex` count for nothing. Cross-entropy is
 * F.crossEntropy (ATen's, with `ignoreIndex` and class weights); this file adds soft Dice
 * (https://arxiv.org/abs/1606.04797), focal loss (https://arxiv.org/abs/1708.02002) and their
 * weighted sum, which is what class-imbalanced masks (small objects on a large background) need.
 *
 * @example
 * const loss = new SegmentationLoss({ ce: 1, dice: 1, classWeights: medianFrequencyWeights(counts) });
 * const value = loss.forward(model.forward(images), masks);   // masks int64 [N, H, W], 255 = ignore
 */
import { tensor, where, zeros } from '../tensor/creation.js';
import { tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import * as F from './functional.js';
import { Module } from './module.js';

export interface DiceOptions {
  /** Target value of pixels left out (default -100, PyTorch's ignore_index). */
  ignoreIndex?: number;
  /** Added to both sides of each class's ratio (default 1): keeps a class absent from both prediction and target at Dice 1. */
  smooth?: number;
  /** Per-class weights [C] of the mean over classes (default equal). */
  weight?: Tensor | null;
}

/** The valid-pixel mask [N, ...] and the targets with ignored pixels set to class 0 (any class would do: they are masked). */
function validTargets(target: Tensor, ignoreIndex: number): { valid: Tensor; safe: Tensor } {
  const valid = target.ne(ignoreIndex);
  return { valid, safe: where(valid, target, 0) };
}

/**
 * Soft multiclass Dice loss: for each class c, over all valid pixels of the batch,
 * dice_c = (2·Σ p_c·y_c + smooth) / (Σ p_c + Σ y_c + smooth) with p the softmax and y the one-hot
 * target; the loss is 1 − the (weighted) mean of dice_c over classes.
 */
export function diceLoss(logits: Tensor, target: Tensor, o: DiceOptions = {}): Tensor {
  const smooth = o.smooth ?? 1;
  return tidy(() => {
    const { valid, safe } = validTargets(target, o.ignoreIndex ?? -100);
    const mask = valid.unsqueeze(1).to(logits.dtype);
    const p = F.softmax(logits, 1).mul(mask);
    const y = zeros(logits.shape, { dtype: logits.dtype, device: logits.device }).scatter(1, safe.unsqueeze(1), 1).mul(mask);
    const dims = logits.shape.map((_, i) => i).filter((i) => i !== 1);
    const dice = p.mul(y).sum(dims).mul(2).add(smooth).div(p.add(y).sum(dims).add(smooth));
    const perClass = dice.neg().add(1);
    return o.weight ? perClass.mul(o.weight).sum().div(o.weight.sum()) : perClass.mean();
  });
}

export interface CellHistogramOptions {
  /** Target value of pixels left out (default -100). */
  ignoreIndex?: number;
  /** Per-class weights [C]. */
  weight?: Tensor | null;
}

/**
 * Deep supervision at a coarse scale: cross-entropy of coarse logits [N, C, h, w] against each
 * cell's class histogram in the full-resolution target [N, H, W] (a soft target: the share of each
 * class among the cell's valid pixels), averaged over cells with a valid pixel. Nearest
 * downsampling would drop thin objects (strokes, vessels) that a histogram keeps.
 */
export function cellHistogramLoss(logits: Tensor, target: Tensor, o: CellHistogramOptions = {}): Tensor {
  return tidy(() => {
    const [n, c, h, w] = logits.shape as [number, number, number, number];
    const { valid, safe } = validTargets(target, o.ignoreIndex ?? -100);
    const y = zeros([n, c, ...target.shape.slice(1)], { dtype: logits.dtype, device: logits.device }).scatter(1, safe.unsqueeze(1), 1).mul(valid.unsqueeze(1).to(logits.dtype));
    const shares = F.adaptiveAvgPool2d(y, [h, w]);
    const total = shares.sum(1, true);
    let perClass = shares.div(total.clamp(1e-12)).mul(F.logSoftmax(logits, 1)).neg();
    if (o.weight) perClass = perClass.mul(o.weight.view(1, c, 1, 1));
    const cells = total.squeeze(1).gt(0).to(logits.dtype);
    return perClass.sum(1).mul(cells).sum().div(cells.sum().clamp(1));
  });
}

export interface FocalOptions {
  /** Focusing exponent γ (default 2); 0 gives cross-entropy. */
  gamma?: number;
  /** Per-class weights [C] (α_t of the paper, per class). */
  weight?: Tensor | null;
  /** Target value of pixels left out (default -100). */
  ignoreIndex?: number;
  reduction?: F.Reduction;
}

/**
 * Multiclass focal loss: −w_t·(1 − p_t)^γ·log p_t per valid pixel, with p_t the softmax probability
 * of the target class. 'mean' divides by the summed weights of the valid pixels, as PyTorch's
 * weighted cross-entropy does, so γ = 0 gives exactly F.crossEntropy; 'none' gives 0 at ignored pixels.
 */
export function focalLoss(logits: Tensor, target: Tensor, o: FocalOptions = {}): Tensor {
  const gamma = o.gamma ?? 2;
  if (!(gamma >= 0)) throw new RangeError(`focal loss gamma must be ≥ 0, got ${gamma}`);
  return tidy(() => {
    const { valid, safe } = validTargets(target, o.ignoreIndex ?? -100);
    const logpt = F.logSoftmax(logits, 1).gather(1, safe.unsqueeze(1)).squeeze(1);
    let w = valid.to(logits.dtype);
    if (o.weight) w = w.mul(o.weight.index([safe]));
    const focus = gamma === 0 ? logpt : logpt.exp().neg().add(1).pow(gamma).mul(logpt);
    const loss = focus.neg().mul(w);
    switch (o.reduction ?? 'mean') {
      case 'none': return loss;
      case 'sum': return loss.sum();
      default: return loss.sum().div(w.sum());
    }
  });
}

export interface SegmentationLossOptions {
  /** Weight of cross-entropy in the sum (default 1). */
  ce?: number;
  /** Weight of Dice (default 0). */
  dice?: number;
  /** Weight of focal loss (default 0). */
  focal?: number;
  /** Per-class weights for all three terms (e.g. medianFrequencyWeights()). */
  classWeights?: readonly number[] | null;
  /** Mask value left out (default 255, the mask PNGs' "ignore"). */
  ignoreIndex?: number;
  /** Focal loss γ (default 2). */
  gamma?: number;
  /** Dice smoothing (default 1). */
  smooth?: number;
}

export type SegmentationLossTerm = 'ce' | 'dice' | 'focal';

/**
 * ce·CrossEntropy + dice·Dice + focal·Focal over logits [N, C, H, W] and targets [N, H, W], with
 * shared class weights and ignore value. terms() gives each weighted term (for logging), forward()
 * their sum. Terms of weight 0 are not computed.
 */
export class SegmentationLoss extends Module<[Tensor, Tensor]> {
  readonly weights: Readonly<Record<SegmentationLossTerm, number>>;
  readonly ignoreIndex: number;
  readonly gamma: number;
  readonly smooth: number;
  readonly classWeights: Tensor | null;

  constructor(o: SegmentationLossOptions = {}) {
    super();
    this.weights = { ce: o.ce ?? 1, dice: o.dice ?? 0, focal: o.focal ?? 0 };
    for (const [k, v] of Object.entries(this.weights)) if (!(v >= 0)) throw new RangeError(`loss weight ${k} must be ≥ 0, got ${v}`);
    if (Object.values(this.weights).every((v) => v === 0)) throw new RangeError('at least one of the ce, dice and focal weights must be positive');
    this.ignoreIndex = o.ignoreIndex ?? 255;
    this.gamma = o.gamma ?? 2;
    this.smooth = o.smooth ?? 1;
    const cw = o.classWeights ?? null;
    if (cw && !cw.every((v) => v >= 0 && Number.isFinite(v))) throw new RangeError('class weights must be finite and ≥ 0');
    this.classWeights = this.registerBuffer('class_weights', cw ? tensor(Float32Array.from(cw)) : null, false);
  }

  /** Each term of positive weight, already multiplied by its weight. */
  terms(logits: Tensor, target: Tensor): Partial<Record<SegmentationLossTerm, Tensor>> {
    const cw = this.classWeights;
    const weight = cw === null ? null : tidy(() => cw.to(logits.device).to(logits.dtype));
    const out: Partial<Record<SegmentationLossTerm, Tensor>> = {};
    const { ce, dice, focal } = this.weights;
    if (ce > 0) out.ce = tidy(() => F.crossEntropy(logits, target, { weight, ignoreIndex: this.ignoreIndex }).mul(ce));
    if (dice > 0) out.dice = tidy(() => diceLoss(logits, target, { weight, ignoreIndex: this.ignoreIndex, smooth: this.smooth }).mul(dice));
    if (focal > 0) out.focal = tidy(() => focalLoss(logits, target, { weight, ignoreIndex: this.ignoreIndex, gamma: this.gamma }).mul(focal));
    weight?.dispose();
    return out;
  }

  forward(logits: Tensor, target: Tensor): Tensor {
    return tidy(() => Object.values(this.terms(logits, target)).reduce((a, b) => a.add(b)));
  }
}

/**
 * Median-frequency class balancing (Eigen & Fergus, https://arxiv.org/abs/1411.4734): w_c =
 * median(f) / f_c over the classes present, f_c the class's share of the labelled pixels; classes
 * with no pixel get 0 (they cannot contribute anyway).
 */
export function medianFrequencyWeights(pixelCounts: readonly number[]): number[] {
  const total = pixelCounts.reduce((a, b) => a + b, 0);
  if (!(total > 0)) throw new RangeError('class pixel counts must include some pixels');
  const freqs = pixelCounts.filter((n) => n > 0).map((n) => n / total).sort((a, b) => a - b);
  const mid = freqs.length >> 1;
  const median = freqs.length % 2 ? freqs[mid]! : (freqs[mid - 1]! + freqs[mid]!) / 2;
  return pixelCounts.map((n) => (n > 0 ? median / (n / total) : 0));
}
