// Load test of `kestrel serve` on loopback: autocannon posts one small MNIST-sized PNG from many
// connections at once, against a server with micro-batching and one without (--max-batch 1), each
// server a fresh process. Reports requests/s, p50/p99 latency, errors, the mean batch size and the
// server's RSS before and after. Run after `npm run build`:
//
//   node bench/serve-load.mjs [--connections 200] [--duration 30] [--model mnist.onnx] [--threads 2] [--server-args='--workers 0'] [--write] [--json]
//
// The model is --model (.onnx, or a .safetensors checkpoint, exported first with `kestrel export
// --dynamic-batch` so that the server stays libtorch-free), else an MNIST run under runs/ (its
// weights/best.onnx or best.safetensors), else a smallcnn-shaped graph (conv32 ×2, pool, conv64 ×2,
// pool, 1024→128→10) built here with seeded random weights: the same work per image as a trained one. --write saves
// bench/results/serve-<date>.md and .json. Bounded: at most 1000 connections and 120 s per run, and
// only 127.0.0.1.
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import sharp from 'sharp';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MAIN = path.join(ROOT, 'dist/src/cli/main.js');

const { values } = parseArgs({
  options: {
    connections: { type: 'string', default: '200' },
    duration: { type: 'string', default: '30' },
    model: { type: 'string' },
    threads: { type: 'string', default: String(Math.min(2, os.availableParallelism())) },
    'server-args': { type: 'string', default: '' },
    write: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});
const connections = Number(values.connections);
const duration = Number(values.duration);
if (!(Number.isInteger(connections) && connections >= 1 && connections <= 1000)) throw new Error('--connections must be an integer in 1..1000');
if (!(Number.isInteger(duration) && duration >= 1 && duration <= 120)) throw new Error('--duration must be an integer in 1..120 (seconds)');
if (!existsSync(MAIN)) throw new Error('dist/ is missing: run `npm run build` first');

const CONFIGS = [
  { name: 'micro-batching (--max-batch 32 --max-wait-ms 5)', args: ['--max-batch', '32', '--max-wait-ms', '5'] },
  { name: 'no batching (--max-batch 1)', args: ['--max-batch', '1', '--max-wait-ms', '0'] },
];

/** A seeded value in [-1, 1). */
function lcg(seed) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  };
}

/** smallcnn's shape as an ONNX graph (batch norm folded into the convolutions), random weights, Kestrel contract. */
async function buildMnistModel(file) {
  const { DataType, encodeModel } = await import(path.join(ROOT, 'dist/src/onnx/proto.js'));
  const { contractProps } = await import(path.join(ROOT, 'dist/src/onnx/contract.js'));
  const rnd = lcg(42);
  const init = [];
  const param = (name, dims, fanIn) => {
    const n = dims.reduce((a, b) => a * b, 1);
    const scale = Math.sqrt(6 / fanIn);
    init.push({ name, dims, dataType: DataType.FLOAT, rawData: new Uint8Array(Float32Array.from({ length: n }, () => rnd() * scale).buffer) });
    return name;
  };
  const ints = (name, v) => ({ name, type: 7, ints: v });
  const int = (name, v) => ({ name, type: 2, i: v });
  const nodes = [];
  let x = 'images';
  const add = (opType, inputs, attribute = []) => {
    const out = `t${nodes.length}`;
    nodes.push({ opType, input: [x, ...inputs], output: [out], attribute });
    x = out;
  };
  let c = 1;
  for (const [out, pool] of [[32, false], [32, true], [64, false], [64, true]]) {
    add('Conv', [param(`conv${nodes.length}.w`, [out, c, 3, 3], c * 9), param(`conv${nodes.length}.b`, [out], c * 9)], [ints('kernel_shape', [3, 3]), ints('pads', [1, 1, 1, 1])]);
    add('Relu', []);
    if (pool) add('MaxPool', [], [ints('kernel_shape', [2, 2]), ints('strides', [2, 2])]);
    c = out;
  }
  add('AveragePool', [], [ints('kernel_shape', [4, 4])]); // 7×7 → 4×4, like smallcnn's adaptive pool
  add('Flatten', [], [int('axis', 1)]);
  add('Gemm', [param('fc1.w', [128, 1024], 1024), param('fc1.b', [128], 1024)], [int('transB', 1)]);
  add('Relu', []);
  add('Gemm', [param('fc2.w', [10, 128], 128), param('fc2.b', [10], 128)], [int('transB', 1)]);
  nodes.at(-1).output = ['logits'];
  const dim = (d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d });
  const vi = (name, shape) => ({ name, type: { tensorType: { elemType: DataType.FLOAT, shape: { dim: shape.map(dim) } } } });
  const contract = {
    task: 'classify', names: Array.from({ length: 10 }, (_, i) => String(i)), imgsz: [28, 28], channels: 1,
    mean: [0.1307], std: [0.3081], transforms: [], output: 'logits', precision: 'fp32',
  };
  writeFileSync(file, encodeModel({
    irVersion: 8, opsetImport: [{ domain: '', version: 17 }], producerName: 'kestrel-bench',
    graph: { name: 'smallcnn', node: nodes, initializer: init, input: [vi('images', ['N', 1, 28, 28])], output: [vi('logits', ['N', 10])] },
    metadataProps: contractProps(contract),
  }));
}

/** The weights of an MNIST run under runs/ (runs/<name> or runs/classify/<name>), if there is one. */
function findMnistRun() {
  for (const base of [path.join(ROOT, 'runs'), path.join(ROOT, 'runs/classify')]) {
    if (!existsSync(base)) continue;
    for (const run of readdirSync(base).sort()) {
      const args = path.join(base, run, 'args.yaml');
      if (!existsSync(args) || !/^data: mnist$/m.test(readFileSync(args, 'utf8'))) continue;
      for (const f of ['best.onnx', 'best.safetensors']) if (existsSync(path.join(base, run, 'weights', f))) return path.join(base, run, 'weights', f);
    }
  }
  return null;
}

