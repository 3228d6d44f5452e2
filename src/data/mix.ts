/**
 * Batch-level MixUp (Zhang et al., 2018, arXiv:1710.09412) and CutMix (Yun et al., 2019,
 * arXiv:1905.04899) on tensors. Each sample is mixed with its partner in the reversed batch (as
 * timm does); the targets are probabilities [B, numClasses] for a cross-entropy that accepts them.
 * Label smoothing is left to the loss.
 */
import { zeros } from '../tensor/creation.js';
import { tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { Rng } from './rng.js';

/** An Rng, or any function returning uniform floats in [0, 1). */
export type RandomSource = Rng | (() => number);

const asRng = (r: RandomSource): Rng => (r instanceof Rng ? r : Rng.from(r));

export interface Mixed {
  /** float [B, C, H, W] */
  images: Tensor;
  /** float32 [B, numClasses], rows sum to 1 */
  targets: Tensor;
  /** Weight of each sample's own label (for CutMix, the share of its own pixels). */
  lam: number;
}

/** One-hot rows of `labels` (int64 [B]) mixed with the reversed batch's: lam·y + (1 − lam)·flip(y). */
function mixTargets(labels: Tensor, numClasses: number, lam: number): Tensor {
  const oneHot = zeros([labels.size(0), numClasses]).scatter(1, labels.unsqueeze(1), 1);
  return oneHot.mul(lam).add(oneHot.flip(0).mul(1 - lam));
}

/**
 * MixUp: images·lam + flip(images)·(1 − lam), lam ~ Beta(alpha, alpha).
 *
 * @example
 * const rng = new Rng(0);
 * const { images, targets } = mixup(batch.images, batch.labels, 10, 0.2, rng);
 */
export function mixup(images: Tensor, labels: Tensor, numClasses: number, alpha: number, random: RandomSource): Mixed {
  if (!(alpha > 0)) throw new RangeError(`mixup alpha must be > 0, got ${alpha}`);
  const lam = asRng(random).beta(alpha, alpha);
  return tidy(() => ({ images: images.mul(lam).add(images.flip(0).mul(1 - lam)), targets: mixTargets(labels, numClasses, lam), lam }));
}

/** The CutMix box for an H × W image and weight lam: centre uniform, sides √(1 − lam) of the image's, clipped. */
export function cutmixBox(h: number, w: number, lam: number, rng: Rng): { top: number; left: number; height: number; width: number } {
  const r = Math.sqrt(1 - lam);
  const [ch, cw] = [Math.floor(h * r), Math.floor(w * r)];
  const [cy, cx] = [rng.int(0, h), rng.int(0, w)];
  const top = Math.min(Math.max(cy - Math.floor(ch / 2), 0), h);
  const bottom = Math.min(Math.max(cy + Math.floor(ch / 2), 0), h);
  const left = Math.min(Math.max(cx - Math.floor(cw / 2), 0), w);
  const right = Math.min(Math.max(cx + Math.floor(cw / 2), 0), w);
  return { top, left, height: bottom - top, width: right - left };
}

/**
 * CutMix: a box of each image replaced by the same box of its partner; lam ~ Beta(alpha, alpha),
 * then corrected to the box's true area.
 *
 * @example
 * const { images, targets, lam } = cutmix(batch.images, batch.labels, 10, 1.0, rng);
 */
export function cutmix(images: Tensor, labels: Tensor, numClasses: number, alpha: number, random: RandomSource): Mixed {
  if (!(alpha > 0)) throw new RangeError(`cutmix alpha must be > 0, got ${alpha}`);
  const rng = asRng(random);
  const [h, w] = [images.size(2), images.size(3)];
  const box = cutmixBox(h, w, rng.beta(alpha, alpha), rng);
  const lam = 1 - (box.height * box.width) / (h * w);
  return tidy(() => {
    const out = images.clone();
    if (box.height > 0 && box.width > 0) {
      const region = (t: Tensor): Tensor => t.narrow(2, box.top, box.height).narrow(3, box.left, box.width);
      region(out).copy_(region(images.flip(0)));
    }
    return { images: out, targets: mixTargets(labels, numClasses, lam), lam };
  });
}
