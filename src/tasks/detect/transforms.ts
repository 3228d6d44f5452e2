/**
 * Detection pipelines as transform specs (they travel to loader workers and into checkpoints):
 * training is mosaic (or a letterbox once mosaic closes) → random affine → HSV → flip; evaluation is
 * a letterbox to the input size. Pixels go in at 0–1 (mean 0, std 1), as Ultralytics feeds them.
 */
import type { TransformSpec } from '../../data/transforms.js';
import type { DetectTrainArgs } from './config.js';

export const DETECT_MEAN = [0, 0, 0];
export const DETECT_STD = [1, 1, 1];

/** The input normalisation: 0–1 floats, or a pretrained backbone's mean and std. */
export interface Norm {
  mean: number[];
  std: number[];
}

const PLAIN: Norm = { mean: DETECT_MEAN, std: DETECT_STD };
const normalize = (n: Norm): TransformSpec => ({ op: 'normalize', mean: n.mean, std: n.std });

/** The eval pipeline: letterbox (grey 114 padding) to `imgsz`, then 0–1 floats (or `norm`). */
export const detectEvalTransforms = (imgsz: number, norm: Norm = PLAIN): TransformSpec[] => [{ op: 'letterbox', size: imgsz, fill: 114 }, normalize(norm)];

/**
 * The training pipeline, with or without mosaic. As in Ultralytics, the random affine frames the
 * whole 2·imgsz mosaic canvas into imgsz, so a zoom out shows more tiles rather than grey padding.
 */
export function detectTrainTransforms(a: DetectTrainArgs, withMosaic: boolean, norm: Norm = PLAIN): TransformSpec[] {
  const affine = a.degrees > 0 || a.translate > 0 || a.scale > 0;
  const first: TransformSpec = withMosaic && a.mosaic > 0 ? { op: 'mosaic', size: a.imgsz, p: a.mosaic, crop: !affine } : { op: 'letterbox', size: a.imgsz, fill: 114 };
  const out: TransformSpec[] = [first];
  if (affine) out.push({ op: 'randomAffine', degrees: a.degrees, translate: a.translate, scale: a.scale, shear: 0, fill: 114, size: a.imgsz });
  if (a.hsvH > 0 || a.hsvS > 0 || a.hsvV > 0) out.push({ op: 'hsv', h: a.hsvH, s: a.hsvS, v: a.hsvV });
  if (a.fliplr > 0) out.push({ op: 'hflip', p: a.fliplr });
  out.push(normalize(norm));
  return out;
}