/** A checkpoint exported to ONNX with a dynamic batch (the server then never loads libtorch). */
function exportCheckpoint(weights, out) {
  execFileSync(process.execPath, [MAIN, 'export', '--weights', weights, '--dynamic-batch', '-o', out], { stdio: ['ignore', 'ignore', 'inherit'] });
  return out;
}

/** Starts `kestrel serve` on a free loopback port; resolves once it listens. */
async function startServer(model, args) {
  const child = spawn(process.execPath, [MAIN, 'serve', '--weights', model, '--host', '127.0.0.1', '--port', '0', '--threads', values.threads, ...args, ...values['server-args'].split(' ').filter(Boolean)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  const url = await new Promise((resolve, reject) => {
    child.stderr.on('data', (d) => {
      err += d;
      const m = /at (http:\/\/127\.0\.0\.1:\d+)/.exec(err);
      if (m) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`kestrel serve exited (${code}): ${err}`)));
  });
  return { child, url };
}

/** Values of unlabelled metrics, from one scrape. */
async function metrics(url, ...names) {
  const text = await (await fetch(`${url}/metrics`)).text();
  return names.map((name) => {
    const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
    return m ? Number(m[1]) : NaN;
  });
}

async function runConfig(model, png, config) {
  const { child, url } = await startServer(model, config.args);
  try {
    // Warm-up: the first runs of a session are slower (allocations, graph caches).
    for (let i = 0; i < 20; i++) await fetch(`${url}/v1/predict`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: png });
    const [rssBefore] = await metrics(url, 'process_resident_memory_bytes');
    const r = await autocannon({
      url: `${url}/v1/predict`, method: 'POST', headers: { 'content-type': 'image/png' }, body: png,
      connections, duration, timeout: 30,
    });
    const [rssAfter, batches, images] = await metrics(url, 'process_resident_memory_bytes', 'kestrel_batch_size_count', 'kestrel_batch_size_sum');
    const ok = r['2xx'];
    return {
      config: config.name, connections, duration_s: r.duration, requests_ok: ok, throughput_rps: ok / r.duration,
      p50_ms: r.latency.p50, p99_ms: r.latency.p99, max_ms: r.latency.max,
      errors: r.errors + r.timeouts + r.non2xx, mean_batch: images / batches,
      rss_before_mb: rssBefore / 2 ** 20, rss_after_mb: rssAfter / 2 ** 20,
    };
  } finally {
    child.kill('SIGTERM');
    await once(child, 'exit');
  }
}

const tmp = mkdtempSync(path.join(os.tmpdir(), 'kestrel-serve-load-'));
try {
  let model = values.model ?? findMnistRun();
  const modelNote = model ? `${model}${model.endsWith('.safetensors') ? ' (exported with kestrel export --dynamic-batch)' : ''}` : 'smallcnn-shaped graph, random weights (built here)';
  if (!model) {
    model = path.join(tmp, 'mnist-smallcnn.onnx');
    await buildMnistModel(model);
  } else if (model.endsWith('.safetensors')) {
    model = exportCheckpoint(model, path.join(tmp, 'mnist.onnx'));
  }
  // A 28×28 grey digit-like PNG (a filled ring), as an MNIST client would send.
  const px = Buffer.alloc(28 * 28);
  for (let y = 0; y < 28; y++) for (let x = 0; x < 28; x++) px[y * 28 + x] = Math.abs(Math.hypot(x - 13.5, y - 13.5) - 8) < 2.5 ? 255 : 0;
  const png = await sharp(px, { raw: { width: 28, height: 28, channels: 1 } }).png().toBuffer();
  const rows = [];
  for (const config of CONFIGS) {
    const row = await runConfig(model, png, config);
    rows.push(row);
    if (values.json) console.log(JSON.stringify(row));
  }
  const f = (v, d = 1) => (Number.isFinite(v) ? v.toFixed(d) : String(v));
  const md = [
    `kestrel serve load test: ${connections} connections, ${duration} s per run, one ${png.length}-byte 28×28 PNG per request, loopback;`,
    `model: ${modelNote}; ONNX Runtime threads ${values.threads}; ${os.availableParallelism()} cores (${os.cpus()[0]?.model ?? 'cpu'}), Node ${process.version}, load average at the end ${os.loadavg().map((v) => v.toFixed(1)).join(' ')}.`,
    '',
    '| server | req/s | p50 ms | p99 ms | max ms | errors | mean batch | RSS before → after (MB) |',
    '|---|---:|---:|---:|---:|---:|---:|---|',
    ...rows.map((r) => `| ${r.config} | ${f(r.throughput_rps)} | ${r.p50_ms} | ${r.p99_ms} | ${r.max_ms} | ${r.errors} | ${f(r.mean_batch, 2)} | ${f(r.rss_before_mb)} → ${f(r.rss_after_mb)} |`),
  ].join('\n');
  if (!values.json) console.log(md);
  if (values.write) {
    const dir = path.join(ROOT, 'bench/results');
    mkdirSync(dir, { recursive: true });
    const stamp = new Date().toISOString().slice(0, 10);
    writeFileSync(path.join(dir, `serve-${stamp}.md`), `${md}\n`);
    writeFileSync(path.join(dir, `serve-${stamp}.json`), `${JSON.stringify({ connections, duration, model: modelNote, rows }, null, 2)}\n`);
    console.log(`wrote bench/results/serve-${stamp}.md and .json`);
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
