/**
 * ONNX Runtime sessions for `.onnx` files: reading and checking the file, choosing the execution
 * provider, and the shapes the graph declares. Never imports the libtorch side (native/, tensor/):
 * a deploy-only process loads ONNX Runtime alone.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { InferenceSession, Tensor, env, listSupportedBackends } from 'onnxruntime-node';
import { ContractError, readContract, type DeployContract } from '../onnx/contract.js';
import { decodeModel, type ModelProto } from '../onnx/proto.js';
import { OnnxError } from './errors.js';

export { OnnxError } from './errors.js';

const firstLine = (e: unknown): string => String((e as Error)?.message ?? e).split('\n')[0]!.trim();

/** An `.onnx` file's bytes and its decoded ModelProto (ORT's JS API does not expose metadata_props). */
export interface OnnxFile {
  path: string;
  bytes: Uint8Array;
  model: ModelProto;
}

/**
 * Reads and decodes an `.onnx` file. Truncated or corrupt files fail here with one line naming
 * the file, before ONNX Runtime sees them.
 *
 * @example
 * const { model } = readOnnxFile('model.onnx');
 * model.metadataProps; // [{ key: 'kestrel', value: 'kestrel.onnx/1' }, …]
 */
export function readOnnxFile(path: string): OnnxFile {
  if (!existsSync(path)) throw new OnnxError(path, 'no such file');
  if (!statSync(path).isFile()) throw new OnnxError(path, 'not a file');
  const buf = readFileSync(path);
  return decodeOnnx(path, new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength));
}

/**
 * Decodes ONNX bytes held in memory (an export that was never written to disk); `path` names
 * them in errors.
 *
 * @example
 * const file = decodeOnnx('best.safetensors (exported)', exportOnnx(model, info));
 */
export function decodeOnnx(path: string, bytes: Uint8Array): OnnxFile {
  if (bytes.length === 0) throw new OnnxError(path, 'not a valid ONNX model (the file is empty)');
  let model: ModelProto;
  try {
    model = decodeModel(bytes);
  } catch (e) {
    throw new OnnxError(path, `not a valid ONNX model (truncated or corrupt protobuf: ${firstLine(e)})`);
  }
  if (!model.graph || (model.graph.node ?? []).length === 0) throw new OnnxError(path, 'not a valid ONNX model (it has no graph)');
  return { path, bytes, model };
}

/** Where onnxruntime-node keeps its native binding and the provider libraries beside it. */
function bindingDir(): string {
  const entry = createRequire(import.meta.url).resolve('onnxruntime-node');
  return join(dirname(entry), '..', 'bin', 'napi-v6', process.platform, process.arch);
}

/** Provider libraries that npm's install step downloads (not bundled in the npm package). */
function providerLibrary(name: string): string {
  return process.platform === 'win32' ? `onnxruntime_providers_${name}.dll` : `libonnxruntime_providers_${name}.so`;
}

/** The execution providers Kestrel offers, where the installed onnxruntime-node has them. */
export const PROVIDERS: readonly string[] = ['cpu', 'cuda'];

/**
 * Execution providers usable here: of PROVIDERS, those onnxruntime-node bundles (always `cpu`) and
 * those whose provider library is installed beside its binding (`cuda` needs the CUDA libraries
 * that onnxruntime-node's install step downloads, which Kestrel's .npmrc skips).
 */
export function availableProviders(): string[] {
  let dir: string | null = null;
  return listSupportedBackends()
    .filter((b) => PROVIDERS.includes(b.name) && (b.bundled || existsSync(join((dir ??= bindingDir()), providerLibrary(b.name)))))
    .map((b) => b.name);
}

/** Whether this onnxruntime-node knows the provider at all (an unavailable one it knows only lacks its downloaded libraries). */
const inThisBuild = (name: string): boolean => listSupportedBackends().some((b) => b.name === name);

/**
 * Kestrel's providers that cannot run here, and why: what `kestrel doctor` shows beside the
 * available ones, so it never lists a provider that `--provider` then refuses.
 */
