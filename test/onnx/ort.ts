/** ONNX Runtime (CPU) for the export tests: sessions from bytes, Kestrel tensors in, typed arrays out. */
import { spawnSync } from 'node:child_process';
import * as ort from 'onnxruntime-node';
import { noGrad, tidy, type Tensor } from '../../src/tensor/index.js';

export const session = (bytes: Uint8Array): Promise<ort.InferenceSession> =>
  ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });

function toOrt(t: Tensor): ort.Tensor {
  const data = t.dataSync();
  if (data instanceof BigInt64Array) return new ort.Tensor('int64', data, t.shape);
  if (!(data instanceof Float32Array)) throw new TypeError(`ort tests feed float32 or int64, got ${t.dtype}`);
  return new ort.Tensor('float32', data, t.shape);
}

/** Runs a session on named inputs; returns its first output's values and dims. */
export async function run(s: ort.InferenceSession, feeds: Record<string, Tensor>): Promise<{ data: Float32Array; dims: number[] }> {
  const out = await s.run(Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, toOrt(t)])));
  const first = out[s.outputNames[0]!]!;
  return { data: first.data as Float32Array, dims: [...first.dims] };
}

/** libtorch's values for comparison: `fn` runs without grad and its scope is freed. */
export const torchValues = (fn: () => Tensor): Float32Array => noGrad(() => tidy(() => fn().dataSync() as Float32Array));

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`${a.length} values vs ${b.length}`);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return Number.isNaN(d) ? Infinity : d;
}

/** Why ONNX's own checker cannot run here, or null when Debian's python3-onnx is there. */
export function onnxCheckerMissing(): string | null {
  const r = spawnSync('/usr/bin/python3', ['-c', 'import onnx'], { encoding: 'utf8' });
  return r.status === 0 ? null : 'the ONNX checker needs Debian python3-onnx in /usr/bin/python3 (apt-get install python3-onnx)';
}

/** onnx.checker.check_model(full_check=True) over files; returns {file: error} for the failures. */
export function checkOnnxFiles(files: string[]): Record<string, string> {
  const script = [
    'import json, sys, onnx',
    'bad = {}',
    'for f in sys.argv[1:]:',
    '    try:',
    '        onnx.checker.check_model(f, full_check=True)',
    '    except Exception as e:',
    '        bad[f] = str(e).splitlines()[0] if str(e) else type(e).__name__',
    'print(json.dumps(bad))',
  ].join('\n');
  const r = spawnSync('/usr/bin/python3', ['-c', script, ...files], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`onnx checker failed to run: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, string>;
}
