/**
 * An `.onnx` image classifier on ONNX Runtime: the session, its resolved preprocessing, and
 * batches of preprocessed images in, class probabilities out.
 */
import type { InferenceSession } from 'onnxruntime-node';
import { ContractError, readContract, type DeployContract } from '../onnx/contract.js';
import { loadPreprocessFile, resolvePreprocessing, type ModelShapes, type PreprocessSpec, type Preprocessing } from './preprocess.js';
import { OnnxError } from './errors.js';
import { createSession, readOnnxFile, runChunked, sessionIO, shapeText, type OnnxFile, type SessionIO, type SessionOptions, type Shape } from './session.js';

export interface ClassifierOptions extends SessionOptions {
  /** Preprocessing keys that override the file's contract (a third-party model needs mean and std at least). */
  preprocess?: PreprocessSpec;
  /** A YAML file with the same keys; `preprocess` overrides it. */
  preprocessFile?: string;
}

/** One image's best classes, best first. */
export type TopK = { label: string; score: number }[];

const fixed = (d: Shape[number] | undefined): number | null => (typeof d === 'number' ? d : null);

/**
 * The graph's image input must be float32 NCHW and its output float32 [N, classes…]. A shape the
 * graph does not declare (ORT reports []) is checked when the model runs instead.
 */
function checkInput(path: string, io: SessionIO): void {
  const { name, type, shape } = io.input;
  if (shape.length !== 4 && shape.length !== 0) throw new OnnxError(path, `the model's input '${name}' has shape ${shapeText(shape)}; an image classifier takes NCHW images (rank 4)`);
  if (type !== 'float32') throw new OnnxError(path, `the model's input '${name}' is ${type}; Kestrel feeds float32 images`);
  if (io.output.type !== 'float32') throw new OnnxError(path, `the model's output '${io.output.name}' is ${io.output.type}; Kestrel reads float32 scores`);
  if (io.output.shape.length === 1) throw new OnnxError(path, `the model's output '${io.output.name}' has shape ${shapeText(io.output.shape)}; a classifier gives [N, classes]`);
}

/** Classes per image when the output's non-batch dimensions are all fixed ([N, K] or [N, K, 1, 1]). */
function declaredClasses(shape: Shape): number | null {
  if (shape.length === 0) return null;
  const rest = shape.slice(1).map(fixed);
  return rest.every((d) => d !== null) ? rest.reduce<number>((a, d) => a * d!, 1) : null;
}

/** Rows of logits → probabilities (softmax in float64, so large logits neither overflow nor lose the small classes). */
function softmaxRows(x: Float32Array, n: number, k: number): Float32Array {
  const out = new Float32Array(n * k);
  for (let i = 0; i < n; i++) {
    let max = -Infinity;
    for (let j = 0; j < k; j++) max = Math.max(max, x[i * k + j]!);
    let sum = 0;
    for (let j = 0; j < k; j++) sum += Math.exp(x[i * k + j]! - max);
    for (let j = 0; j < k; j++) out[i * k + j] = Math.exp(x[i * k + j]! - max) / sum;
  }
  return out;
}

/**
 * A classifier from an `.onnx` file. The file's Kestrel contract (metadata_props) gives the
 * preprocessing and names; for a third-party model, `preprocess` or `preprocessFile` does.
 *
 * @example
 * const clf = await OnnxClassifier.load('model.onnx', { threads: 2 });
 * const { transforms, channels } = clf.preprocessing;       // feed these to BatchStream / applyTransforms
 * const top = await clf.classify(chw, 1, 3);                 // [[{ label: 'cat', score: 0.93 }, …]]
 * await clf.dispose();
 */
export class OnnxClassifier {
  /** The fixed batch size the graph declares, or null when any batch size runs. */
  readonly batchLimit: number | null;
  readonly #session: InferenceSession;
  readonly #io: SessionIO;

  private constructor(readonly path: string, readonly preprocessing: Preprocessing, readonly contract: DeployContract | null, session: InferenceSession, io: SessionIO) {
    this.#session = session;
    this.#io = io;
    this.batchLimit = fixed(io.input.shape[0]);
  }

