// Benchmark harness: Kestrel beside PyTorch on the same machine, same architecture, batch, input
// size and threads, for the cases of bench/cases.mjs (training steps, inference, input pipeline,
// end-to-end MNIST, memory). For each case the sides run interleaved A B A B … `reps` times (each
// run does its own warm-up) and the medians are compared: ratio = kestrel / pytorch where higher is
// better (img/s, GFLOP/s) and pytorch / kestrel where lower is better (ms, s, MiB), so a ratio > 1
// always means Kestrel is better.
//
//   npm run bench -- [--json] [--case NAME|GROUP]… [--reps N] [--steps N] [--threads N] [--same-env]
//
// --case takes a case name (smallcnn, infer-resnet18-b1, pipeline-w2, e2e-mnist, memory-epochs, …)
// or a group (train, infer, pipeline, e2e); memory-epochs runs only when named. --steps overrides
// each case's step count (training steps, inference passes, or for e2e-mnist and memory-epochs the
// batches per epoch, on a cut-down MNIST): for quick checks, not for results.
//
// Kestrel sets two environment variables for itself before libtorch loads (src/native/index.ts):
// GOMP_SPINCOUNT=10000 and, from the CPU's flags, OPENBLAS_CORETYPE. PyTorch runs as installed,
// with neither, unless --same-env gives its processes the same two values: then the ratios compare
// the engines alone. The results record which.
//
// Prints Markdown tables (or, with --json, one JSON object per result row per line) and writes
// bench/results/<YYYY-MM-DD>.json and .md. Needs Debian's /usr/bin/python3 with python3-torch and
// python3-torchvision (installed with apt-get when missing and running as root).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CASES } from './cases.mjs';
import { cpuPeak } from './flops.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PYTHON = '/usr/bin/python3';
const GROUPS = [...new Set(CASES.filter((c) => !c.optional).map((c) => c.group))];

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    case: { type: 'string', multiple: true },
    reps: { type: 'string', default: '3' },
    steps: { type: 'string' },
    threads: { type: 'string', default: '2' },
    'same-env': { type: 'boolean', default: false },
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
const steps = values.steps === undefined ? undefined : posInt('steps', values.steps);
const wanted = (values.case ?? []).flatMap((c) => c.split(',')).filter(Boolean);
for (const w of wanted) {
  if (!GROUPS.includes(w) && !CASES.some((c) => c.name === w)) {
    console.error(`bench: unknown case '${w}'; cases: ${CASES.map((c) => c.name).join(', ')}; groups: ${GROUPS.join(', ')}`);
    process.exit(2);
  }
}
const cases = wanted.length
  ? CASES.filter((c) => wanted.includes(c.name) || (wanted.includes(c.group) && !c.optional))
  : CASES.filter((c) => !c.optional);
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

/** The child running now, stopped on Ctrl-C; `interrupted` ends the run after it. */
let current = null;
let interrupted = false;
process.on('SIGINT', () => {
  interrupted = true;
  current?.kill('SIGINT');
});