export function missingProviders(): { name: string; why: string }[] {
  const available = availableProviders();
  return PROVIDERS.filter((p) => !available.includes(p))
    .map((name) => ({ name, why: inThisBuild(name) ? 'libraries not installed' : 'not in this build' }));
}

/** Checks a provider name against what is installed; the error lists what is available. */
export function checkProvider(name: string): void {
  const available = availableProviders();
  if (available.includes(name)) return;
  const list = available.join(', ');
  if (!PROVIDERS.includes(name)) throw new Error(`unknown execution provider '${name}' (Kestrel runs ${PROVIDERS.join(' or ')}; available here: ${list})`);
  const fix = name === 'cuda' ? '; install them with `ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node` (needs network access and CUDA 12)' : '';
  throw new Error(inThisBuild(name)
    ? `execution provider '${name}' is not installed: this onnxruntime-node supports it but its libraries were not downloaded (available here: ${list})${fix}`
    : `execution provider '${name}' is not in this build of onnxruntime-node (available here: ${list})`);
}

export interface SessionOptions {
  /** Execution provider: 'cpu' (default), 'cuda', … as availableProviders() lists. */
  provider?: string;
  /** Intra-op threads; default: the number of cores. */
  threads?: number;
}

/** A session on a read file; ORT's own load errors come back as one line naming the file. */
export async function createSession(file: OnnxFile, opts: SessionOptions = {}): Promise<InferenceSession> {
  const provider = opts.provider ?? 'cpu';
  checkProvider(provider);
  const threads = opts.threads ?? availableParallelism();
  if (!(Number.isInteger(threads) && threads > 0)) throw new RangeError(`threads must be a positive integer, got ${threads}`);
  // Environment-level warnings (graph optimisation notes) would otherwise reach stderr.
  env.logLevel = 'error';
  try {
    return await InferenceSession.create(file.bytes, {
      executionProviders: [provider],
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      logSeverityLevel: 3,
    });
  } catch (e) {
    const msg = firstLine(e);
    const problem = /protobuf parsing failed/i.test(msg)
      ? 'not a valid ONNX model (ONNX Runtime could not parse it)'
      : `ONNX Runtime could not load it${provider === 'cpu' ? '' : ` on '${provider}'`}: ${msg}`;
    throw new OnnxError(file.path, problem);
  }
}

/** A tensor's declared shape: numbers for fixed dimensions, strings (or null) for free ones. */
export type Shape = readonly (number | string | null)[];

/** The first graph input and output as ONNX Runtime reports them. */
export interface SessionIO {
  input: { name: string; type: string; shape: Shape };
  output: { name: string; type: string; shape: Shape };
}

/** The session's one image input and its first output; a graph with other inputs is an error. */
export function sessionIO(session: InferenceSession, path: string): SessionIO {
  const meta = (list: readonly InferenceSession.ValueMetadata[], what: string): SessionIO['input'] => {
    const m = list[0];
    if (!m) throw new OnnxError(path, `the model has no ${what}`);
    if (!m.isTensor) throw new OnnxError(path, `the model's ${what} '${m.name}' is not a tensor`);
    return { name: m.name, type: m.type, shape: m.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : typeof d === 'string' ? d : null)) };
  };
  if (session.inputNames.length > 1) {
    throw new OnnxError(path, `the model takes ${session.inputNames.length} inputs (${session.inputNames.join(', ')}); an image classifier takes one`);
  }
  return { input: meta(session.inputMetadata, 'input'), output: meta(session.outputMetadata, 'output') };
}

/** `[N,3,224,224]`-style text for messages. */
export const shapeText = (s: Shape): string => `[${s.map((d) => (typeof d === 'number' ? d : d || '?')).join(',')}]`;

/**
 * Runs n preprocessed images packed as [n, C, H, W] through a one-input, one-output session. A
 * graph with a fixed batch size (`batchLimit`) runs in chunks of it, the last one zero-padded;
 * `take(y, rows, m, start)` gets each chunk's output for `rows` images, of which the first m are
 * images start … start + m − 1. The classifier and the detector share this; they differ in `take`.
 */
