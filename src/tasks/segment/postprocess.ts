/**
 * From a network's logits to a mask in the original image's pixels, in plain JavaScript so the
 * libtorch and ONNX Runtime back ends (and val) share it and agree: the letterboxed region of the
 * logits is resized bilinearly to the original size (torch's interpolate with align_corners=False
 * after the crop, as mmsegmentation resizes logits before the argmax), then each pixel takes its
 * highest class (the lower index on a tie).
 */
import type { SampleGeometry } from '../../data/targets.js';

export interface PixelMask {
  /** Class per pixel, row-major, the original image's size. */
  mask: Uint8Array;
  width: number;
  height: number;
  /** Softmax probabilities [classes, height, width], when asked for. */
  probs?: Float32Array;
}

/** Source row/column pairs and weights of a bilinear resize (align_corners=False) from the region [lo, lo + n) onto `out` pixels. */
function taps(out: number, scale: number, pad: number, n: number): { i0: Int32Array; i1: Int32Array; f: Float32Array } {
  const [i0, i1, f] = [new Int32Array(out), new Int32Array(out), new Float32Array(out)];
  const lo = Math.round(pad);
  const last = Math.max(lo, Math.min(lo + Math.round(out * scale), n) - 1);
  for (let o = 0; o < out; o++) {
    const s = Math.min(Math.max((o + 0.5) * scale - 0.5 + lo, lo), last);
    const a = Math.floor(s);
    i0[o] = a;
    i1[o] = Math.min(a + 1, last);
    f[o] = s - a;
  }
  return { i0, i1, f };
}

/**
 * The mask of one image from its logits [classes, h, w] (a view into a batch's output) and the
 * geometry that made its input; `probs` adds the per-pixel softmax.
 *
 * @example
 * const { mask } = maskFromLogits(out.subarray(b * C * h * w, (b + 1) * C * h * w), C, [h, w], batch.geometry![b]!);
 */
export function maskFromLogits(logits: Float32Array, classes: number, [h, w]: readonly [number, number], g: SampleGeometry, o: { probs?: boolean } = {}): PixelMask {
  const [H, W] = g.size;
  const ys = taps(H, g.scale[0], g.pad[0], h);
  const xs = taps(W, g.scale[1], g.pad[1], w);
  const plane = h * w;
  const mask = new Uint8Array(H * W);
  const probs = o.probs ? new Float32Array(classes * H * W) : undefined;
  const v = new Float64Array(classes);
  for (let y = 0; y < H; y++) {
    const [r0, r1, fy] = [ys.i0[y]! * w, ys.i1[y]! * w, ys.f[y]!];
    for (let x = 0; x < W; x++) {
      const [c0, c1, fx] = [xs.i0[x]!, xs.i1[x]!, xs.f[x]!];
      let best = 0;
      for (let k = 0; k < classes; k++) {
        const at = k * plane;
        const top = logits[at + r0 + c0]! * (1 - fx) + logits[at + r0 + c1]! * fx;
        const bottom = logits[at + r1 + c0]! * (1 - fx) + logits[at + r1 + c1]! * fx;
        v[k] = top * (1 - fy) + bottom * fy;
        if (v[k]! > v[best]!) best = k;
      }
      mask[y * W + x] = best;
      if (probs) {
        let sum = 0;
        for (let k = 0; k < classes; k++) sum += Math.exp(v[k]! - v[best]!);
        for (let k = 0; k < classes; k++) probs[k * H * W + y * W + x] = Math.exp(v[k]! - v[best]!) / sum;
      }
    }
  }
  return { mask, width: W, height: H, ...(probs ? { probs } : {}) };
}

/** Each class's share of the mask's pixels, rounded to 6 digits. */
function shareValues(mask: Uint8Array, classes: number): number[] {
  const counts = new Float64Array(classes);
  for (const v of mask) counts[v]!++;
  return Array.from(counts, (c) => Number((c / Math.max(mask.length, 1)).toFixed(6)));
}

/** Each class's share of the mask's pixels (rounded to 6 digits), every class named. */
export function classShares(mask: Uint8Array, names: readonly string[]): Record<string, number> {
  const v = shareValues(mask, names.length);
  return Object.fromEntries(names.map((n, k) => [n, v[k]!]));
}

/** One class's share of a mask, as `/v1/predict` answers it. */
export interface ClassShare {
  label: string;
  class: number;
  share: number;
}

/**
 * Every class's share of the mask's pixels (the values of classShares), largest first, the lower
 * class first on a tie: the server's answer and the predict page's legend.
 *
 * @example
 * sharesOf(Uint8Array.of(0, 1, 1, 1), ['background', 'cell']);
 * // [{ label: 'cell', class: 1, share: 0.75 }, { label: 'background', class: 0, share: 0.25 }]
 */
export function sharesOf(mask: Uint8Array, names: readonly string[]): ClassShare[] {
  return shareValues(mask, names.length).map((share, k) => ({ label: names[k]!, class: k, share })).sort((a, b) => b.share - a.share || a.class - b.class);
}
