/**
 * An `.onnx` object detector exported by Kestrel, on ONNX Runtime: the session, the preprocessing
 * its contract records (a letterbox to imgsz, pixels/255), and batches of preprocessed images in,
 * the decoded output out: [n, 4 + classes, anchors], per anchor cx, cy, w, h in input pixels then
 * class probabilities. NMS and mapping boxes back to the image are the caller's
 * (src/tasks/detect/postprocess.ts), so the browser, which runs the same file, shares them.
 */
import type { DeployContract } from '../onnx/contract.js';
import { OnnxError } from './errors.js';
import { openTaskSession, shapeText, TaskOnnxModel, type OnnxFile, type SessionIO, type SessionOptions } from './session.js';

/** The decoded output of n images. */
export interface DecodedBatch {
  /** [n, 4 + classes, anchors], row-major. */
  data: Float32Array;
  anchors: number;
}

const fixed = (d: unknown): number | null => (typeof d === 'number' ? d : null);

/** The contract, which a detector must carry: without it nothing says how its output reads. */
/** Input [N, C, imgsz] and output [N, 4 + classes, A], as the contract says; free dimensions pass. */
function checkShapes(path: string, io: SessionIO, c: DeployContract): void {
  const expected = [null, c.channels, ...c.imgsz];
  const input = io.input.shape;
  if (input.length !== 4 || expected.some((d, i) => d !== null && fixed(input[i]) !== null && fixed(input[i]) !== d)) {
    throw new OnnxError(path, `the model's input '${io.input.name}' is ${shapeText(input)} but its metadata gives ${shapeText(['N', c.channels, ...c.imgsz])} images`);
  }
  const rows = fixed(io.output.shape[1]);
  if (io.output.shape.length !== 3 || (rows !== null && rows !== 4 + c.names.length)) {
    throw new OnnxError(path, `the model's output '${io.output.name}' is ${shapeText(io.output.shape)}; a detector with ${c.names.length} classes gives [N, ${4 + c.names.length}, anchors]`);
  }
}

/**
 * A detector from an `.onnx` file written by `kestrel export`.
 *
 * @example
 * const det = await OnnxDetector.load('best.onnx', { threads: 2 });
 * const { transforms, channels } = det.contract;           // letterbox + normalize: feed these to BatchStream
 * const { data, anchors } = await det.run(chw, 1, [3, 640, 640]);
 * await det.dispose();
 */
export class OnnxDetector extends TaskOnnxModel {
  /** Reads the file (or takes one in memory), checks its contract, creates the session. */
  static async load(source: string | OnnxFile, opts: SessionOptions = {}): Promise<OnnxDetector> {
    return new OnnxDetector(await openTaskSession(source, 'detect', 'detection', opts, (io, c) => checkShapes(typeof source === 'string' ? source : source.path, io, c)));
  }

  /** The decoded output of n preprocessed images packed as [n, C, H, W]; a fixed-batch graph runs in chunks (the last zero-padded). */
  async run(data: Float32Array, n: number, chw: readonly [number, number, number]): Promise<DecodedBatch> {
    const { channels, imgsz } = this.contract;
    if (chw[0] !== channels || chw[1] !== imgsz[0] || chw[2] !== imgsz[1] || data.length < n * chw[0] * chw[1] * chw[2]) {
      throw new OnnxError(this.path, `the preprocessed images are ${shapeText([n, ...chw])} but the model's input '${this.io.input.name}' is ${shapeText(this.io.input.shape)}`);
    }
    let out: Float32Array | null = null;
    let perImage = 0;
    await this.chunks(data, n, chw, (y, rows, m, start) => {
      perImage = y.length / rows;
      out ??= new Float32Array(n * perImage);
      out.set(y.subarray(0, m * perImage), start * perImage);
    });
    return { data: out ?? new Float32Array(0), anchors: perImage / (4 + this.contract.names.length) };
  }
}
