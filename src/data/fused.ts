/**
 * The common end of a transform pipeline run as one pass. A trailing
 * `[resize [+ centerCrop] | centerCrop | randomResizedCrop] [+ hflip] + normalize|toTensor` (the
 * eval preset, the light train preset, torchvision's classic RandomResizedCrop + flip) becomes a
 * single antialiased resampling pass that writes normalized CHW floats straight into the batch
 * buffer, instead of four full-size intermediate images. It draws the same random numbers as
 * applying the transforms one by one, and gives the same floats: exactly in the JS pass, to float32
 * rounding (≤ 2e-5 after normalization) where 8-bit RGB images take the WebAssembly pass
 * (resample-wasm.ts, ~3× faster).
 */
import { resampleInto, resizeTarget, type Window } from './geometry.js';
import { pair, roundHalfEven, type Img } from './pixels.js';
import { resampleRgbWasm } from './resample-wasm.js';
import type { Rng } from './rng.js';
import { rrcParams } from './geometric.js';
import type { AxisMap } from './targets.js';
import type { TransformSpec } from './transforms.js';

type Spec<K extends TransformSpec['op']> = Extract<TransformSpec, { op: K }>;

/** The fused end of a pipeline. */
export interface FusedTail {
  resize?: Spec<'resize'>;
  centerCrop?: Spec<'centerCrop'>;
  rrc?: Spec<'randomResizedCrop'>;
  /** hflip's probability, when the tail flips. */
  flip?: number;
  /** Per-channel v·scale − shift on the 0–255 values (normalize, or toTensor's 1/255). */
  mean: readonly number[];
  std: readonly number[];
}

/** A pipeline split into the transforms run one by one and the fused tail (null: nothing fuses). */
export interface Plan {
  head: TransformSpec[];
  tail: FusedTail | null;
}

/**
 * Splits `specs` into a head and a fusable tail. A pipeline with no toTensor/normalize ends with
 * an implied toTensor, so it fuses too.
 */
export function planTransforms(specs: readonly TransformSpec[]): Plan {
  let end = specs.length;
  const last = specs[end - 1];
  let tail: FusedTail;
  if (last?.op === 'normalize') {
    if (specs.some((t, i) => i < end - 1 && (t.op === 'toTensor' || t.op === 'normalize'))) return { head: [...specs], tail: null };
    tail = { mean: last.mean, std: last.std };
    end--;
  } else if (last?.op === 'toTensor' || last === undefined || !specs.some((t) => t.op === 'toTensor' || t.op === 'normalize')) {
    if (last?.op === 'toTensor') end--;
    if (specs.slice(0, end).some((t) => t.op === 'toTensor' || t.op === 'normalize')) return { head: [...specs], tail: null };
    tail = { mean: [0], std: [1] };
  } else {
    return { head: [...specs], tail: null };
  }
  const at = (i: number): TransformSpec | undefined => (i >= 0 ? specs[i] : undefined);
  const flip = at(end - 1);
  if (flip?.op === 'hflip') {
    tail.flip = flip.p ?? 0.5;
    end--;
  }
  const g = at(end - 1);
  // PIL's fixed-point resize is a step of its own (resample-pil.ts): it needs its 8-bit result whole.
  const fusable = (r: TransformSpec | undefined): r is Spec<'resize'> => r?.op === 'resize' && r.rounding === undefined;
  if (g?.op === 'randomResizedCrop') {
    tail.rrc = g;
    end--;
  } else if (g?.op === 'centerCrop') {
    tail.centerCrop = g;
    end--;
    const r = at(end - 1);
    if (fusable(r)) {
      tail.resize = r;
      end--;
    }
  } else if (fusable(g)) {
    tail.resize = g;
    end--;
  }
  return { head: specs.slice(0, end), tail };
}

/** One sample through the tail: its CHW shape and the pass that writes it at `data[offset]`. */
export interface FusedSample {
  shape: [number, number, number];
  write(data: Float32Array, offset: number): void;
  /** How the pass moves coordinates, for the sample's targets. */
  map: AxisMap;
}

