// FLOP counts and the CPU's peak, for the GFLOP/s rows of bench/run.mjs.
//
// Convention: one multiply-add is 2 FLOPs; only convolutions and linear layers count (batch norm,
// ReLU, pooling and residual adds are under 1 % of resnet18's work); a training step counts 3× the
// forward pass (the backward pass computes gradients for the inputs and for the weights, each about
// one forward's work).
import { readFileSync } from 'node:fs';

const outSize = (h, k, stride, pad) => Math.floor((h + 2 * pad - k) / stride) + 1;

/** Multiply-adds of one forward pass of torchvision's resnet18 on one `cin`×`img`×`img` image. */
export function resnet18Macs(img, cin = 3, classes = 1000) {
  const conv = (inC, outC, k, h) => inC * outC * k * k * h * h;
  let h = outSize(img, 7, 2, 3);
  let macs = conv(cin, 64, 7, h);
  h = outSize(h, 3, 2, 1); // max pool
  let c = 64;
  for (const [planes, stride] of [[64, 1], [128, 2], [256, 2], [512, 2]]) {
    for (let b = 0; b < 2; b++) {
      const s = b === 0 ? stride : 1;
      const h2 = outSize(h, 3, s, 1);
      macs += conv(c, planes, 3, h2) + conv(planes, planes, 3, h2);
      if (s !== 1 || c !== planes) macs += conv(c, planes, 1, h2); // downsample shortcut
      [c, h] = [planes, h2];
    }
  }
  return macs + 512 * classes;
}

/**
 * Peak fp32 GFLOP/s of `cores` cores: cores × clock × FLOPs per cycle per core, from
 * /proc/cpuinfo. FLOPs per cycle: 2 FMA units × 8 fp32 lanes × 2 = 32 with AVX2+FMA (AMD Zen 4
 * executes AVX-512 as two 256-bit halves, so also 32), 64 on Intel with AVX-512 (two 512-bit FMA
 * units; some parts have one), 16 with AVX alone, 8 with SSE. The clock is the highest `cpu MHz`
 * listed: under a hypervisor that is the nominal clock, so boost clocks are not counted.
 */
export function cpuPeak(cores) {
  const info = readFileSync('/proc/cpuinfo', 'utf8');
  const field = (name) => [...info.matchAll(new RegExp(`^${name}\\s*:\\s*(.*)$`, 'gm'))].map((m) => m[1].trim());
  const flags = new Set((field('flags')[0] ?? '').split(/\s+/));
  const mhz = Math.max(...field('cpu MHz').map(Number).filter((x) => x > 0));
  const intel = field('vendor_id')[0] === 'GenuineIntel';
  const [isa, perCycle] = intel && flags.has('avx512f') ? ['AVX-512', 64]
    : flags.has('avx2') && flags.has('fma') ? ['AVX2+FMA', 32]
      : flags.has('avx') ? ['AVX', 16] : ['SSE', 8];
  if (!Number.isFinite(mhz)) return null;
  const gflops = (cores * mhz * perCycle) / 1000;
  return { gflops, cores, ghz: mhz / 1000, perCycle, isa, how: `${cores} core${cores > 1 ? 's' : ''} × ${(mhz / 1000).toFixed(2)} GHz (cpu MHz in /proc/cpuinfo; boost clocks not counted) × ${perCycle} fp32 FLOP/cycle (${isa}: FMA units × lanes × 2) = ${gflops.toFixed(1)} GFLOP/s` };
}
