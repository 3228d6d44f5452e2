/**
 * Shared test helpers: PyTorch fixtures (written by test/fixtures/gen_*.py with Debian's
 * python3-torch), tensors rebuilt from them, and closeness checks that report the max abs diff.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { memory, tensor, tidy, type DType, Tensor } from '../src/tensor/index.js';

/** The fixtures folder in the source tree (tests run from dist/test/…). */
export const FIXTURES = fileURLToPath(new URL('../../test/fixtures/', import.meta.url));

/** One tensor as the fixture scripts write it: flat row-major data, non-finite values as strings. */
export interface Enc {
  shape: number[];
  dtype: DType;
  data: (number | string)[];
  /** Set on inputs that require grad. */
  grad?: boolean;
}

export interface Case {
  inputs?: Record<string, Enc>;
  outputs: Enc[];
  /** The gradient fed back into each output (null for outputs that are not differentiable). */
  upstream?: (Enc | null)[];
  /** Gradients of sum(outputs[i] * upstream[i]) w.r.t. the inputs (and parameters) by name. */
  grads?: Record<string, Enc>;
  args?: Record<string, unknown>;
  [extra: string]: unknown;
}

export type Fixture = Record<string, Case>;

const cache = new Map<string, Fixture>();

/** Reads test/fixtures/<name>.json (once per process). */
export function loadFixture(name: string): Fixture {
  let f = cache.get(name);
  if (f === undefined) {
    f = JSON.parse(readFileSync(`${FIXTURES}${name}.json`, 'utf8')) as Fixture;
    cache.set(name, f);
  }
  return f;
}

const NONFINITE: Record<string, number> = { inf: Infinity, '-inf': -Infinity, nan: NaN };

/** An encoded tensor's elements as numbers. */
export function values(e: Enc): number[] {
  return e.data.map((v) => (typeof v === 'number' ? v : NONFINITE[v]!));
}

/** Rebuilds a fixture tensor with its own dtype; `requiresGrad` defaults to the fixture's flag. */
export function fromEnc(e: Enc, requiresGrad = e.grad ?? false): Tensor {
  const v = values(e);
  const opts = { shape: e.shape };
  let t: Tensor;
  switch (e.dtype) {
    case 'int64': t = tensor(BigInt64Array.from(v, (x) => BigInt(x)), opts); break;
    case 'int32': t = tensor(Int32Array.from(v), opts); break;
    case 'bool': t = tensor(Uint8Array.from(v), { ...opts, dtype: 'bool' }); break;
    case 'float64': t = tensor(Float64Array.from(v), opts); break;
    case 'float32': t = tensor(Float32Array.from(v), opts); break;
    default: throw new TypeError(`fixture dtype ${e.dtype} is not handled`);
  }
  return requiresGrad ? t.requiresGrad_(true) : t;
}

function expectedOf(expected: Enc | Tensor | number[] | number): { v: number[]; shape?: number[]; dtype?: DType } {
  if (typeof expected === 'number') return { v: [expected] };
  if (Array.isArray(expected)) return { v: expected };
  if (expected instanceof Tensor) return { v: expected.toArray(), shape: expected.shape, dtype: expected.dtype };
  // The JSON holds float32 values in shortest form: round them back to the exact float32.
  const v = expected.dtype === 'float32' ? values(expected).map(Math.fround) : values(expected);
  return { v, shape: expected.shape, dtype: expected.dtype };
}

/** The largest |a - e| (NaN against NaN and equal infinities count as 0) and where it is. */
export function maxAbsDiff(actual: ArrayLike<number>, expected: ArrayLike<number>): { diff: number; at: number } {
  let diff = 0;
  let at = -1;
  for (let i = 0; i < expected.length; i++) {
    const [a, e] = [actual[i]!, expected[i]!];
    if ((Number.isNaN(a) && Number.isNaN(e)) || a === e) continue;
    const d = Number.isNaN(a) || Number.isNaN(e) ? Infinity : Math.abs(a - e);
    if (!(d <= diff)) { diff = d; at = i; }
  }
  return { diff, at };
}

/**
 * Asserts that `actual` matches `expected` elementwise within `atol` (absolute), and in shape and
 * dtype when the expectation carries them. The failure message gives the max abs diff and where.
 */
