/**
 * The geometric transforms as two halves: the random parameters drawn from the sample's Rng, and
 * what they do — to the pixels (`apply`) and, as a map of coordinates, to the boxes and masks that
 * move with them. Classification and task pipelines draw the same numbers, so a sample's pixels do
 * not depend on whether it carries targets.
 */
import { crop, hflip as hflipImg, resample, resizeTarget, rotate, rotationInverse, warpAffine } from './geometry.js';
import type { Interpolation } from './filters.js';
import { pair, roundHalfEven, type Img } from './pixels.js';
import { resizePil } from './resample-pil.js';
import type { Rng } from './rng.js';
import { forwardAbout, invertAffine, type Affine, type GeoMap } from './targets.js';
import type { TransformSpec } from './transforms.js';

/** One geometric op with its parameters drawn. `map` null: the op left the image as it was. */
export interface GeoStep {
  map: GeoMap | null;
  apply(img: Img): Img;
}

const unchanged: GeoStep = { map: null, apply: (img) => img };

/** torchvision's RandomResizedCrop.get_params: (top, left, h, w) of a crop of random area and aspect ratio. */
export function rrcParams(W: number, H: number, scale: readonly [number, number], ratio: readonly [number, number], rng: Rng): [number, number, number, number] {
  const area = W * H;
  const [lr0, lr1] = [Math.log(ratio[0]), Math.log(ratio[1])];
  for (let k = 0; k < 10; k++) {
    const target = area * rng.uniform(scale[0], scale[1]);
    const aspect = Math.exp(rng.uniform(lr0, lr1));
    const w = Math.round(Math.sqrt(target * aspect));
    const h = Math.round(Math.sqrt(target / aspect));
    if (w > 0 && h > 0 && w <= W && h <= H) return [rng.int(0, H - h + 1), rng.int(0, W - w + 1), h, w];
  }
  const r = W / H;
  let [w, h] = [W, H];
  if (r < ratio[0]) h = Math.round(w / ratio[0]);
  else if (r > ratio[1]) w = Math.round(h * ratio[1]);
  return [Math.floor((H - h) / 2), Math.floor((W - w) / 2), h, w];
}

/** The region (left, top, w, h) resampled to outW × outH; `pil`: the whole image, in PIL's fixed point. */
function resampleStep(W: number, H: number, left: number, top: number, w: number, h: number, outW: number, outH: number, interpolation: Interpolation = 'bilinear', pil = false): GeoStep {
  const [sx, sy] = [outW / w, outH / h];
  const apply = pil ? (img: Img) => resizePil(img, outW, outH, interpolation) : (img: Img) => resample(img, left, top, w, h, outW, outH, interpolation);
  return { map: { kind: 'axis', sx, sy, tx: -left * sx, ty: -top * sy, w: outW, h: outH }, apply };
}

/** The h × w window at (top, left), `fill` outside the image. */
function cropStep(top: number, left: number, h: number, w: number, fill = 0): GeoStep {
  return { map: { kind: 'axis', sx: 1, sy: 1, tx: -left, ty: -top, w, h }, apply: (img) => crop(img, top, left, h, w, fill) };
}

/**
 * Ultralytics' LetterBox: scaled to fit `size` keeping the aspect ratio (never up without
 * `scaleup`), the sides rounded, then padded to `size` with the image centred.
 */
export function letterboxParams(W: number, H: number, size: number | readonly [number, number], scaleup = true): { w: number; h: number; top: number; left: number; outW: number; outH: number } {
  const [outH, outW] = pair(size);
  let r = Math.min(outH / H, outW / W);
  if (!scaleup) r = Math.min(r, 1);
  const w = Math.max(1, roundHalfEven(W * r));
  const h = Math.max(1, roundHalfEven(H * r));
  return { w, h, top: Math.max(0, roundHalfEven((outH - h) / 2 - 0.1)), left: Math.max(0, roundHalfEven((outW - w) / 2 - 0.1)), outW, outH };
}

/**
 * Ultralytics' RandomPerspective without perspective: M = T·S·R·C about the image centre (rotation
 * and scale, shear, then a translation), drawn in that order. The translation places the centre in
 * an output of `outW` × `outH` (default: the input's size; a 2·size mosaic canvas comes out at
 * `size`, Ultralytics' border of −size/2, so zooming out shows more of the canvas, not padding).
 */