  /**
   * Reads the file (or takes an OnnxFile already in memory, see decodeOnnx), creates the session,
   * resolves the preprocessing and checks it against the graph.
   */
  static async load(source: string | OnnxFile, opts: ClassifierOptions = {}): Promise<OnnxClassifier> {
    const file = typeof source === 'string' ? readOnnxFile(source) : source;
    const path = file.path;
    let contract: DeployContract | null;
    try {
      contract = readContract(file.model.metadataProps ?? []);
    } catch (e) {
      if (e instanceof ContractError) throw new OnnxError(path, e.message);
      throw e;
    }
    if (contract && contract.task !== 'classify') throw new OnnxError(path, `is a ${contract.task} model; this needs a classify one`);
    const user: PreprocessSpec = { ...(opts.preprocessFile === undefined ? {} : loadPreprocessFile(opts.preprocessFile)) };
    for (const [k, v] of Object.entries(opts.preprocess ?? {})) if (v !== undefined) (user as Record<string, unknown>)[k] = v;
    // Cheap checks first: a model that cannot be used should not cost a session.
    if (contract === null && Object.keys(user).length === 0) resolvePreprocessing(path, null, user, { channels: null, height: null, width: null, classes: null });
    const session = await createSession(file, opts);
    try {
      const io = sessionIO(session, path);
      checkInput(path, io);
      const [, c, h, w] = io.input.shape.map(fixed);
      const shapes: ModelShapes = { channels: c ?? null, height: h ?? null, width: w ?? null, classes: declaredClasses(io.output.shape) };
      const pre = resolvePreprocessing(path, contract, user, shapes);
      const mismatch = (c !== null && c !== pre.channels) || (h !== null && h !== pre.imgsz[0]) || (w !== null && w !== pre.imgsz[1]);
      if (mismatch) {
        throw new OnnxError(path, `the model's input '${io.input.name}' is ${shapeText(io.input.shape)} but the preprocessing gives ${shapeText(['N', pre.channels, ...pre.imgsz])} images (channels ${pre.channels}, imgsz ${pre.imgsz.join('×')})`);
      }
      return new OnnxClassifier(path, pre, contract, session, io);
    } catch (e) {
      await session.release();
      throw e;
    }
  }

  /**
   * Probabilities [n, classes] for n preprocessed images packed as [n, C, H, W]. A graph with a
   * fixed batch size runs in chunks of it (the last one zero-padded).
   */
  async run(data: Float32Array, n: number, chw: readonly [number, number, number]): Promise<Float32Array> {
    const { channels, imgsz, names, output } = this.preprocessing;
    const expected = [channels, imgsz[0], imgsz[1]];
    if (chw.some((v, i) => v !== expected[i]) || data.length !== n * chw[0] * chw[1] * chw[2]) {
      throw new OnnxError(this.path, `the preprocessed images are ${shapeText([n, ...chw])} but the model's input '${this.#io.input.name}' is ${shapeText(this.#io.input.shape)}`);
    }
    const k = names.length;
    const scores = new Float32Array(n * k);
    await runChunked(this.#session, this.#io, this.path, data, n, chw, this.batchLimit, (logits, rows, m, start) => {
      if (logits.length !== rows * k) {
        throw new OnnxError(this.path, `the model gave ${logits.length / rows} scores per image for ${k} class names`);
      }
      scores.set(logits.subarray(0, m * k), start * k);
    });
    return output === 'logits' ? softmaxRows(scores, n, k) : scores;
  }

  /** The k best classes of each of n images, best first (equal scores: the lower class index first). */
  async classify(data: Float32Array, n: number, chw: readonly [number, number, number], k: number): Promise<TopK[]> {
    const probs = await this.run(data, n, chw);
    const { names } = this.preprocessing;
    const K = names.length;
    return Array.from({ length: n }, (_, i) => {
      const row = probs.subarray(i * K, (i + 1) * K);
      const order = Array.from({ length: K }, (_, j) => j).sort((a, b) => row[b]! - row[a]! || a - b);
      return order.slice(0, Math.min(k, K)).map((j) => ({ label: names[j]!, score: row[j]! }));
    });
  }

  /** Releases the session. */
  async dispose(): Promise<void> {
    await this.#session.release();
  }
}