/** A crop of an image and the size it is resampled to. */
export interface Crop {
  left: number;
  top: number;
  w: number;
  h: number;
  outW: number;
  outH: number;
}

/** A sample's draw for the tail: the resampled region of the image, its output size, the window kept, and the flip. */
export interface TailDraw extends Crop {
  win: Window;
  flip: boolean;
}

/**
 * Draws one sample's random parameters for the tail from `rng`, from the image's size alone (so a
 * decoder can be asked for just the region); null (with nothing drawn) when the tail cannot run
 * fused for this image (a centre crop larger than the image, which pads).
 */
export function drawTail(tail: FusedTail, width: number, height: number, rng: Rng): TailDraw | null {
  let [left, top, w, h] = [0, 0, width, height];
  let [outW, outH] = [w, h];
  if (tail.rrc) {
    const [th, tw] = pair(tail.rrc.size);
    [top, left, h, w] = rrcParams(width, height, tail.rrc.scale ?? [0.08, 1], tail.rrc.ratio ?? [3 / 4, 4 / 3], rng);
    [outW, outH] = [tw, th];
  } else if (tail.resize) {
    [outH, outW] = resizeTarget(w, h, tail.resize.size, tail.resize.maxSize);
  }
  const win: Window = { x0: 0, y0: 0, ow: outW, oh: outH };
  if (tail.centerCrop) {
    const [ch, cw] = pair(tail.centerCrop.size);
    const [y0, x0] = [roundHalfEven((outH - ch) / 2), roundHalfEven((outW - cw) / 2)];
    if (y0 < 0 || x0 < 0) return null;
    Object.assign(win, { x0, y0, ow: cw, oh: ch });
  }
  const flip = tail.flip !== undefined && rng.chance(tail.flip);
  return { left, top, w, h, outW, outH, win, flip };
}

/**
 * Prepares one sample for the fused pass, drawing its random parameters from `rng`; null (with
 * nothing drawn) when the tail cannot run fused for this image, so the caller applies the
 * transforms one by one instead.
 */
export function fusedSample(tail: FusedTail, img: Img, rng: Rng): FusedSample | null {
  if (img.layout === 'chw') return null;
  const d = drawTail(tail, img.width, img.height, rng);
  return d && fusedWrite(tail, img, d);
}

/**
 * The fused pass for a drawn sample. `img` may be a part of the image whose top-left pixel is
 * `origin` ([x, y]) in it, as long as it holds the drawn region.
 */
export function fusedWrite(tail: FusedTail, img: Img, d: TailDraw, origin: [number, number] = [0, 0]): FusedSample {
  const C = img.channels;
  const { left, top, w, h, outW, outH, win, flip } = d;
  const { mean, std } = tail;
  const scale = Array.from({ length: C }, (_, c) => 1 / (255 * std[c % std.length]!));
  const shift = Array.from({ length: C }, (_, c) => mean[c % mean.length]! / std[c % std.length]!);
  const plane = win.ow * win.oh;
  const [sx, sy] = [outW / w, outH / h];
  const [tx, ty] = [-left * sx - win.x0, -top * sy - win.y0];
  const [x, y] = [left - origin[0], top - origin[1]];
  return {
    shape: [C, win.oh, win.ow],
    map: flip ? { kind: 'axis', sx: -sx, sy, tx: win.ow - tx, ty, w: win.ow, h: win.oh } : { kind: 'axis', sx, sy, tx, ty, w: win.ow, h: win.oh },
    write: (data, offset) => {
      const t = { data, base: offset, cs: plane, ys: win.ow, xs: 1, flip, scale, shift };
      const interpolation = tail.resize?.interpolation ?? 'bilinear';
      if (!resampleRgbWasm(img, x, y, w, h, outW, outH, win, t, interpolation)) resampleInto(img, x, y, w, h, outW, outH, win, t, interpolation);
    },
  };
}
