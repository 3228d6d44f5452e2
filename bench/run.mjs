// Training benchmark harness: Kestrel (dist/bench/train.js) beside PyTorch (bench/train.py) for each
// case, same architecture, batch, input size, optimizer and threads; after each side's warm-up
// steps, runs are interleaved A B A B … `reps` times and the medians compared (ratio
// kestrel/pytorch in img/s, so > 1 means Kestrel is faster).
//
//   npm run bench -- [--json] [--case NAME] [--reps N] [--steps N] [--threads N]
//
// Prints a Markdown table (or, with --json, one JSON object per case per line) and writes
// bench/results/<YYYY-MM-DD>.json and .md. Needs Debian's /usr/bin/python3 with python3-torch and
// python3-torchvision (installed with apt-get when missing and running as root).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PYTHON = '/usr/bin/python3';
const KESTREL_SCRIPT = path.join(ROOT, 'dist/bench/train.js');
const PYTORCH_SCRIPT = path.join(ROOT, 'bench/train.py');

/**
 * Full training steps on synthetic inputs. `steps` and `warmup` are the defaults per case, sized
 * so that one run takes roughly 5–20 s on 2 cores; --steps overrides `steps` for every case.
 */
const CASES = [
  { name: 'smallcnn', model: 'smallcnn', channels: 1, img: 28, batch: 64, opt: 'adam', steps: 100, warmup: 10 },
  { name: 'resnet18', model: 'resnet18', channels: 3, img: 32, batch: 64, opt: 'sgd', steps: 30, warmup: 3 },
  { name: 'mobilenet_v2', model: 'mobilenet_v2', channels: 3, img: 96, batch: 32, opt: 'adamw', steps: 20, warmup: 3 },
  { name: 'vit_tiny', model: 'vit_tiny', channels: 3, img: 32, patch: 4, batch: 64, opt: 'adamw', steps: 8, warmup: 2 },
];
const OPT_LABEL = { adam: 'Adam', adamw: 'AdamW', sgd: 'SGD m0.9' };

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    case: { type: 'string', multiple: true },
    reps: { type: 'string', default: '3' },
    steps: { type: 'string' },
    threads: { type: 'string', default: '2' },
  },
});
const posInt = (name, v) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`bench: --${name} must be a positive integer, got ${v}`);
    process.exit(2);
  }
  return n;
};
const reps = posInt('reps', values.reps);
const threads = posInt('threads', values.threads);
const stepsOverride = values.steps === undefined ? undefined : posInt('steps', values.steps);
const wanted = (values.case ?? []).flatMap((c) => c.split(',')).filter(Boolean);
for (const w of wanted) {
  if (!CASES.some((c) => c.name === w)) {
    console.error(`bench: unknown case '${w}'; known cases: ${CASES.map((c) => c.name).join(', ')}`);
    process.exit(2);
  }
}
const cases = wanted.length ? CASES.filter((c) => wanted.includes(c.name)) : CASES;
const log = (msg) => console.error(msg); // progress on stderr; results on stdout

