/** Argument parsers shared by the commands: each rejects bad input with commander's one-line error. */
import { InvalidArgumentError } from 'commander';

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive integer.');
  return n;
}

export function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected an integer ≥ 0.');
  return n;
}

export function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number.');
  return n;
}

export function nonNegativeNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('expected a number ≥ 0.');
  return n;
}

/** Drops keys whose value is undefined (exactOptionalPropertyTypes-friendly option objects). */
export function defined<T extends Record<string, unknown>>(o: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as never;
}

/** `224` or `224,192` (h,w): a square or [h, w] size. */
export function sizeArg(value: string): number | [number, number] {
  const parts = value.split(',').map((s) => Number(s.trim()));
  if (parts.length > 2 || parts.some((n) => !Number.isInteger(n) || n <= 0)) throw new InvalidArgumentError('expected a positive integer or h,w.');
  return parts.length === 1 ? parts[0]! : [parts[0]!, parts[1]!];
}

/** `0.485,0.456,0.406`: a comma-separated list of numbers. */
export function numberList(value: string): number[] {
  const parts = value.split(',').map((s) => Number(s.trim()));
  if (value.trim() === '' || parts.some((n) => !Number.isFinite(n))) throw new InvalidArgumentError('expected comma-separated numbers.');
  return parts;
}
