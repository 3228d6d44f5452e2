/** Validation of transform specs read from JSON (checkpoints, configs), with one-line errors. */
import { z } from 'zod';
import { DataError } from './errors.js';
import type { TransformSpec } from './transforms.js';

const size = z.union([z.number().int().positive(), z.tuple([z.number().int().positive(), z.number().int().positive()])]);
const range = z.tuple([z.number(), z.number()]);
const prob = z.number().min(0).max(1);

const schema = z.array(
  z.discriminatedUnion('op', [
    z.strictObject({ op: z.literal('resize'), size, maxSize: z.number().int().positive().optional(), interpolation: z.enum(['bilinear', 'bicubic']).optional(), rounding: z.literal('pil').optional() }),
    z.strictObject({ op: z.literal('centerCrop'), size }),
    z.strictObject({ op: z.literal('randomResizedCrop'), size, scale: range.optional(), ratio: range.optional() }),
    z.strictObject({ op: z.literal('randomCrop'), size, padding: z.number().int().min(0).optional(), fill: z.number().optional() }),
    z.strictObject({ op: z.literal('hflip'), p: prob.optional() }),
    z.strictObject({ op: z.literal('rotation'), degrees: z.union([z.number().min(0), range]), fill: z.number().optional() }),
    z.strictObject({ op: z.literal('letterbox'), size, fill: z.number().optional(), scaleup: z.boolean().optional() }),
    z.strictObject({ op: z.literal('randomAffine'), degrees: z.number().min(0).optional(), translate: z.number().min(0).max(0.5).optional(), scale: z.number().min(0).max(1).optional(), shear: z.number().min(0).max(89).optional(), fill: z.number().optional(), size: size.optional() }),
    z.strictObject({ op: z.literal('hsv'), h: z.number().min(0).max(0.5).optional(), s: z.number().min(0).max(1).optional(), v: z.number().min(0).max(1).optional() }),
    z.strictObject({ op: z.literal('mosaic'), size, p: prob.optional(), crop: z.boolean().optional() }),
    z.strictObject({ op: z.literal('colorJitter'), brightness: z.number().min(0).optional(), contrast: z.number().min(0).optional(), saturation: z.number().min(0).optional(), hue: z.number().min(0).max(0.5).optional() }),
    z.strictObject({ op: z.literal('grayscale'), channels: z.union([z.literal(1), z.literal(3)]).optional(), p: prob.optional() }),
    z.strictObject({ op: z.literal('trivialAugment'), bins: z.number().int().min(2).optional() }),
    z.strictObject({ op: z.literal('randAugment'), n: z.number().int().min(0).optional(), m: z.number().int().min(0).optional(), bins: z.number().int().min(2).optional() }),
    z.strictObject({ op: z.literal('randomErasing'), p: prob.optional(), scale: range.optional(), ratio: range.optional(), value: z.number().optional() }),
    z.strictObject({ op: z.literal('toTensor') }),
    z.strictObject({ op: z.literal('normalize'), mean: z.array(z.number()).min(1), std: z.array(z.number().positive()).min(1) }),
  ]),
);

/**
 * Checks a transform list read from JSON.
 *
 * @example
 * const specs = parseTransforms(JSON.parse(text).transforms);
 */
export function parseTransforms(value: unknown): TransformSpec[] {
  const r = schema.safeParse(value);
  if (r.success) return r.data as TransformSpec[];
  const issue = r.error.issues[0]!;
  throw new DataError(`invalid transform spec at ${issue.path.join('.') || '(root)'}: ${issue.message}`);
}
