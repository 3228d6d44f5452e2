/**
 * An `.onnx` segmentation model exported by Kestrel on ONNX Runtime: its contract (task `segment`,
 * names, preprocessing) and batches of preprocessed images in, per-pixel logits out. Never imports
 * the libtorch side.
 *
 * @example
 * const seg = await OnnxSegmenter.load('best.onnx');
 * const logits = await seg.run(data, n, [1, 128, 128]);   // [n, classes, 128, 128]
 */
import { OnnxError } from './errors.js';
import { openTaskSession, shapeText, TaskOnnxModel, type OnnxFile, type SessionOptions } from './session.js';

export class OnnxSegmenter extends TaskOnnxModel {
  /** Reads the file (or takes one in memory), checks its contract names a segmentation model, and creates the session. */
  static async load(source: string | OnnxFile, opts: SessionOptions = {}): Promise<OnnxSegmenter> {
    return new OnnxSegmenter(await openTaskSession(source, 'segment', 'segmentation', opts, (io) => {
      if (io.output.shape.length !== 4 && io.output.shape.length !== 0) {
        throw new OnnxError(typeof source === 'string' ? source : source.path, `the model's output '${io.output.name}' has shape ${shapeText(io.output.shape)}; a segmentation model gives [N, classes, H, W]`);
      }
    }));
  }

  /**
   * Logits [n, classes, H, W] for n preprocessed images packed as [n, C, H, W] (the export makes the
   * output the input's size; a fixed-batch graph runs in chunks).
   */
  async run(data: Float32Array, n: number, chw: readonly [number, number, number]): Promise<{ logits: Float32Array; shape: [number, number, number, number] }> {
    const k = this.contract.names.length;
    const perImage = k * chw[1] * chw[2];
    const logits = new Float32Array(n * perImage);
    await this.chunks(data, n, chw, (y, rows, m, start) => {
      if (y.length !== rows * perImage) {
        throw new OnnxError(this.path, `the model gave ${y.length / rows} values per image; ${k} classes at ${chw[1]}×${chw[2]} pixels are ${perImage}`);
      }
      logits.set(y.subarray(0, m * perImage), start * perImage);
    });
    return { logits, shape: [n, k, chw[1], chw[2]] };
  }
}
