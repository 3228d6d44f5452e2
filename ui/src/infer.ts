/**
 * Prediction in this browser: the model's .onnx bytes run on ONNX Runtime Web (WebAssembly), and
 * images are prepared by the same transform code the server runs (src/data), so the top classes
 * agree with the server's; a detector's output goes through the same NMS and un-letterboxing
 * (src/tasks/detect/postprocess.ts), a segmentation model's through the same resize to the image,
 * argmax and shares (src/tasks/segment/postprocess.ts). Nothing is uploaded: the image stays on
 * this machine.
 */
import * as ort from 'onnxruntime-web/wasm';
import { fitPipeline } from '../../src/data/input-size';
import { fromRgba } from '../../src/data/rgba';
import { Rng } from '../../src/data/rng';
import { applySampleTransforms } from '../../src/data/sample';
import { applyTransforms, type TransformSpec } from '../../src/data/transforms';
import { NMS_PREDICT } from '../../src/metrics/nms';
import type { PredictedBox } from '../../src/plot/box-overlay';
import type { SampleGeometry } from '../../src/data/targets';
import { detectionsOf, toOriginal } from '../../src/tasks/detect/postprocess';
import { maskFromLogits, sharesOf } from '../../src/tasks/segment/postprocess';
import { request, type ModelInfo, type SegmentView, type Top } from './api';

// The .mjs loader and .wasm binary sit in ort/ beside the page (copied there by the build).
ort.env.wasm.wasmPaths = new URL('ort/', document.baseURI).href;
// Threads need SharedArrayBuffer, which the server's cross-origin isolation headers allow.
ort.env.wasm.numThreads = globalThis.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;

/** Decodes an image file to the 8-bit pixels the server's decoder would give (EXIF orientation applied, alpha on white). */
export async function decodeFile(file: Blob, channels: 1 | 3): Promise<ReturnType<typeof fromRgba>> {
  const bitmap = await createImageBitmap(file, { imageOrientation: 'from-image', premultiplyAlpha: 'none', colorSpaceConversion: 'none' });
  try {
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    if (ctx === null) throw new Error('this browser gives no 2D canvas');
    ctx.drawImage(bitmap, 0, 0);
    const { data } = ctx.getImageData(0, 0, bitmap.width, bitmap.height);
    return fromRgba(data, bitmap.width, bitmap.height, channels);
  } finally {
    bitmap.close();
  }
}

/** The model's eval pipeline, ending in normalize(mean, std) and at the input size, as the server's does. */
export function pipeline(m: ModelInfo): TransformSpec[] {
  const t = m.transforms.filter((s) => s.op !== 'toTensor');
  return fitPipeline(t.some((s) => s.op === 'normalize') ? t : [...t, { op: 'normalize', mean: m.mean, std: m.std }], m.imgsz);
}

/** The k best classes, best first (equal scores: lower class index first, as the server). */
export function topK(scores: Float32Array | number[], names: string[], k: number): Top {
  const order = Array.from(scores, (_, i) => i).sort((a, b) => scores[b]! - scores[a]! || a - b);
  return order.slice(0, Math.min(k, names.length)).map((i) => ({ label: names[i] ?? String(i), score: scores[i]! }));
}

function softmax(x: Float32Array): Float32Array {
  let max = -Infinity;
  for (const v of x) max = Math.max(max, v);
  let sum = 0;
  const e = x.map((v) => {
    const y = Math.exp(v - max);
    sum += y;
    return y;
  });
  return e.map((v) => v / sum);
}

/** A loaded model: one ONNX Runtime Web session per model id, made on first use. */
export class BrowserModel {
  private constructor(readonly info: ModelInfo, private readonly session: ort.InferenceSession) {}

  static async load(info: ModelInfo): Promise<BrowserModel> {
    const bytes = new Uint8Array(await (await request(info.onnx)).arrayBuffer());
    const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
    return new BrowserModel(info, session);
  }

  async classify(file: Blob, k: number): Promise<Top> {
    const { channels, imgsz, names, output } = this.info;
    const img = applyTransforms(await decodeFile(file, channels), pipeline(this.info), new Rng(0));
    if (img.channels !== channels || img.height !== imgsz[0] || img.width !== imgsz[1]) {
      throw new Error(`the transforms give ${img.channels}×${img.height}×${img.width} images; the model takes ${channels}×${imgsz[0]}×${imgsz[1]}`);
    }
    const scores = await this.run(img.data);
    return topK(output === 'logits' ? softmax(scores) : scores, names, k);
  }

  /**
   * A detector's boxes for one image, best first, in the image's own pixels: the contract's
   * transforms (a letterbox) with the geometry tracked, then the server's NMS defaults
   * (conf 0.25, IoU 0.7, at most 300 boxes) and the letterbox undone.
   */
  async detect(file: Blob): Promise<PredictedBox[]> {
    const { names } = this.info;
    const s = await this.letterboxed(file);
    const out = await this.run(s.data);
    const d = toOriginal(detectionsOf(out, 0, names.length, out.length / (4 + names.length), NMS_PREDICT), s.geometry);
    return Array.from(d.scores, (score, i) => ({
      label: names[d.classes[i]!] ?? String(d.classes[i]!), class: d.classes[i]!, score,
      box: [d.boxes[i * 4]!, d.boxes[i * 4 + 1]!, d.boxes[i * 4 + 2]!, d.boxes[i * 4 + 3]!],
    }));
  }

  /**
   * A segmentation model's mask of one image, at the image's own size, and each class's share of
   * it: the contract's letterbox with the geometry tracked, then the server's resize of the logits
   * to the image and argmax.
   */
  async segment(file: Blob): Promise<SegmentView> {
    const { names, imgsz } = this.info;
    const s = await this.letterboxed(file);
    const logits = await this.run(s.data);
    const m = maskFromLogits(logits, names.length, imgsz, s.geometry);
    return { mask: m.mask, width: m.width, height: m.height, shares: sharesOf(m.mask, names) };
  }

  /** The image through the contract's transforms (a letterbox) with where the input came from in it. */
  private async letterboxed(file: Blob): Promise<{ data: Float32Array; geometry: SampleGeometry }> {
    const { channels, imgsz, transforms } = this.info;
    const img = await decodeFile(file, channels);
    const s = applySampleTransforms({ img, geometry: { size: [img.height, img.width], scale: [1, 1], pad: [0, 0] } }, transforms.filter((t) => t.op !== 'toTensor'), new Rng(0));
    if (s.img.height !== imgsz[0] || s.img.width !== imgsz[1] || !s.geometry) {
      throw new Error(`the transforms give ${s.img.channels}×${s.img.height}×${s.img.width} images${s.geometry ? '' : ' without a letterbox to undo'}; the model takes ${channels}×${imgsz[0]}×${imgsz[1]}`);
    }
    return { data: s.img.data, geometry: s.geometry };
  }

  /** The first output of the model for one prepared image (CHW floats). */
  private async run(chw: Float32Array): Promise<Float32Array> {
    const { channels, imgsz } = this.info;
    const input = new ort.Tensor('float32', chw, [1, channels, imgsz[0], imgsz[1]]);
    const result = await this.session.run({ [this.session.inputNames[0]!]: input });
    return result[this.session.outputNames[0]!]!.data as Float32Array;
  }
}
