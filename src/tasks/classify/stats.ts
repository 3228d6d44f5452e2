import type { ClassifyData } from '../../data/sources.js';

const IMAGENET = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

/**
 * Per-channel mean and std (0–1 scale) for normalisation: measured on the training images of an
 * in-memory set (MNIST-like), ImageNet's for RGB files (what pretrained backbones expect).
 */
export function channelStats(data: ClassifyData, channels: 1 | 3): { mean: number[]; std: number[] } {
  const src = data.splits.train;
  if (src.kind !== 'memory') return channels === 3 ? IMAGENET : { mean: [0.5], std: [0.25] };
  const c = src.channels;
  const sum = new Float64Array(c);
  const sq = new Float64Array(c);
  const px = src.images;
  for (let i = 0; i < px.length; i++) {
    const v = px[i]! / 255;
    sum[i % c] += v;
    sq[i % c] += v * v;
  }
  const n = px.length / c;
  const mean = Array.from(sum, (s) => s / n);
  const std = Array.from(sq, (s, i) => Math.sqrt(Math.max(s / n - mean[i]! ** 2, 1e-12)));
  if (channels === c) return { mean: mean.map(round), std: std.map(round) };
  // The loader converts gray↔RGB: repeat or average the measured values.
  return channels === 3 ? { mean: Array(3).fill(round(mean[0]!)), std: Array(3).fill(round(std[0]!)) } : { mean: [round(avg(mean))], std: [round(avg(std))] };
}

const avg = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const round = (v: number): number => Number(v.toFixed(4));
