/**
 * Task targets that move with the pixels: boxes (x1, y1, x2, y2 in continuous pixel coordinates,
 * pixel i spanning [i, i + 1]), masks (one class id per pixel, 255 = ignore) and the map from the
 * original image to the network input. Plain JS: the browser runs the same transforms.
 */
import type { Img } from './pixels.js';
import type { BoxTargets } from './source.js';

/**
 * Where a sample's input came from: input = original·scale + pad, per axis ([y, x] order), for
 * pipelines of axis-aligned ops (resize, letterbox, crops, hflip — a flip makes sx negative).
 */
export interface SampleGeometry {
  /** The original image's [h, w]. */
  size: [number, number];
  scale: [number, number];
  pad: [number, number];
}

/** One sample on its way through the transforms. */
export interface Sample {
  img: Img;
  /** 4·n values, x1 y1 x2 y2 in `img`'s pixels. */
  boxes?: Float32Array;
  /** n class ids, with `boxes`. */
  classes?: Int32Array;
  /** img.height·img.width class ids, 255 = ignore. */
  mask?: Uint8Array;
  /** Tracked geometry; null once an op that is not axis-aligned ran. */
  geometry?: SampleGeometry | null;
}

/** x' = x·sx + tx, y' = y·sy + ty, onto a w × h image. */
export interface AxisMap {
  kind: 'axis';
  sx: number;
  sy: number;
  tx: number;
  ty: number;
  w: number;
  h: number;
}

/** Row-major 2×3 matrix [a, b, c, d, e, f]: x' = a·x + b·y + c, y' = d·x + e·y + f. */
export type Affine = [number, number, number, number, number, number];

/** p' = m·p onto a w × h image. */
export interface AffineMap {
  kind: 'affine';
  m: Affine;
  w: number;
  h: number;
}

export type GeoMap = AxisMap | AffineMap;

/** Value of mask pixels that come from outside the image (padding, rotated-in corners). */
export const IGNORE = 255;

// Ultralytics' box_candidates: what is left of a moved box must be at least 2 px wide and high,
// keep 10% of its (scaled) area, and have an aspect ratio under 100.
const MIN_SIDE = 2;
const MIN_AREA_KEPT = 0.1;
const MAX_ASPECT = 100;

export function invertAffine(m: Affine): Affine {
  const [a, b, c, d, e, f] = m;
  const det = a * e - b * d;
  return [e / det, -b / det, (b * f - c * e) / det, -d / det, a / det, (c * d - a * f) / det];
}

/** The forward map of a warp given as its inverse about `(cx, cy)` (src = inv·(dst − c) + c), as warpAffine takes it. */
export function forwardAbout(inv: readonly number[], cx: number, cy: number): Affine {
  const [a, b, c, d, e, f] = invertAffine([inv[0]!, inv[1]!, inv[2]!, inv[3]!, inv[4]!, inv[5]!]);
  // dst = A·(src − c − t) + c with [A | t'] the inverse of [inv | t]: fold the centre into the offset.
  return [a, b, c + cx - a * cx - b * cy, d, e, f + cy - d * cx - e * cy];
}

const isIdentity = (map: GeoMap, w: number, h: number): boolean =>
  map.kind === 'axis' && map.sx === 1 && map.sy === 1 && map.tx === 0 && map.ty === 0 && map.w === w && map.h === h;

/** Moves boxes, clips them to the new image and drops the ones too little of is left. */
export function moveBoxes(boxes: Float32Array, classes: Int32Array, map: GeoMap): { boxes: Float32Array; classes: Int32Array } {
  const n = classes.length;
  const ob = new Float32Array(4 * n);
  const oc = new Int32Array(n);
  const det = map.kind === 'axis' ? Math.abs(map.sx * map.sy) : Math.abs(map.m[0] * map.m[4] - map.m[1] * map.m[3]);
  const { w: W, h: H } = map;
  let k = 0;
  for (let i = 0; i < n; i++) {
    const [x1, y1, x2, y2] = [boxes[4 * i]!, boxes[4 * i + 1]!, boxes[4 * i + 2]!, boxes[4 * i + 3]!];
    let u1: number, v1: number, u2: number, v2: number;
    if (map.kind === 'axis') {
      [u1, u2] = map.sx >= 0 ? [x1 * map.sx + map.tx, x2 * map.sx + map.tx] : [x2 * map.sx + map.tx, x1 * map.sx + map.tx];
      [v1, v2] = map.sy >= 0 ? [y1 * map.sy + map.ty, y2 * map.sy + map.ty] : [y2 * map.sy + map.ty, y1 * map.sy + map.ty];
    } else {
      const [a, b, c, d, e, f] = map.m;
      const xs = [a * x1 + b * y1 + c, a * x2 + b * y1 + c, a * x1 + b * y2 + c, a * x2 + b * y2 + c];
      const ys = [d * x1 + e * y1 + f, d * x2 + e * y1 + f, d * x1 + e * y2 + f, d * x2 + e * y2 + f];
      [u1, u2, v1, v2] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
    }
    u1 = Math.min(Math.max(u1, 0), W);
    u2 = Math.min(Math.max(u2, 0), W);
    v1 = Math.min(Math.max(v1, 0), H);
    v2 = Math.min(Math.max(v2, 0), H);
    const [bw, bh] = [u2 - u1, v2 - v1];
    if (!(bw >= MIN_SIDE && bh >= MIN_SIDE)) continue;
    if (bw * bh < MIN_AREA_KEPT * (x2 - x1) * (y2 - y1) * det) continue;
    if (Math.max(bw / bh, bh / bw) >= MAX_ASPECT) continue;
    ob.set([u1, v1, u2, v2], 4 * k);
    oc[k++] = classes[i]!;
  }
  return { boxes: ob.slice(0, 4 * k), classes: oc.slice(0, k) };
}

