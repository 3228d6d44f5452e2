/**
 * The eval pipeline as it is run: it always ends at the network's input size. A pipeline saved
 * without a fixed-size op (an MNIST checkpoint's is just `normalize`, its images were all 28×28)
 * would otherwise hand the network whatever size the image has: one odd image stops a batch, and a
 * 6000×6000 photo goes through the convolutions at full size. Pure data, no Node imports: the
 * browser runs it on the transforms the server describes.
 */
import type { TransformSpec } from './transforms.js';

type Size = number | readonly [number, number];

const pairOf = (s: Size): [number, number] => (typeof s === 'number' ? [s, s] : [s[0], s[1]]);

/** Ops that run on the finished sample (CHW floats or either layout); a completing resize goes before them. */
const TENSOR_SIDE: ReadonlySet<TransformSpec['op']> = new Set(['normalize', 'toTensor', 'randomErasing']);

/**
 * The [h, w] every sample has after the pipeline, or null when it depends on the input image's
 * size (no fixed-size op, or a resize of the shorter side last).
 *
 * @example
 * pipelineOutputSize([{ op: 'resize', size: 32 }, { op: 'centerCrop', size: 28 }]); // [28, 28]
 * pipelineOutputSize([{ op: 'normalize', mean: [0.5], std: [0.5] }]);              // null
 */
export function pipelineOutputSize(specs: readonly TransformSpec[]): [number, number] | null {
  let size: [number, number] | null = null;
  for (const t of specs) {
    switch (t.op) {
      case 'resize':
        size = typeof t.size === 'number' ? null : pairOf(t.size);
        break;
      case 'centerCrop':
      case 'randomResizedCrop':
      case 'randomCrop':
        size = pairOf(t.size);
        break;
      // Flips, rotations, colour and augmentation ops, erasing and the tensor ops keep the size.
      default:
        break;
    }
  }
  return size;
}

/**
 * The pipeline, ending at `imgsz` ([h, w], or a number for a square): unchanged when it already
 * does, else with a resize to exactly [h, w] before its trailing tensor ops (normalize, toTensor,
 * randomErasing). Images already at [h, w] are not touched by that resize (it copies them), so a
 * model sees its own data exactly as before.
 *
 * @example
 * fitPipeline([{ op: 'normalize', mean: [0.5], std: [0.5] }], 28);
 * // [{ op: 'resize', size: [28, 28] }, { op: 'normalize', mean: [0.5], std: [0.5] }]
 */
export function fitPipeline(specs: readonly TransformSpec[], imgsz: Size): TransformSpec[] {
  const [h, w] = pairOf(imgsz);
  const out = pipelineOutputSize(specs);
  if (out !== null && out[0] === h && out[1] === w) return [...specs];
  let at = specs.length;
  while (at > 0 && TENSOR_SIDE.has(specs[at - 1]!.op)) at--;
  return [...specs.slice(0, at), { op: 'resize', size: [h, w] }, ...specs.slice(at)];
}