export function affineMatrix(W: number, H: number, s: Extract<TransformSpec, { op: 'randomAffine' }>, rng: Rng, outW = W, outH = H): Affine {
  const deg = s.degrees ?? 0;
  const scale = s.scale ?? 0.5;
  const shear = s.shear ?? 0;
  const translate = s.translate ?? 0.1;
  const a = (rng.uniform(-deg, deg) * Math.PI) / 180;
  const k = rng.uniform(1 - scale, 1 + scale);
  const shx = Math.tan((rng.uniform(-shear, shear) * Math.PI) / 180);
  const shy = Math.tan((rng.uniform(-shear, shear) * Math.PI) / 180);
  const tx = rng.uniform(0.5 - translate, 0.5 + translate) * outW;
  const ty = rng.uniform(0.5 - translate, 0.5 + translate) * outH;
  // cv2.getRotationMatrix2D(angle a, scale k): counter-clockwise on screen.
  const [r00, r01, r10, r11] = [k * Math.cos(a), k * Math.sin(a), -k * Math.sin(a), k * Math.cos(a)];
  const [m00, m01, m10, m11] = [r00 + shx * r10, r01 + shx * r11, shy * r00 + r10, shy * r01 + r11];
  const [cx, cy] = [W / 2, H / 2];
  return [m00, m01, tx - m00 * cx - m01 * cy, m10, m11, ty - m10 * cx - m11 * cy];
}

/** The step of a geometric op (its parameters drawn from `rng`), or null for an op that is not geometric. */
export function geometricStep(img: Img, t: TransformSpec, rng: Rng): GeoStep | null {
  const [W, H] = [img.width, img.height];
  switch (t.op) {
    case 'resize': {
      const [h, w] = resizeTarget(W, H, t.size, t.maxSize);
      return resampleStep(W, H, 0, 0, W, H, w, h, t.interpolation, t.rounding === 'pil');
    }
    case 'centerCrop': {
      const [h, w] = pair(t.size);
      return cropStep(roundHalfEven((H - h) / 2), roundHalfEven((W - w) / 2), h, w);
    }
    case 'randomResizedCrop': {
      const [h, w] = pair(t.size);
      const [top, left, ch, cw] = rrcParams(W, H, t.scale ?? [0.08, 1], t.ratio ?? [3 / 4, 4 / 3], rng);
      return resampleStep(W, H, left, top, cw, ch, w, h);
    }
    case 'randomCrop': {
      const [h, w] = pair(t.size);
      const p = t.padding ?? 0;
      const top = rng.int(0, H + 2 * p - h + 1) - p;
      const left = rng.int(0, W + 2 * p - w + 1) - p;
      return cropStep(top, left, h, w, t.fill ?? 0);
    }
    case 'hflip':
      if (!rng.chance(t.p ?? 0.5)) return unchanged;
      return { map: { kind: 'axis', sx: -1, sy: 1, tx: W, ty: 0, w: W, h: H }, apply: hflipImg };
    case 'rotation': {
      const [lo, hi] = typeof t.degrees === 'number' ? [-t.degrees, t.degrees] : t.degrees;
      const deg = rng.uniform(lo, hi);
      return { map: { kind: 'affine', m: forwardAbout(rotationInverse(deg), W / 2, H / 2), w: W, h: H }, apply: (i) => rotate(i, deg, 'bilinear', t.fill ?? 0) };
    }
    case 'letterbox': {
      const p = letterboxParams(W, H, t.size, t.scaleup ?? true);
      const [sx, sy] = [p.w / W, p.h / H];
      const map: GeoMap = { kind: 'axis', sx, sy, tx: p.left, ty: p.top, w: p.outW, h: p.outH };
      return { map, apply: (i) => crop(p.w === W && p.h === H ? i : resample(i, 0, 0, W, H, p.w, p.h), -p.top, -p.left, p.outH, p.outW, t.fill ?? 114) };
    }
    case 'randomAffine': {
      const [h, w] = t.size === undefined ? [H, W] : pair(t.size);
      const m = affineMatrix(W, H, t, rng, w, h);
      return { map: { kind: 'affine', m, w, h }, apply: (i) => warpAffine(i, invertAffine(m), [0, 0], 'bilinear', t.fill ?? 114, [w, h]) };
    }
    default:
      return null;
  }
}
