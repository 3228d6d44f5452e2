/**
 * A small interactive line chart in SVG: one or more series over epochs. Pointer or arrow keys pick
 * an epoch and its values are shown (and announced); the numbers are also in the page's table.
 */
import { useId, useState, type KeyboardEvent, type PointerEvent } from 'react';

export interface Series {
  name: string;
  points: [number, number][];
}

const W = 480;
const H = 260;
const PAD = { left: 70, right: 14, top: 14, bottom: 40 };

/** About `n` round tick values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

/** `domain`: a y range always shown (e.g. [0, 1] for mAP), widened when the values leave it. */
export function LineChart({ title, series, yLabel, format = (v) => v.toFixed(3), domain }: { title: string; series: Series[]; yLabel: string; format?: (v: number) => string; domain?: [number, number] }) {
  const id = useId();
  const xs = [...new Set(series.flatMap((s) => s.points.map((p) => p[0])))].sort((a, b) => a - b);
  const ys = series.flatMap((s) => s.points.map((p) => p[1])).filter(Number.isFinite);
  const [at, setAt] = useState<number | null>(null);
  if (xs.length === 0 || ys.length === 0) return null;
  let [y0, y1] = [Math.min(...ys, ...(domain ? [domain[0]] : [])), Math.max(...ys, ...(domain ? [domain[1]] : []))];
  if (y0 === y1) [y0, y1] = [y0 - 0.5, y1 + 0.5];
  const yt = niceTicks(y0, y1);
  [y0, y1] = [Math.min(y0, yt[0]!), Math.max(y1, yt.at(-1)!)];
  const [x0, x1] = [xs[0]!, xs.at(-1)! === xs[0]! ? xs[0]! + 1 : xs.at(-1)!];
  const sx = (x: number): number => PAD.left + ((x - x0) / (x1 - x0)) * (W - PAD.left - PAD.right);
  const sy = (y: number): number => H - PAD.bottom - ((y - y0) / (y1 - y0)) * (H - PAD.top - PAD.bottom);
  const xt = xs.length <= 10 ? xs : niceTicks(x0, x1, 6).filter((x) => Number.isInteger(x));
  const sel = at === null ? null : xs[Math.min(at, xs.length - 1)]!;
  const values = sel === null ? [] : series.map((s) => ({ name: s.name, v: s.points.find((p) => p[0] === sel)?.[1] }));

  const onKey = (e: KeyboardEvent): void => {
    const moves: Record<string, number> = { ArrowRight: 1, ArrowUp: 1, ArrowLeft: -1, ArrowDown: -1 };
    if (e.key in moves) setAt((a) => Math.max(0, Math.min(xs.length - 1, (a ?? (moves[e.key]! > 0 ? -1 : xs.length)) + moves[e.key]!)));
    else if (e.key === 'Home') setAt(0);
    else if (e.key === 'End') setAt(xs.length - 1);
    else if (e.key === 'Escape') setAt(null);
    else return;
    e.preventDefault();
  };
  const onPointer = (e: PointerEvent<SVGSVGElement>): void => {
    const box = e.currentTarget.getBoundingClientRect();
    const x = x0 + (((e.clientX - box.left) / box.width) * W - PAD.left) / (W - PAD.left - PAD.right) * (x1 - x0);
    let best = 0;
    xs.forEach((v, i) => (Math.abs(v - x) < Math.abs(xs[best]! - x) ? (best = i) : 0));
    setAt(best);
  };

  return (
    <figure className="chart">
      <figcaption id={`${id}-t`}>
        <strong>{title}</strong>
        <span className="legend">
          {series.map((s, i) => (
            <span key={s.name} className={`key s${i}`}>{s.name}</span>
          ))}
        </span>
      </figcaption>
      <svg
        viewBox={`0 0 ${W} ${H}`}
        role="img"
        aria-labelledby={`${id}-t`}
        aria-describedby={`${id}-v`}
        tabIndex={0}
        onKeyDown={onKey}
        onPointerMove={onPointer}
        onPointerLeave={() => setAt(null)}
        onBlur={() => setAt(null)}
      >
        {yt.map((y) => (
          <g key={`y${y}`} className="grid">
            <line x1={PAD.left} x2={W - PAD.right} y1={sy(y)} y2={sy(y)} />
            <text x={PAD.left - 6} y={sy(y)} dy="0.32em" textAnchor="end">{format(y)}</text>
          </g>
        ))}
        {xt.map((x) => (
          <text key={`x${x}`} className="tick" x={sx(x)} y={H - PAD.bottom + 16} textAnchor="middle">{x}</text>
        ))}
        <text className="axis" x={(PAD.left + W - PAD.right) / 2} y={H - 6} textAnchor="middle">epoch</text>
        <text className="axis" transform={`translate(14 ${(PAD.top + H - PAD.bottom) / 2}) rotate(-90)`} textAnchor="middle">{yLabel}</text>
        {series.map((s, i) => (
          <g key={s.name} className={`series s${i}`}>
            <polyline points={s.points.filter((p) => Number.isFinite(p[1])).map(([x, y]) => `${sx(x)},${sy(y)}`).join(' ')} />
            {s.points.length <= 60 && s.points.filter((p) => Number.isFinite(p[1])).map(([x, y]) => <circle key={x} cx={sx(x)} cy={sy(y)} r={sel === x ? 5 : 3} />)}
          </g>
        ))}
        {sel !== null && <line className="cursor" x1={sx(sel)} x2={sx(sel)} y1={PAD.top} y2={H - PAD.bottom} />}
      </svg>
      <p id={`${id}-v`} className="readout" aria-live="polite">
        {sel === null ? 'Use the arrow keys or the pointer on the chart to read values.' : `Epoch ${sel}: ${values.map((v) => `${v.name} ${v.v === undefined ? '–' : format(v.v)}`).join(', ')}`}
      </p>
    </figure>
  );
}