export async function runChunked(
  session: InferenceSession, io: SessionIO, path: string,
  data: Float32Array, n: number, chw: readonly [number, number, number], batchLimit: number | null,
  take: (y: Float32Array, rows: number, m: number, start: number) => void,
): Promise<void> {
  const per = chw[0] * chw[1] * chw[2];
  const step = batchLimit ?? n;
  for (let start = 0; start < n; start += step) {
    const m = Math.min(step, n - start);
    const rows = batchLimit ?? m;
    const part = data.subarray(start * per, (start + m) * per);
    // Copied only to pad a short chunk up to a fixed batch size.
    const chunk = rows === m ? part : new Float32Array(rows * per);
    if (chunk !== part) chunk.set(part);
    let result: InferenceSession.ReturnType;
    try {
      result = await session.run({ [io.input.name]: new Tensor('float32', chunk, [rows, ...chw]) }, [io.output.name]);
    } catch (e) {
      const msg = String((e as Error)?.message ?? e).replace(/\s*\n\s*/g, ' ').trim();
      throw new OnnxError(path, `ONNX Runtime failed on a ${shapeText([rows, ...chw])} batch: ${msg}`);
    }
    take(result[io.output.name]!.data as Float32Array, rows, m, start);
  }
}

/** What a task's runtime class holds: the file's contract, its session and the session's input and output. */
export interface TaskSession {
  path: string;
  contract: DeployContract;
  session: InferenceSession;
  io: SessionIO;
  /** The fixed batch size the graph declares, or null when any batch size runs. */
  batchLimit: number | null;
}

/**
 * Opens a Kestrel export of one task (a file path or one already in memory): its contract must name
 * `task`; `check` then vets the session's shapes, and the session is released if it throws.
 */
export async function openTaskSession(source: string | OnnxFile, task: 'detect' | 'segment', what: string, opts: SessionOptions, check: (io: SessionIO, c: DeployContract) => void): Promise<TaskSession> {
  const file = typeof source === 'string' ? readOnnxFile(source) : source;
  let contract: DeployContract | null;
  try {
    contract = readContract(file.model.metadataProps ?? []);
  } catch (e) {
    if (e instanceof ContractError) throw new OnnxError(file.path, e.message);
    throw e;
  }
  if (contract === null) throw new OnnxError(file.path, `has no Kestrel metadata; ${what} needs a file written by kestrel export`);
  if (contract.task !== task) throw new OnnxError(file.path, `is a ${contract.task} model; this needs a ${task} one`);
  const session = await createSession(file, opts);
  try {
    const io = sessionIO(session, file.path);
    check(io, contract);
    const b = io.input.shape[0];
    return { path: file.path, contract, session, io, batchLimit: typeof b === 'number' ? b : null };
  } catch (e) {
    await session.release();
    throw e;
  }
}

/**
 * What OnnxDetector and OnnxSegmenter share: the file, its contract, its session, and running
 * batches through it in the graph's fixed batch size where it has one.
 */
export abstract class TaskOnnxModel {
  readonly path: string;
  readonly contract: DeployContract;
  /** The fixed batch size the graph declares, or null when any batch size runs. */
  readonly batchLimit: number | null;
  protected readonly session: InferenceSession;
  protected readonly io: SessionIO;

  protected constructor(t: TaskSession) {
    this.path = t.path;
    this.contract = t.contract;
    this.session = t.session;
    this.io = t.io;
    this.batchLimit = t.batchLimit;
  }

  /** runChunked over this model's session: `take` gets each chunk's output rows. */
  protected chunks(data: Float32Array, n: number, chw: readonly [number, number, number], take: (y: Float32Array, rows: number, m: number, start: number) => void): Promise<void> {
    return runChunked(this.session, this.io, this.path, data, n, chw, this.batchLimit, take);
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}
