/** Axis ticks at round numbers, and labels for them. */

export interface Ticks {
  /** Tick values, `step` apart, rounded to `decimals`. */
  ticks: number[];
  step: number;
  /** The axis domain: the first and last tick, or the range asked for with `inside`. */
  min: number;
  max: number;
  /** Decimal places that show every tick exactly. */
  decimals: number;
}

export interface TickOptions {
  /** At most this many ticks (default 6, at least 2). */
  maxTicks?: number;
  /** Whole-number steps only (epochs, class indices). */
  integer?: boolean;
  /** Keep the domain [min, max] as given and put ticks inside it, instead of widening the domain
   * to the enclosing ticks. */
  inside?: boolean;
}

const MANTISSAS = [1, 2, 2.5, 5];

/**
 * Round tick values for [min, max]: a step of 1, 2, 2.5 or 5 × 10^k, the smallest giving at most
 * `maxTicks` ticks. By default the ticks enclose the range (the domain grows to the first and last
 * tick). An empty range is widened around its value; non-finite bounds give [0, 1].
 *
 * @example
 * niceTicks(0, 1).ticks;                    // [0, 0.2, 0.4, 0.6, 0.8, 1]
 * niceTicks(0.9312, 0.9941).ticks;          // [0.92, 0.94, 0.96, 0.98, 1]
 * niceTicks(1, 3, { integer: true }).ticks; // [1, 2, 3]
 * niceTicks(1, 30, { inside: true }).ticks; // [5, 10, 15, 20, 25, 30]
 */
export function niceTicks(min: number, max: number, opts: TickOptions = {}): Ticks {
  const maxTicks = Math.max(2, Math.floor(opts.maxTicks ?? 6));
  const integer = opts.integer ?? false;
  let inside = opts.inside ?? false;
  if (!Number.isFinite(min) || !Number.isFinite(max)) [min, max] = [0, 1];
  if (min > max) [min, max] = [max, min];
  if (min === max) {
    const pad = integer || min === 0 ? 1 : Math.abs(min) * 0.1;
    [min, max] = [min - pad, max + pad];
    inside = false;
  }
  const range = max - min;
  if (!Number.isFinite(range)) return { ticks: [min, max], step: range, min, max, decimals: 0 };
  let exp = Math.floor(Math.log10(range / (maxTicks - 1)));
  for (let tries = 0; tries < 40; tries++, exp++) {
    for (const m of MANTISSAS) {
      if (integer && m === 2.5) continue;
      // dividing keeps 0.1, 0.01 … the closest doubles to the decimal values
      const step = exp >= 0 ? m * 10 ** exp : m / 10 ** -exp;
      if (integer && step < 1) continue;
      const lo = inside ? Math.ceil(min / step - 1e-9) : Math.floor(min / step + 1e-9);
      const hi = inside ? Math.floor(max / step + 1e-9) : Math.ceil(max / step - 1e-9);
      if (hi - lo + 1 > maxTicks) continue;
      const decimals = Math.max(0, -exp + (m === 2.5 ? 1 : 0));
      // `+ 0` turns -0 into 0
      const round = (v: number): number => (decimals > 0 && decimals <= 100 ? Number(v.toFixed(decimals)) : v) + 0;
      const ticks = Array.from({ length: Math.max(0, hi - lo + 1) }, (_, i) => round((lo + i) * step));
      const domain = inside || ticks.length === 0 ? [min, max] : [ticks[0]!, ticks[ticks.length - 1]!];
      return { ticks, step, min: domain[0]!, max: domain[1]!, decimals };
    }
  }
  return { ticks: [min, max], step: range, min, max, decimals: 0 };
}

/**
 * Labels for `t.ticks`, all in one style: fixed decimals (`0.0, 0.2 … 1.0`), or for very small or
 * very large steps exponents with a shared mantissa precision (`9.50e-6, 1.00e-5, 1.05e-5`).
 */
export function formatTicks(t: Ticks): string[] {
  const { ticks, step } = t;
  if (!(step < 1e-4 || step >= 1e6)) return ticks.map((v) => v.toFixed(Math.min(t.decimals, 100)));
  const mantissaDigits = (v: number): number => {
    let p = 0;
    while (p < 15 && Number(v.toExponential(p)) !== v) p++;
    return p;
  };
  const p = Math.max(0, ...ticks.map(mantissaDigits));
  return ticks.map((v) => (v === 0 ? '0' : v.toExponential(p).replace('e+', 'e')));
}
