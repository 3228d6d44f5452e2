// Interleaved Kestrel vs PyTorch runs (A B A B …) of the smallcnn training step, same machine,
// same threads; prints medians and the ratio (> 1: Kestrel is faster).
// Usage: node bench/smallcnn.mjs [reps=3] [threads=2] [steps=200]   (after npm run build)
import { execFileSync } from 'node:child_process';

const [reps = 3, threads = 2, steps = 200] = process.argv.slice(2).map(Number);
const run = (cmd, args) => JSON.parse(execFileSync(cmd, args, { encoding: 'utf8' }).trim().split('\n').pop()).imgPerSec;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const k = [];
const p = [];
for (let i = 0; i < reps; i++) {
  k.push(run(process.execPath, ['dist/bench/smallcnn-train.js', String(threads), String(steps)]));
  p.push(run('/usr/bin/python3', ['bench/smallcnn_train.py', String(threads), String(steps)]));
  console.log(`rep ${i + 1}: kestrel ${k[i].toFixed(0)} img/s · pytorch ${p[i].toFixed(0)} img/s`);
}
const [km, pm] = [median(k), median(p)];
console.log(`smallcnn train, batch 64, ${threads} threads: kestrel ${km.toFixed(0)} img/s, pytorch ${pm.toFixed(0)} img/s, ratio ${(km / pm).toFixed(3)}`);
