/**
 * Ultralytics' 4-image mosaic: four samples, each scaled so it fits `size`, placed around a random
 * centre of a 2·size canvas (the first top-left, then top-right, bottom-left, bottom-right, meeting
 * at the centre); the middle `size` of the canvas is kept, as Ultralytics' RandomPerspective border
 * crop does, or with `crop: false` the whole canvas, for a randomAffine onto `size` that frames it
 * (Ultralytics' order: a zoom out then shows more of the canvas rather than padding around the
 * middle). Boxes and masks move with their tiles.
 */
import { geometricStep } from './geometric.js';
import { resample } from './geometry.js';
import { pair, requireHwc, type Img } from './pixels.js';
import type { Rng } from './rng.js';
import { IGNORE, moveSample, moveTargets, type AxisMap, type Sample } from './targets.js';
import type { TransformSpec } from './transforms.js';

export type MosaicSpec = Extract<TransformSpec, { op: 'mosaic' }>;

/** Pixels outside every tile (Ultralytics' grey). */
const FILL = 114;

/** Whether the mosaic happens, and where its four tiles meet on the 2·size canvas. */
export interface MosaicDraw {
  apply: boolean;
  xc: number;
  yc: number;
}

/** Draws a mosaic's centre (after its probability); the caller then draws the three other samples from the same Rng. */
export function drawMosaic(spec: MosaicSpec, rng: Rng): MosaicDraw {
  if (!rng.chance(spec.p ?? 1)) return { apply: false, xc: 0, yc: 0 };
  const [H, W] = pair(spec.size);
  const xc = Math.trunc(rng.uniform(Math.floor(W / 2), 2 * W - Math.floor(W / 2)));
  const yc = Math.trunc(rng.uniform(Math.floor(H / 2), 2 * H - Math.floor(H / 2)));
  return { apply: true, xc, yc };
}

/** Copies `tile` into the W × H × C canvas with its top-left corner at (dx, dy), clipped. */
function paste(out: Float32Array, W: number, H: number, C: number, tile: Img, dx: number, dy: number): void {
  const [x0, x1] = [Math.max(0, dx), Math.min(W, dx + tile.width)];
  if (x1 <= x0) return;
  for (let y = Math.max(0, dy); y < Math.min(H, dy + tile.height); y++) {
    const from = ((y - dy) * tile.width + (x0 - dx)) * C;
    out.set(tile.data.subarray(from, from + (x1 - x0) * C), (y * W + x0) * C);
  }
}

/**
 * The mosaic of `tiles` (the sample first, then its three partners), or with `draw.apply` false
 * the sample alone letterboxed to `size`.
 */
export function mosaic(spec: MosaicSpec, tiles: readonly Sample[], draw: MosaicDraw, rng: Rng): Sample {
  const main = tiles[0]!;
  if (!draw.apply) {
    const step = geometricStep(main.img, { op: 'letterbox', size: spec.size, fill: FILL }, rng)!;
    return moveSample(main, step.map, step.apply(main.img));
  }
  const [H0, W0] = pair(spec.size);
  const crop = spec.crop ?? true;
  const [W, H] = crop ? [W0, H0] : [2 * W0, 2 * H0];
  const [ox, oy] = crop ? [Math.floor(W0 / 2), Math.floor(H0 / 2)] : [0, 0];
  const C = main.img.channels;
  const data = new Float32Array(W * H * C).fill(FILL);
  const moved = tiles.map((t, i) => {
    requireHwc(t.img, 'mosaic');
    const { width: w0, height: h0 } = t.img;
    const r = Math.min(H0 / h0, W0 / w0);
    const [w, h] = [Math.min(Math.ceil(w0 * r), W0), Math.min(Math.ceil(h0 * r), H0)];
    const dx = (i % 2 === 0 ? draw.xc - w : draw.xc) - ox;
    const dy = (i < 2 ? draw.yc - h : draw.yc) - oy;
    paste(data, W, H, C, w === w0 && h === h0 ? t.img : resample(t.img, 0, 0, w0, h0, w, h), dx, dy);
    const map: AxisMap = { kind: 'axis', sx: w / w0, sy: h / h0, tx: dx, ty: dy, w: W, h: H };
    return moveTargets(t, map);
  });
  const out: Sample = { img: { data, width: W, height: H, channels: C } };
  if (main.boxes) {
    out.boxes = Float32Array.from(moved.flatMap((m) => Array.from(m.boxes ?? [])));
    out.classes = Int32Array.from(moved.flatMap((m) => Array.from(m.classes ?? [])));
  }
  if (main.mask) {
    // Tiles never overlap and each moved mask is IGNORE outside its tile, so the minimum is the mosaic.
    const mask = new Uint8Array(W * H).fill(IGNORE);
    for (const m of moved) if (m.mask) for (let k = 0; k < mask.length; k++) if (m.mask[k]! < mask[k]!) mask[k] = m.mask[k]!;
    out.mask = mask;
  }
  if (main.geometry !== undefined) out.geometry = null;
  return out;
}
