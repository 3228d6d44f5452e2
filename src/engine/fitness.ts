/**
 * Which epoch is `best`, in one place: the Trainer applies it as epochs end, the web UI to
 * results.csv for a run without a best checkpoint. Imports nothing, so the UI (which must not
 * load libtorch) can use it.
 */

/** Only a strictly fitter epoch replaces the best: of equally fit epochs the first stays best. */
export const isFitter = (fitness: number, best: number): boolean => fitness > best;

/**
 * The row the Trainer keeps as best when each row's fitness is `fitness(row)` (null: the row
 * cannot be scored), or null when no row can.
 *
 * @example
 * bestRow(parseCsv(text), classifyRowFitness)?.epoch; // the best epoch of a classification run
 */
export function bestRow<R>(rows: Iterable<R>, fitness: (row: R) => number | null): R | null {
  let best: R | null = null;
  let bestFitness = -Infinity;
  for (const row of rows) {
    const f = fitness(row);
    if (f !== null && isFitter(f, bestFitness)) {
      best = row;
      bestFitness = f;
    }
  }
  return best;
}