/** Runs one side once: its parsed output plus wallS, the child's wall time. */
function runSide({ cmd, args, env, parse }) {
  const what = [path.basename(cmd), ...args.map((a) => (a.startsWith(`${ROOT}/`) ? path.relative(ROOT, a) : a))].join(' ');
  if (interrupted) return Promise.reject(new Error('interrupted'));
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { cwd: ROOT, env: env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    current = child;
    let [stdout, stderr] = ['', ''];
    child.stdout.setEncoding('utf8').on('data', (d) => void (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => void (stderr += d));
    child.on('error', (e) => reject(new Error(`${what}: ${e.message}`)));
    child.on('close', (code, signal) => {
      current = null;
      const wallS = (performance.now() - t0) / 1000;
      if (code !== 0) {
        reject(new Error(`${what} failed (${signal ?? `exit ${code}`}):\n${stderr.trim().split('\n').slice(-15).join('\n')}`));
        return;
      }
      const out = stdout.trim();
      try {
        resolve({ ...(parse ? parse(out) : JSON.parse(out.split('\n').pop() ?? '')), wallS });
      } catch {
        reject(new Error(`unexpected output from ${what}: ${out.slice(-500)}`));
      }
    });
  });
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const sig = (x) => Number(x.toPrecision(4));

/** Runs a case's sides interleaved and turns its metrics into result rows, one per Kestrel runner. */
async function runCase(c, ctx) {
  await c.prepare?.(ctx);
  const sides = Object.keys(c.sides);
  const outs = Object.fromEntries(sides.map((s) => [s, []]));
  const n = c.reps ?? reps;
  for (let i = 0; i < n; i++) {
    for (const s of sides) outs[s].push(await runSide(c.sides[s](ctx)));
    const first = c.metrics[0];
    log(`${c.name} rep ${i + 1}/${n}: ${sides.map((s) => `${s} ${sig(first.get(outs[s][i]))} ${first.unit}`).join(' · ')}`);
  }
  const rows = [];
  for (const m of c.metrics) {
    const samples = Object.fromEntries(sides.map((s) => [s, outs[s].map((o) => sig(m.get(o)))]));
    const p = median(samples.pytorch);
    for (const s of sides.filter((x) => x !== 'pytorch')) {
      const k = median(samples[s]);
      const line = {
        case: s === 'kestrel' ? c.name : `${c.name}-${s.replace(/^kestrel-/, '')}`, kind: m.kind,
        kestrel: sig(k), pytorch: sig(p), unit: m.unit, ratio: Number((m.lower ? p / k : k / p).toFixed(3)),
      };
      if (values.json) console.log(JSON.stringify(line));
      rows.push({ ...line, from: c.name, setting: c.setting, reps: n, samples: { kestrel: samples[s], pytorch: samples.pytorch }, ...m.extra?.(outs) });
    }
  }
  return rows;
}

const KINDS = {
  train: 'Training steps (forward, cross-entropy or for detectors the YOLOv8 loss, backward, optimizer step) on synthetic inputs held in memory.',
  infer: 'Inference: eval mode, autograd off (PyTorch eager under no_grad), 1000 classes (detectors: 80, output decoded), one random batch; batch 1 is the median latency of one pass.',
  pipeline: 'Input pipeline alone: JPEG decode + RandomResizedCrop 224 + flip + normalize into batches; Kestrel DataLoader vs torchvision ImageFolder (PIL) + DataLoader with the same number of workers (processes for PyTorch, threads for Kestrel).',
  e2e: 'End to end: wall time of the whole process, start to exit — `kestrel train --data mnist --model smallcnn --epochs 1 --workers 0` vs bench/mnist.py (same model, data, augmentation, optimizer, schedule, evaluation and checkpoints).',
  memory: 'Memory: peak RSS (VmHWM) of the process of each training case; memory-epochs: RSS (VmRSS) after the last of 10 MNIST epochs. Targets (issue 4): peak RSS ≤ 1.2× PyTorch\'s (ratio ≥ 0.833), RSS growth from epoch 2 to 10 ≤ 5 %.',
  flops: 'Achieved GFLOP/s: analytic FLOPs (conv + linear multiply-adds × 2 per forward, × 3 for a training step) × img/s.',
};

const envText = (env) => Object.entries(env ?? {}).map(([k, v]) => `${k}=${v}`).join(' ') || 'nothing';

function markdown(rows, meta) {
  const out = [`Kestrel vs PyTorch ${meta.torch} (torchvision ${meta.torchvision}): ${meta.threads} threads, median of ${meta.reps} interleaved runs unless noted; ` +
    'ratio > 1 means Kestrel is better (kestrel / pytorch for img/s and GFLOP/s, pytorch / kestrel for ms, s and MiB).',
    '', `Environment: Kestrel sets ${envText(meta.kestrelEnv)} for itself; PyTorch runs ${Object.keys(meta.pytorchEnv ?? {}).length ? `with the same (--same-env)` : 'as installed, without them'}.`];
  for (const [kind, title] of Object.entries(KINDS)) {
    const rs = rows.filter((r) => r.kind === kind);
    if (rs.length === 0) continue;
    out.push('', `**${kind}** — ${title}`, '', '| case | setting | kestrel | pytorch | unit | ratio |', '|---|---|---:|---:|---|---:|',
      ...rs.map((r) => `| ${r.case} | ${r.setting ?? ''}${r.reps !== meta.reps ? ` (${r.reps} run${r.reps > 1 ? 's' : ''})` : ''} | ${r.kestrel} | ${r.pytorch} | ${r.unit} | ${r.ratio.toFixed(3)} |`));
    for (const r of rs.filter((x) => x.epochs)) {
      const list = (o) => Object.entries(o).map(([k, v]) => `epoch ${k}: ${v}`).join(', ');
      const fmt = (e) => `${list(e.rssMB)} MiB; growth epoch 2→10 ${e.growth2to10Pct} %${e.epochPeakMB ? `; peak within ${list(e.epochPeakMB)} MiB` : ''}`;
      out.push('', `${r.case}: Kestrel ${fmt(r.epochs.kestrel)}. PyTorch ${fmt(r.epochs.pytorch)}.`);
    }
    for (const r of rs.filter((x) => x.firstLoss)) out.push('', `${r.case}: loss of the first step Kestrel ${r.firstLoss.kestrel.toPrecision(7)}, PyTorch ${r.firstLoss.pytorch.toPrecision(7)} (last run; same seed, weights, input and boxes).`);
    for (const r of rs.filter((x) => x.accuracy)) out.push('', `${r.case}: test accuracy Kestrel ${(r.accuracy.kestrel * 100).toFixed(2)} %, PyTorch ${(r.accuracy.pytorch * 100).toFixed(2)} % (last run).`);
    if (kind === 'flops' && meta.peak) {
      out.push('', `Peak: ${meta.peak.how}. Of that peak: ${rs.map((r) => `${r.case} Kestrel ${((r.kestrel / meta.peak.gflops) * 100).toFixed(1)} %, PyTorch ${((r.pytorch / meta.peak.gflops) * 100).toFixed(1)} %`).join('; ')}.`);
    }
  }
  return out.join('\n');
}

ensurePytorch();
const [torch, torchvision] = execFileSync(PYTHON, ['-c', 'import torch, torchvision; print(torch.__version__, torchvision.__version__)'], { encoding: 'utf8' }).trim().split(' ');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'kestrel-bench-'));
const { cpuFlags, openblasCoreFor } = await import(path.join(ROOT, 'dist/src/native/index.js'));
const kestrelSets = {
  ...(process.env.OMP_WAIT_POLICY === undefined && process.env.GOMP_SPINCOUNT === undefined ? { GOMP_SPINCOUNT: '10000' } : {}),
  ...(process.env.OPENBLAS_CORETYPE === undefined && openblasCoreFor(cpuFlags()) ? { OPENBLAS_CORETYPE: openblasCoreFor(cpuFlags()) } : {}),
};
const pytorchEnv = values['same-env'] ? kestrelSets : {};
const ctx = {
  root: ROOT, cache: path.join(ROOT, 'bench/.cache'), tmp, threads, node: process.execPath, python: PYTHON,
  pythonEnv: { ...process.env, ...pytorchEnv }, ...(steps === undefined ? {} : { steps }),
};
const results = [];
try {
  for (const c of cases) results.push(...await runCase(c, ctx));
} catch (e) {
  // The cases completed so far are still written.
  console.error(`bench: ${interrupted ? 'interrupted' : e.message}`);
  process.exitCode = interrupted ? 130 : 1;
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
if (results.length === 0) process.exit();

// Rows of cases not run this time are kept from the day's file when it was made with the same
// threads, so `--case memory-epochs` after a full run adds to it. Runs with --steps are checks, not
// results: they go to bench/.cache/results.
const now = new Date();
const day = now.toISOString().slice(0, 10);
const dir = path.join(ROOT, steps === undefined ? 'bench/results' : 'bench/.cache/results');
const prev = existsSync(path.join(dir, `${day}.json`)) ? JSON.parse(readFileSync(path.join(dir, `${day}.json`), 'utf8')) : null;
const ran = new Set(results.map((r) => r.from));
const sameEnv = JSON.stringify(prev?.pytorchEnv ?? {}) === JSON.stringify(pytorchEnv);
const kept = prev?.threads === threads && sameEnv ? prev.results.filter((r) => !ran.has(r.from ?? r.case)) : [];
const order = (r) => CASES.findIndex((c) => c.name === (r.from ?? r.case));
const all = [...kept, ...results].sort((a, b) => order(a) - order(b));
const meta = {
  date: now.toISOString(), threads, reps, ...(steps === undefined ? {} : { steps }), node: process.version, torch, torchvision,
  kestrelEnv: kestrelSets, pytorchEnv,
  cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, platform: `${os.platform()} ${os.release()}`,
  peak: cpuPeak(Math.min(threads, os.availableParallelism())),
};
if (!values.json) console.log(markdown(results, meta));
mkdirSync(dir, { recursive: true });
const write = (file, text) => {
  const tmpFile = path.join(dir, `.${file}.tmp`);
  writeFileSync(tmpFile, text);
  renameSync(tmpFile, path.join(dir, file));
};
write(`${day}.json`, JSON.stringify({ ...meta, results: all }, null, 2) + '\n');
write(`${day}.md`, `# Benchmark ${day}\n\n${meta.cpu}, ${meta.cores} cores, Node ${meta.node}${steps === undefined ? '' : `, --steps ${steps} (a quick check, not a result)`}\n\n${markdown(all, meta)}\n`);
log(`bench: wrote ${path.relative(ROOT, dir)}/${day}.json and .md`);
