/**
 * Box geometry for the YOLOv8 detection loss (anchors and dist2bbox are the model head's, in
 * src/models/yolo-head.ts), after Ultralytics' bbox2dist (utils/tal.py), bbox_iou (utils/metrics.py) and xyxy2xywh / xywh2xyxy (utils/ops.py),
 * with their names, argument order and order of operations, so values match to float rounding.
 * Boxes are xyxy (x1, y1, x2, y2) unless a function says xywh (centre, width, height).
 */
import { noGrad } from '../../tensor/runtime.js';
import { cat, stack } from '../../tensor/creation.js';
import type { Tensor } from '../../tensor/tensor.js';

/**
 * xyxy boxes → distances (left, top, right, bottom) from anchor points, clamped to
 * [0, regMax - 0.01] when `regMax` is given. As in Ultralytics, `regMax` here is the largest
 * distance bin: the loss passes its reg_max − 1.
 */
export function bbox2dist(anchorPoints: Tensor, bbox: Tensor, regMax?: number): Tensor {
  const [x1y1, x2y2] = bbox.chunk(2, -1);
  const dist = cat([anchorPoints.sub(x1y1!), x2y2!.sub(anchorPoints)], -1);
  return regMax === undefined ? dist : dist.clamp(0, regMax - 0.01);
}

export function xyxy2xywh(x: Tensor): Tensor {
  const [x1, y1, x2, y2] = x.unbind(-1);
  return stack([x1!.add(x2!).div(2), y1!.add(y2!).div(2), x2!.sub(x1!), y2!.sub(y1!)], -1);
}

export function xywh2xyxy(x: Tensor): Tensor {
  const xy = x.narrow(-1, 0, 2);
  const wh = x.narrow(-1, 2, 2).div(2);
  return cat([xy.sub(wh), xy.add(wh)], -1);
}

export interface BboxIouOptions {
  /** Boxes are (centre x, centre y, w, h); default true, as in Ultralytics. */
  xywh?: boolean;
  giou?: boolean;
  diou?: boolean;
  /** Complete IoU (https://arxiv.org/abs/1911.08287): DIoU less an aspect-ratio term. */
  ciou?: boolean;
  eps?: number;
}

/**
 * IoU (or GIoU, DIoU, CIoU) of boxes `a` and `b` pairwise along the last dimension (4 wide; the
 * rest broadcasts), keeping that dimension as 1. In CIoU the aspect weight α is a constant to
 * autograd, as in Ultralytics; xyxy heights get `eps` added before the aspect ratio is taken.
 *
 * @example
 * const iou = bboxIou(pred, target, { xywh: false, ciou: true });   // [N, 1]
 * const loss = iou.neg().add(1).mean();
 */
export function bboxIou(a: Tensor, b: Tensor, o: BboxIouOptions = {}): Tensor {
  const eps = o.eps ?? 1e-7;
  let b1x1: Tensor, b1y1: Tensor, b1x2: Tensor, b1y2: Tensor, b2x1: Tensor, b2y1: Tensor, b2x2: Tensor, b2y2: Tensor;
  let w1: Tensor, h1: Tensor, w2: Tensor, h2: Tensor;
  if (o.xywh ?? true) {
    let x1: Tensor, y1: Tensor, x2: Tensor, y2: Tensor;
    [x1, y1, w1, h1] = a.chunk(4, -1) as [Tensor, Tensor, Tensor, Tensor];
    [x2, y2, w2, h2] = b.chunk(4, -1) as [Tensor, Tensor, Tensor, Tensor];
    const [hw1, hh1, hw2, hh2] = [w1.div(2), h1.div(2), w2.div(2), h2.div(2)];
    [b1x1, b1x2, b1y1, b1y2] = [x1.sub(hw1), x1.add(hw1), y1.sub(hh1), y1.add(hh1)];
    [b2x1, b2x2, b2y1, b2y2] = [x2.sub(hw2), x2.add(hw2), y2.sub(hh2), y2.add(hh2)];
  } else {
    [b1x1, b1y1, b1x2, b1y2] = a.chunk(4, -1) as [Tensor, Tensor, Tensor, Tensor];
    [b2x1, b2y1, b2x2, b2y2] = b.chunk(4, -1) as [Tensor, Tensor, Tensor, Tensor];
    [w1, h1] = [b1x2.sub(b1x1), b1y2.sub(b1y1).add(eps)];
    [w2, h2] = [b2x2.sub(b2x1), b2y2.sub(b2y1).add(eps)];
  }
  const inter = b1x2.minimum(b2x2).sub(b1x1.maximum(b2x1)).clamp(0).mul(b1y2.minimum(b2y2).sub(b1y1.maximum(b2y1)).clamp(0));
  const union = w1.mul(h1).add(w2.mul(h2)).sub(inter).add(eps);
  const iou = inter.div(union);
  if (!o.ciou && !o.diou && !o.giou) return iou;
  const cw = b1x2.maximum(b2x2).sub(b1x1.minimum(b2x1)); // width of the smallest box holding both
  const ch = b1y2.maximum(b2y2).sub(b1y1.minimum(b2y1));
  if (o.ciou || o.diou) {
    const c2 = cw.pow(2).add(ch.pow(2)).add(eps); // its diagonal, squared
    const rho2 = b2x1.add(b2x2).sub(b1x1).sub(b1x2).pow(2).add(b2y1.add(b2y2).sub(b1y1).sub(b1y2).pow(2)).div(4); // centre distance, squared
    if (!o.ciou) return iou.sub(rho2.div(c2));
    const v = w2.div(h2).atan().sub(w1.div(h1).atan()).pow(2).mul(4 / Math.PI ** 2);
    const alpha = noGrad(() => v.div(v.sub(iou).add(1 + eps)));
    return iou.sub(rho2.div(c2).add(v.mul(alpha)));
  }
  const cArea = cw.mul(ch).add(eps);
  return iou.sub(cArea.sub(union).div(cArea));
}
