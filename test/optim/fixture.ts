// Reading test/fixtures/optim.json (written by test/fixtures/gen_optim.py) and comparing with it.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tensor, type DType, type Tensor } from '../../src/tensor/index.js';

export interface Enc {
  shape: number[];
  dtype: string;
  data: (number | string)[];
}

export interface OptimizerCase {
  kind: 'SGD' | 'Adam' | 'AdamW';
  options: Record<string, unknown>;
  second?: Record<string, unknown>;
  after: Enc[][];
}

export interface SchedulerCase {
  args: Record<string, unknown>;
  lrs: number[][];
  momentum?: number[][];
}

export interface ClipCase {
  maxNorm?: number;
  normType?: number | 'inf';
  clipValue?: number;
  total?: Enc;
  grads: Enc[];
}

export interface Fixture {
  params: Enc[];
  grads: (Enc | null)[][];
  optimizers: Record<string, OptimizerCase>;
  schedulers: Record<string, SchedulerCase>;
  clip: Record<string, ClipCase>;
  ema: { decay: number; tau: number; initial: Record<string, Enc>; states: Record<string, Enc>[]; ema: Record<string, Enc>[] };
}

// dist/test/optim/*.js → test/fixtures/optim.json
export const fixture = JSON.parse(readFileSync(fileURLToPath(new URL('../../../test/fixtures/optim.json', import.meta.url)), 'utf8')) as Fixture;

const num = (v: number | string): number => (typeof v === 'number' ? v : v === 'nan' ? NaN : v === 'inf' ? Infinity : -Infinity);

/** The fixture tensor as a new tensor (the caller owns it). */
export function dec(e: Enc): Tensor {
  return tensor(e.data.map(num), { shape: e.shape, dtype: e.dtype as DType });
}

/** Largest |actual − expected| over the elements, after checking the shape. */
export function maxAbsDiff(actual: Tensor, expected: Enc): number {
  assert.deepEqual(actual.shape, expected.shape);
  const a = actual.toArray();
  // float32 values are written in their shortest round-trip form: round back to float32 first.
  const exact = expected.dtype === 'float32' ? (v: number | string) => Math.fround(num(v)) : num;
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - exact(expected.data[i]!))), 0);
}

export function assertClose(actual: Tensor, expected: Enc, atol: number, what: string): void {
  const d = maxAbsDiff(actual, expected);
  assert.ok(d <= atol, `${what}: max |diff| ${d} > ${atol}`);
}

/** Same bytes (bitwise equal values, NaNs included). */
export function assertBitwise(a: Tensor, b: Tensor, what: string): void {
  assert.deepEqual(a.shape, b.shape, what);
  assert.ok(Buffer.from(a.dataSync().buffer).equals(Buffer.from(b.dataSync().buffer)), `${what}: not bitwise equal`);
}

/** |a − b| <= rtol·max(|a|, |b|) for each pair, with a tiny floor for values at 0. */
export function assertRelClose(actual: number[], expected: number[], rtol: number, what: string): void {
  assert.equal(actual.length, expected.length, what);
  actual.forEach((a, i) => {
    const e = expected[i]!;
    assert.ok(Math.abs(a - e) <= rtol * Math.max(Math.abs(a), Math.abs(e)) + 1e-15, `${what}[${i}]: ${a} vs ${e}`);
  });
}