export function assertClose(actual: Tensor | number[] | number, expected: Enc | Tensor | number[] | number, atol = 1e-5, what = 'value'): void {
  const exp = expectedOf(expected);
  let got: number[];
  if (actual instanceof Tensor) {
    if (exp.shape) assert.deepEqual(actual.shape, exp.shape, `${what}: shape [${actual.shape}] vs expected [${exp.shape}]`);
    if (exp.dtype) assert.equal(actual.dtype, exp.dtype, `${what}: dtype ${actual.dtype} vs expected ${exp.dtype}`);
    got = actual.toArray();
  } else {
    got = typeof actual === 'number' ? [actual] : actual;
  }
  assert.equal(got.length, exp.v.length, `${what}: ${got.length} elements vs expected ${exp.v.length}`);
  const { diff, at } = maxAbsDiff(got, exp.v);
  assert.ok(diff <= atol, `${what}: max abs diff ${diff} > ${atol} at flat index ${at} (got ${got[at]}, expected ${exp.v[at]})`);
}

/** Tolerance for a tensor's dtype: exact for integers and booleans. */
const tolFor = (e: Enc, atol: number): number => (e.dtype.startsWith('float') ? atol : 0);

/** The case's inputs as tensors (those marked `grad` require grad). */
export function buildInputs(c: Case): Record<string, Tensor> {
  return Object.fromEntries(Object.entries(c.inputs ?? {}).map(([k, e]) => [k, fromEnc(e)]));
}

/** Backpropagates `upstream[i]` through each output that has one (Σ outputs[i]·upstream[i]). */
export function backwardUpstream(outs: Tensor[], upstream: (Enc | null)[]): void {
  const pairs = outs.flatMap((o, i) => (upstream[i] ? [[o, fromEnc(upstream[i]!, false)] as const] : []));
  if (pairs.length === 0) throw new Error('case has grads but no upstream gradient');
  if (pairs.length === 1) {
    pairs[0]![0].backward(pairs[0]![1]);
    return;
  }
  pairs.map(([o, u]) => o.mul(u).sum()).reduce((a, b) => a.add(b)).backward();
}

export type Outputs = Tensor | Tensor[] | { values: Tensor; indices: Tensor };

function outputList(out: Outputs): Tensor[] {
  if (out instanceof Tensor) return [out];
  if (Array.isArray(out)) return out;
  return [out.values, out.indices];
}

/** Compares a list of outputs with the case's expected outputs. */
export function assertOutputs(outs: Tensor[], c: Case, atol = 1e-5): void {
  assert.equal(outs.length, c.outputs.length, `${outs.length} outputs vs expected ${c.outputs.length}`);
  outs.forEach((o, i) => assertClose(o, c.outputs[i]!, tolFor(c.outputs[i]!, atol), `output ${i}`));
}

/**
 * The whole fixture check for one case, inside a scope that frees everything it made: rebuild the
 * inputs, run `fn`, compare the outputs, backpropagate the fixture's upstream gradient and compare
 * the gradient of every input that requires grad.
 */
export function checkCase<A = Record<string, unknown>>(c: Case, fn: (t: Record<string, Tensor>, args: A) => Outputs, atol = 1e-5): void {
  tidy(() => {
    const t = buildInputs(c);
    const outs = outputList(fn(t, (c.args ?? {}) as A));
    assertOutputs(outs, c, atol);
    if (!c.grads) return;
    backwardUpstream(outs, c.upstream ?? []);
    for (const [k, g] of Object.entries(c.grads)) {
      const grad = t[k]!.grad;
      assert.ok(grad !== null, `input '${k}' got no gradient`);
      assertClose(grad, g, atol, `grad of ${k}`);
    }
  });
}

/** Asserts that a table of implementations covers exactly the fixture's cases (no silent gaps). */
export function assertCovers(fixture: Fixture, impl: Record<string, unknown>, prefix = ''): void {
  const want = Object.keys(fixture).filter((k) => k.startsWith(prefix)).sort();
  const have = Object.keys(impl).sort();
  assert.deepEqual(have.filter((k) => !want.includes(k)), [], 'implementations without a fixture case');
  assert.deepEqual(want.filter((k) => !have.includes(k)), [], 'fixture cases without a test');
}

/** Runs `fn` and asserts it freed every tensor it made (live handle count back to where it was). */
export function assertNoLeak(fn: () => void): void {
  const before = memory().tensors;
  fn();
  assert.equal(memory().tensors, before, 'live tensors after vs before');
}
