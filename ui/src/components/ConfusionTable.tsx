/** The confusion matrix as a table (true class per row, predicted per column), cells shaded by their share of the row. */
import type { CSSProperties } from 'react';

export function ConfusionTable({ classes, matrix, caption }: { classes: string[]; matrix: number[][]; caption: string }) {
  return (
    <div className="scroll" tabIndex={0} role="region" aria-label={caption}>
      <table className="confusion">
        <caption>{caption}</caption>
        <thead>
          <tr>
            <th scope="col"><span className="visually-hidden">True class</span><span aria-hidden="true">true ↓ · predicted →</span></th>
            {classes.map((c) => <th key={c} scope="col">{c}</th>)}
          </tr>
        </thead>
        <tbody>
          {matrix.map((row, i) => {
            const total = row.reduce((a, b) => a + b, 0) || 1;
            return (
              <tr key={classes[i] ?? i}>
                <th scope="row">{classes[i] ?? i}</th>
                {row.map((v, j) => (
                  <td key={j} className={i === j ? 'diag' : v > 0 ? 'off' : undefined} style={{ '--share': v / total } as CSSProperties}>{v}</td>
                ))}
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
