/**
 * Transforms on whole samples: the image as applyTransform does it (the same random draws, so the
 * same pixels), and the boxes, mask and geometry moved by every geometric op. Photometric ops
 * leave the targets as they are.
 */
import { applyOp, drawRand, drawTrivial, opMap, type DrawnOp } from './augment.js';
import { geometricStep } from './geometric.js';
import type { Rng } from './rng.js';
import { moveSample, type Sample } from './targets.js';
import { applyTransform, applyTransforms, type TransformSpec } from './transforms.js';

export type { Sample, SampleGeometry } from './targets.js';

function augment(s: Sample, ops: DrawnOp[]): Sample {
  for (const { op, mag } of ops) s = moveSample(s, opMap(op, mag, s.img.width, s.img.height), applyOp(s.img, op, mag));
  return s;
}

/**
 * Applies one transform to a sample and its targets.
 *
 * @example
 * const s = applySampleTransform({ img, boxes: Float32Array.of(10, 10, 30, 20), classes: Int32Array.of(2) }, { op: 'hflip', p: 1 }, new Rng(0));
 * s.boxes; // Float32Array [W − 30, 10, W − 10, 20]
 */
export function applySampleTransform(s: Sample, t: TransformSpec, rng: Rng): Sample {
  if (t.op === 'trivialAugment') return augment(s, drawTrivial(s.img, rng, t.bins));
  if (t.op === 'randAugment') return augment(s, drawRand(s.img, rng, t.n, t.m, t.bins));
  const step = geometricStep(s.img, t, rng);
  if (step) return moveSample(s, step.map, step.apply(s.img));
  return { ...s, img: applyTransform(s.img, t, rng) };
}

/** Runs a pipeline on a sample; the image ends as CHW floats (toTensor implied), as applyTransforms. */
export function applySampleTransforms(s: Sample, specs: readonly TransformSpec[], rng: Rng): Sample & { img: { data: Float32Array } } {
  for (const t of specs) s = applySampleTransform(s, t, rng);
  return { ...s, img: applyTransforms(s.img, [], rng) };
}

/** Ops that move coordinates by a scale and a shift per axis, for which a sample's geometry stays known. */
const AXIS_ALIGNED = new Set<TransformSpec['op']>(['resize', 'centerCrop', 'randomResizedCrop', 'randomCrop', 'hflip', 'letterbox']);
const GEOMETRIC = new Set<TransformSpec['op']>([...AXIS_ALIGNED, 'rotation', 'randomAffine', 'mosaic', 'trivialAugment', 'randAugment']);

/** The first op of `specs` after which a sample's geometry (input = original·scale + pad) is lost, if any. */
export const geometryBreaker = (specs: readonly TransformSpec[]): TransformSpec['op'] | undefined =>
  specs.find((t) => GEOMETRIC.has(t.op) && !AXIS_ALIGNED.has(t.op))?.op;
