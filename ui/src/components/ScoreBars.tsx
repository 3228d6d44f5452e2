/** Top-k labels as a list of bars: the text carries the numbers, the bar only shows them. */
import type { Top } from '../api';

export const pct = (v: number): string => `${(v * 100).toFixed(v >= 0.995 || v < 0.001 ? 0 : 1)}%`;

export function ScoreBars({ top }: { top: Top }) {
  return (
    <ol className="bars">
      {top.map((t, i) => (
        <li key={`${t.label}-${i}`} className={i === 0 ? 'best' : undefined} data-label={t.label} data-score={t.score}>
          <span className="bar-label">{t.label}</span>
          <span className="bar-track" aria-hidden="true">
            <span className="bar-fill" style={{ width: `${Math.max(0, Math.min(1, t.score)) * 100}%` }} />
          </span>
          <span className="bar-value">{pct(t.score)}</span>
        </li>
      ))}
    </ol>
  );
}
