/**
 * Synthetic segmentation sets in the data.yaml mask layout (images/<split>/, masks/<split>/,
 * data.yaml last, so an interrupted run leaves no usable-looking set):
 * - `digits`: synthDetect's canvases (MNIST ink on textures) with the ink as the mask, class =
 *   digit + 1, background 0, and a 1-pixel ring of 255 (ignore) around the ink, where the faint
 *   anti-aliased edge makes the true class a matter of taste;
 * - `cells`: grey "microscopy" frames of three kinds of object — round nuclei, elongated cells
 *   with a bright rim, and bright granular dividing cells (two lobes) — that touch and overlap in
 *   clusters, on uneven illumination with dim debris, blurred, with shot and read noise. One
 *   channel, 8-bit or 16-bit.
 * Seeded: the same options give the same bytes.
 *
 * @example
 * await synthSegment({ out: 'cells', kind: 'cells', train: 400, val: 100, seed: 0 });
 * // kestrel train --task segment --data cells/data.yaml
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { writeFileAtomic } from '../checkpoint/atomic.js';
import { encodePng } from './png.js';
import { Rng } from './rng.js';
import { loadDigits, makeCanvas, type SynthOptions } from './synth.js';
import { IGNORE } from './targets.js';

export interface SynthSegmentOptions extends SynthOptions {
  kind: 'digits' | 'cells';
  /** cells only: bits per sample of the images (default 8). */
  depth?: 8 | 16;
}

export const DIGIT_SEGMENT_CLASSES = ['background', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
export const CELL_CLASSES = ['background', 'nucleus', 'elongated', 'dividing'];

/** Background pixels touching ink (8-neighbourhood) become IGNORE. */
export function ringIgnore(mask: Uint8Array, w: number, h: number): Uint8Array {
  const out = mask.slice();
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (mask[y * w + x] !== 0) continue;
      let touches = false;
      for (let dy = -1; dy <= 1 && !touches; dy++) {
        for (let dx = -1; dx <= 1 && !touches; dx++) {
          const [u, v] = [x + dx, y + dy];
          touches = u >= 0 && v >= 0 && u < w && v < h && mask[v * w + u]! > 0 && mask[v * w + u]! !== IGNORE;
        }
      }
      if (touches) out[y * w + x] = IGNORE;
    }
  }
  return out;
}

/** Separable Gaussian blur of a w×h float image (edges clamped). */
function blur(img: Float32Array, w: number, h: number, sigma: number): Float32Array {
  const r = Math.ceil(3 * sigma);
  const k = Array.from({ length: 2 * r + 1 }, (_, i) => Math.exp(-((i - r) ** 2) / (2 * sigma * sigma)));
  const sum = k.reduce((a, b) => a + b, 0);
  const pass = (src: Float32Array, horizontal: boolean): Float32Array => {
    const out = new Float32Array(src.length);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let v = 0;
        for (let i = -r; i <= r; i++) {
          const [u, t] = horizontal ? [Math.min(w - 1, Math.max(0, x + i)), y] : [x, Math.min(h - 1, Math.max(0, y + i))];
          v += src[t * w + u]! * k[i + r]!;
        }
        out[y * w + x] = v / sum;
      }
    }
    return out;
  };
  return pass(pass(img, true), false);
}

interface Blob {
  cls: number;
  cx: number;
  cy: number;
  /** Semi-axes and rotation of the body; dividing cells are two lobes along the axis. */
  a: number;
  b: number;
  angle: number;
  level: number;
  /** Boundary wobble: amplitude and phase of a 3-lobed and a 5-lobed term. */
  wobble: [number, number, number];
}

function drawBlob(rng: Rng, s: number, near: Blob | null): Blob {
  const cls = rng.int(1, 4);
  const [a, b, level] =
    cls === 1 ? [rng.uniform(5, 9), 0, rng.uniform(0.5, 0.7)]
    : cls === 2 ? [rng.uniform(10, 17), rng.uniform(3.5, 6), rng.uniform(0.3, 0.45)]
    : [rng.uniform(4, 6), 0, rng.uniform(0.8, 0.95)];
  const blob: Blob = { cls, cx: 0, cy: 0, a, b: b || a * rng.uniform(0.8, 1), angle: rng.uniform(0, Math.PI), level, wobble: [rng.uniform(0, 0.12), rng.uniform(0, 6.3), rng.uniform(0, 6.3)] };
  if (near) {
    // Touching: centres about the sum of the two sizes apart, so the bodies meet or overlap a little.
    const d = (Math.max(near.a, near.b) + Math.max(blob.a, blob.b)) * rng.uniform(0.75, 1.0);
    const t = rng.uniform(0, 2 * Math.PI);
    // Kept on the canvas, or a cluster at the edge would lose half its members.
    const clamp = (v: number): number => Math.min(s - 4, Math.max(4, v));
    [blob.cx, blob.cy] = [clamp(near.cx + d * Math.cos(t)), clamp(near.cy + d * Math.sin(t))];
  } else {
    [blob.cx, blob.cy] = [rng.uniform(0, s), rng.uniform(0, s)];
  }
  return blob;
}

/** How far inside the blob a point is: ≤ 1 inside, scaled so that 1 is the boundary. */
function inside(b: Blob, x: number, y: number): number {
  const [dx, dy] = [x - b.cx, y - b.cy];
  const [c, sn] = [Math.cos(b.angle), Math.sin(b.angle)];
  const along = dx * c + dy * sn;
  const v = -dx * sn + dy * c;
  const u = b.cls === 3 ? Math.abs(along) - b.a * 0.65 : along; // dividing: two lobes 1.3 radii apart
  const theta = Math.atan2(v, u);
  const wob = 1 + b.wobble[0] * (Math.sin(3 * theta + b.wobble[1]) + 0.5 * Math.sin(5 * theta + b.wobble[2]));
  return Math.hypot(u / b.a, v / b.b) / wob;
}

