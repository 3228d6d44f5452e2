/** Seeded, stratified train/val splits. */
import { Rng } from './rng.js';

/**
 * Splits sample indices so each class keeps `fraction` of its samples for validation (rounded;
 * a class of one sample stays in train). Seeded: the same (labels, fraction, seed) gives the same split.
 *
 * @example
 * const { train, val } = stratifiedSplit(labels, 0.1, 0); // index arrays
 */
export function stratifiedSplit(labels: ArrayLike<number>, fraction: number, seed: number): { train: number[]; val: number[] } {
  if (!(fraction > 0 && fraction < 1)) throw new RangeError(`valFraction must be in (0, 1), got ${fraction}`);
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const c = labels[i]!;
    const list = byClass.get(c);
    if (list) list.push(i);
    else byClass.set(c, [i]);
  }
  const rng = new Rng(seed);
  const train: number[] = [];
  const val: number[] = [];
  for (const c of [...byClass.keys()].sort((a, b) => a - b)) {
    const idx = rng.shuffle(byClass.get(c)!);
    const nVal = idx.length < 2 ? 0 : Math.min(idx.length - 1, Math.round(idx.length * fraction));
    val.push(...idx.slice(0, nVal));
    train.push(...idx.slice(nVal));
  }
  const asc = (a: number, b: number): number => a - b;
  return { train: train.sort(asc), val: val.sort(asc) };
}
