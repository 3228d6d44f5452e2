/**
 * An `.onnx` segmentation model exported by Kestrel on ONNX Runtime: its contract (task `segment`,
 * names, preprocessing) and batches of preprocessed images in, per-pixel logits out. Never imports
 * the libtorch side.
 *
 * @example
 * const seg = await OnnxSegmenter.load('best.onnx');
 * const logits = await seg.run(data, n, [1, 128, 128]);   // [n, classes, 128, 128]
 */
import { Tensor, type InferenceSession } from 'onnxruntime-node';
import { ContractError, readContract, type DeployContract } from '../onnx/contract.js';
import { OnnxError } from './errors.js';
import { createSession, readOnnxFile, sessionIO, shapeText, type SessionIO, type SessionOptions } from './session.js';

export class OnnxSegmenter {
  /** The fixed batch size the graph declares, or null when any batch size runs. */
  readonly batchLimit: number | null;
  readonly #session: InferenceSession;
  readonly #io: SessionIO;

  private constructor(readonly path: string, readonly contract: DeployContract, session: InferenceSession, io: SessionIO) {
    this.#session = session;
    this.#io = io;
    const b = io.input.shape[0];
    this.batchLimit = typeof b === 'number' ? b : null;
  }

  /** Reads the file, checks its contract names a segmentation model, and creates the session. */
  static async load(path: string, opts: SessionOptions = {}): Promise<OnnxSegmenter> {
    const file = readOnnxFile(path);
    let contract: DeployContract | null;
    try {
      contract = readContract(file.model.metadataProps ?? []);
    } catch (e) {
      if (e instanceof ContractError) throw new OnnxError(path, e.message);
      throw e;
    }
    if (contract === null) throw new OnnxError(path, 'has no Kestrel metadata; segmentation needs a model exported by kestrel export');
    if (contract.task !== 'segment') throw new OnnxError(path, `is a ${contract.task} model; this needs a segment one`);
    const session = await createSession(file, opts);
    try {
      const io = sessionIO(session, path);
      if (io.output.shape.length !== 4 && io.output.shape.length !== 0) throw new OnnxError(path, `the model's output '${io.output.name}' has shape ${shapeText(io.output.shape)}; a segmentation model gives [N, classes, H, W]`);
      return new OnnxSegmenter(path, contract, session, io);
    } catch (e) {
      await session.release();
      throw e;
    }
  }

  /** Logits [n, classes, h, w] for n preprocessed images packed as [n, C, H, W] (a fixed-batch graph runs in chunks). */
  async run(data: Float32Array, n: number, chw: readonly [number, number, number]): Promise<{ logits: Float32Array; shape: [number, number, number, number] }> {
    const per = chw[0] * chw[1] * chw[2];
    const step = this.batchLimit ?? n;
    const parts: Float32Array[] = [];
    let dims: number[] = [];
    for (let start = 0; start < n; start += step) {
      const m = Math.min(step, n - start);
      const rows = this.batchLimit ?? m;
      const part = data.subarray(start * per, (start + m) * per);
      const chunk = rows === m ? part : new Float32Array(rows * per);
      if (chunk !== part) chunk.set(part);
      let out: InferenceSession.ReturnType;
      try {
        out = await this.#session.run({ [this.#io.input.name]: new Tensor('float32', chunk, [rows, ...chw]) }, [this.#io.output.name]);
      } catch (e) {
        throw new OnnxError(this.path, `ONNX Runtime failed on a ${shapeText([rows, ...chw])} batch: ${String((e as Error)?.message ?? e).replace(/\s*\n\s*/g, ' ').trim()}`);
      }
      const t = out[this.#io.output.name]!;
      dims = t.dims.slice();
      const data_ = t.data as Float32Array;
      parts.push(data_.subarray(0, (data_.length / rows) * m));
    }
    const [, C, h, w] = dims as [number, number, number, number];
    if (C !== this.contract.names.length) throw new OnnxError(this.path, `the model gave ${C} classes per pixel for ${this.contract.names.length} class names`);
    const logits = parts.length === 1 ? parts[0]! : new Float32Array(parts.reduce((k, p) => k + p.length, 0));
    if (parts.length > 1) parts.reduce((at, p) => (logits.set(p, at), at + p.length), 0);
    return { logits, shape: [n, C, h, w] };
  }

  async dispose(): Promise<void> {
    await this.#session.release();
  }
}