function ensurePytorch() {
  const check = () => spawnSync(PYTHON, ['-c', 'import torch, torchvision'], { stdio: 'ignore' }).status === 0;
  if (check()) return;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot) {
    console.error(`bench: ${PYTHON} cannot import torch/torchvision; install them with: sudo apt-get install -y python3-torch python3-torchvision`);
    process.exit(1);
  }
  for (const args of [['update'], ['install', '-y', '--no-install-recommends', 'python3-torch', 'python3-torchvision']]) {
    log(`bench: running apt-get ${args.join(' ')}`);
    const r = spawnSync('apt-get', args, { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (r.status !== 0) {
      console.error(`bench: apt-get ${args.join(' ')} failed (exit ${r.status})`);
      process.exit(1);
    }
  }
  if (!check()) {
    console.error(`bench: ${PYTHON} still cannot import torch/torchvision after apt-get install`);
    process.exit(1);
  }
}

function childArgs(c) {
  const a = ['--model', c.model, '--batch', c.batch, '--channels', c.channels, '--img', c.img, '--opt', c.opt,
    '--threads', threads, '--steps', stepsOverride ?? c.steps, '--warmup', c.warmup];
  if (c.patch !== undefined) a.push('--patch', c.patch);
  return a.map(String);
}

function runChild(cmd, args) {
  let out;
  try {
    out = execFileSync(cmd, args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 16 << 20 });
  } catch (e) {
    throw new Error(`${path.basename(cmd)} ${args.join(' ')} failed: ${e.message}`);
  }
  const last = out.trim().split('\n').pop() ?? '';
  const v = JSON.parse(last).imgPerSec;
  if (!(typeof v === 'number' && v > 0)) throw new Error(`unexpected output from ${path.basename(cmd)}: ${last}`);
  return v;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const round = (x, d) => Number(x.toFixed(d));

ensurePytorch();
const torchVersion = execFileSync(PYTHON, ['-c', 'import torch, torchvision; print(torch.__version__, torchvision.__version__)'], { encoding: 'utf8' }).trim().split(' ');

const results = [];
for (const c of cases) {
  const args = childArgs(c);
  const k = [];
  const p = [];
  for (let i = 0; i < reps; i++) {
    k.push(runChild(process.execPath, [KESTREL_SCRIPT, ...args]));
    p.push(runChild(PYTHON, [PYTORCH_SCRIPT, ...args]));
    log(`${c.name} rep ${i + 1}/${reps}: kestrel ${k[i].toFixed(1)} img/s · pytorch ${p[i].toFixed(1)} img/s`);
  }
  const km = median(k);
  const pm = median(p);
  const r = { case: c.name, kind: 'train', kestrel: round(km, 1), pytorch: round(pm, 1), unit: 'img/s', ratio: round(km / pm, 3) };
  results.push({ ...r, batch: c.batch, input: `${c.channels}x${c.img}x${c.img}`, optimizer: c.opt, steps: stepsOverride ?? c.steps, warmup: c.warmup, samples: { kestrel: k.map((x) => round(x, 1)), pytorch: p.map((x) => round(x, 1)) } });
  if (values.json) console.log(JSON.stringify(r));
}

const md = [
  `Training throughput, Kestrel vs PyTorch ${torchVersion[0]} (torchvision ${torchVersion[1]}): ${threads} threads, ` +
    `median of ${reps} interleaved runs, synthetic inputs; ratio = kestrel / pytorch (> 1: Kestrel faster).`,
  '',
  '| case | input | batch | optimizer | steps | kestrel img/s | pytorch img/s | ratio |',
  '|---|---|---:|---|---:|---:|---:|---:|',
  ...results.map((r) => `| ${r.case} | ${r.input} | ${r.batch} | ${OPT_LABEL[r.optimizer]} | ${r.steps} | ${r.kestrel.toFixed(1)} | ${r.pytorch.toFixed(1)} | ${r.ratio.toFixed(3)} |`),
].join('\n');
if (!values.json) console.log(md);

const now = new Date();
const day = now.toISOString().slice(0, 10);
const dir = path.join(ROOT, 'bench/results');
mkdirSync(dir, { recursive: true });
const meta = {
  date: now.toISOString(), threads, reps, node: process.version, torch: torchVersion[0], torchvision: torchVersion[1],
  cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, platform: `${os.platform()} ${os.release()}`,
};
writeFileSync(path.join(dir, `${day}.json`), JSON.stringify({ ...meta, results }, null, 2) + '\n');
writeFileSync(path.join(dir, `${day}.md`), `# Benchmark ${day}\n\n${meta.cpu}, ${meta.cores} cores, Node ${meta.node}\n\n${md}\n`);
log(`bench: wrote bench/results/${day}.json and bench/results/${day}.md`);