/** Moves a W × H mask with nearest-neighbour sampling at output pixel centres; outside the source is IGNORE. */
export function moveMask(mask: Uint8Array, W: number, H: number, map: GeoMap): Uint8Array {
  const out = new Uint8Array(map.w * map.h).fill(IGNORE);
  if (map.kind === 'axis') {
    const col = new Int32Array(map.w);
    for (let x = 0; x < map.w; x++) {
      const sx = Math.floor((x + 0.5 - map.tx) / map.sx);
      col[x] = sx >= 0 && sx < W ? sx : -1;
    }
    for (let y = 0; y < map.h; y++) {
      const sy = Math.floor((y + 0.5 - map.ty) / map.sy);
      if (sy < 0 || sy >= H) continue;
      const row = sy * W;
      for (let x = 0, o = y * map.w; x < map.w; x++, o++) if (col[x]! >= 0) out[o] = mask[row + col[x]!]!;
    }
    return out;
  }
  const [a, b, c, d, e, f] = invertAffine(map.m);
  for (let y = 0; y < map.h; y++) {
    for (let x = 0, o = y * map.w; x < map.w; x++, o++) {
      const sx = Math.floor(a * (x + 0.5) + b * (y + 0.5) + c);
      const sy = Math.floor(d * (x + 0.5) + e * (y + 0.5) + f);
      if (sx >= 0 && sy >= 0 && sx < W && sy < H) out[o] = mask[sy * W + sx]!;
    }
  }
  return out;
}

/** The targets of `s` moved by `map` (its image is the caller's to set). */
export function moveTargets(s: Sample, map: GeoMap): Omit<Sample, 'img'> {
  const { width: W, height: H } = s.img;
  const out: Omit<Sample, 'img'> = {};
  if (isIdentity(map, W, H)) {
    if (s.boxes) [out.boxes, out.classes] = [s.boxes, s.classes!];
    if (s.mask) out.mask = s.mask;
    if (s.geometry !== undefined) out.geometry = s.geometry;
    return out;
  }
  if (s.boxes) ({ boxes: out.boxes, classes: out.classes } = moveBoxes(s.boxes, s.classes!, map));
  if (s.mask) out.mask = moveMask(s.mask, W, H, map);
  if (s.geometry !== undefined) {
    const g = s.geometry;
    out.geometry =
      g && map.kind === 'axis'
        ? { size: g.size, scale: [g.scale[0] * map.sy, g.scale[1] * map.sx], pad: [g.pad[0] * map.sy + map.ty, g.pad[1] * map.sx + map.tx] }
        : null;
  }
  return out;
}

/** Applies a geometric step to a whole sample: the image by `apply`, the targets by `map` (null: nothing moved). */
export function moveSample(s: Sample, map: GeoMap | null, img: Img): Sample {
  return map === null ? { ...s, img } : { ...moveTargets(s, map), img };
}

/** A sample's boxes checked, or why they cannot be read. */
export function readBoxes(t: BoxTargets | undefined): BoxTargets | string {
  if (!t || !(t.boxes instanceof Float32Array) || !(t.classes instanceof Int32Array)) return 'boxes: no Float32Array boxes and Int32Array classes for this sample';
  if (t.boxes.length !== 4 * t.classes.length) return `boxes: ${t.boxes.length} values for ${t.classes.length} classes (4 per box)`;
  for (let i = 0; i < t.classes.length; i++) {
    const [x1, y1, x2, y2] = t.boxes.subarray(4 * i, 4 * i + 4);
    if (!(Number.isFinite(x1! + y1! + x2! + y2!) && x2! >= x1! && y2! >= y1!)) return `boxes: box ${i} is not x1 ≤ x2, y1 ≤ y2 in finite numbers (${[x1, y1, x2, y2].join(', ')})`;
  }
  return t;
}

/**
 * Boxes in a network input's pixels (4·n values, x1 y1 x2 y2) back in the original image's,
 * clipped to it: what prediction and validation report.
 *
 * @example
 * const g = batch.geometry![k];               // { size: [480, 640], scale: [1, 1], pad: [80, 0] } for letterbox 640
 * unletterboxBoxes([0, 80, 64, 144], g);     // Float32Array [0, 0, 64, 64]
 */
export function unletterboxBoxes(boxes: ArrayLike<number>, g: SampleGeometry): Float32Array {
  const out = new Float32Array(boxes.length);
  const [[sy, sx], [py, px], [h, w]] = [g.scale, g.pad, g.size];
  const clip = (v: number, hi: number): number => Math.min(Math.max(v, 0), hi);
  for (let i = 0; i + 3 < boxes.length; i += 4) {
    const [a, b] = [(boxes[i]! - px) / sx, (boxes[i + 2]! - px) / sx];
    const [c, d] = [(boxes[i + 1]! - py) / sy, (boxes[i + 3]! - py) / sy];
    out[i] = clip(Math.min(a, b), w);
    out[i + 1] = clip(Math.min(c, d), h);
    out[i + 2] = clip(Math.max(a, b), w);
    out[i + 3] = clip(Math.max(c, d), h);
  }
  return out;
}