/** One grey cells frame (values 0–1) and its mask. */
export function cellsCanvas(s: number, rng: Rng): { grey: Float32Array; mask: Uint8Array } {
  const grey = new Float32Array(s * s);
  const mask = new Uint8Array(s * s);
  const [base, gx, gy] = [rng.uniform(0.06, 0.18), rng.uniform(-0.06, 0.06), rng.uniform(-0.06, 0.06)];
  for (let y = 0; y < s; y++) for (let x = 0; x < s; x++) grey[y * s + x] = base + (gx * (x - s / 2) + gy * (y - s / 2)) / s;
  // Debris: dim specks that are not cells (background in the mask).
  for (let k = rng.int(3, 15); k > 0; k--) {
    const [cx, cy, r, v] = [rng.uniform(0, s), rng.uniform(0, s), rng.uniform(1, 2.5), rng.uniform(0.05, 0.15)];
    for (let y = Math.max(0, Math.floor(cy - r)); y < Math.min(s, cy + r); y++) for (let x = Math.max(0, Math.floor(cx - r)); x < Math.min(s, cx + r); x++) if (Math.hypot(x + 0.5 - cx, y + 0.5 - cy) < r) grey[y * s + x]! += v;
  }
  const blobs: Blob[] = [];
  for (let k = rng.int(5, 17); k > 0; k--) {
    const near = blobs.length > 0 && rng.chance(0.5) ? blobs[rng.int(0, blobs.length)]! : null;
    const b = drawBlob(rng, s, near);
    blobs.push(b);
    const r = 1.5 * Math.max(b.a, b.b) + 2;
    const grain = rng.uniform(0.03, 0.08);
    for (let y = Math.max(0, Math.floor(b.cy - r)); y < Math.min(s, b.cy + r); y++) {
      for (let x = Math.max(0, Math.floor(b.cx - r)); x < Math.min(s, b.cx + r); x++) {
        const d = inside(b, x + 0.5, y + 0.5);
        if (d > 1) continue;
        const p = y * s + x;
        // Nuclei brighten toward the centre, elongated cells have a bright rim, dividing cells are speckled.
        const shape = b.cls === 1 ? 1 - 0.25 * d * d : b.cls === 2 ? 0.75 + 0.45 * d ** 4 : 1 - (rng.chance(0.3) ? 0.3 : 0);
        grey[p] = b.level * shape + (rng.next() - 0.5) * grain;
        mask[p] = b.cls;
      }
    }
  }
  const blurred = blur(grey, s, s, rng.uniform(0.7, 1.5));
  const read = rng.uniform(0.005, 0.025);
  const shot = rng.uniform(0.01, 0.04);
  for (let i = 0; i < blurred.length; i++) {
    const v = Math.max(0, blurred[i]!);
    blurred[i] = Math.min(1, Math.max(0, v + rng.normal() * (read + shot * Math.sqrt(v))));
  }
  return { grey: blurred, mask };
}

/** Writes a data.yaml-layout segmentation set; returns the data.yaml path. */
export async function synthSegment(o: SynthSegmentOptions): Promise<string> {
  const s = o.imgsz ?? 128;
  const counts = { train: o.train ?? 400, val: o.val ?? 100 };
  for (const split of ['train', 'val'] as const) {
    const rng = new Rng((o.seed ?? 0) * 2 + (split === 'train' ? 0 : 1));
    const digits = o.kind === 'digits' ? loadDigits(split === 'train' ? 'train' : 'test') : null;
    for (const dir of ['images', 'masks']) mkdirSync(join(o.out, dir, split), { recursive: true });
    for (let i = 0; i < counts[split]; i++) {
      const name = `${String(i).padStart(6, '0')}.png`;
      let image: Buffer;
      let mask: Uint8Array;
      if (digits) {
        const c = makeCanvas(digits, s, rng, o.count ?? [1, 6], o.size ?? [14, 48]);
        image = await sharp(Buffer.from(c.rgb.buffer, c.rgb.byteOffset, c.rgb.byteLength), { raw: { width: s, height: s, channels: 3 } }).png().toBuffer();
        mask = ringIgnore(c.mask, s, s);
      } else {
        const c = cellsCanvas(s, rng);
        const max = o.depth === 16 ? 65535 : 255;
        const data = o.depth === 16 ? Uint16Array.from(c.grey, (v) => Math.round(v * max)) : Uint8Array.from(c.grey, (v) => Math.round(v * max));
        image = encodePng({ width: s, height: s, data });
        mask = c.mask;
      }
      writeFileAtomic(join(o.out, 'images', split, name), [image]);
      writeFileAtomic(join(o.out, 'masks', split, name), [encodePng({ width: s, height: s, data: mask })]);
    }
  }
  const classes = o.kind === 'digits' ? DIGIT_SEGMENT_CLASSES : CELL_CLASSES;
  const what = o.kind === 'digits' ? 'MNIST digits on textured backgrounds, ink masks with a 1-pixel ignore ring' : `grey ${o.depth ?? 8}-bit microscopy-like cells`;
  const yaml = join(o.out, 'data.yaml');
  writeFileAtomic(yaml, [Buffer.from(`# kestrel data synth --task segment --kind ${o.kind}: ${what}\n# a mask pixel is its class index; 255 = ignore\ntrain: images/train\nval: images/val\nmasks: masks\nnames: [${classes.map((c) => `'${c}'`).join(', ')}]\n`)]);
  return yaml;
}
