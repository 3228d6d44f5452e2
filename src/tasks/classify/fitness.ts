/**
 * Classification's fitness (what picks the best epoch), shared by the validation hook and the web
 * UI's reading of results.csv. Imports nothing, so the UI (which must not load libtorch) can use it.
 */

/** Accuracy first; between equal accuracies the lower loss wins. */
export const classifyFitness = (accuracy: number, loss: number): number => accuracy - 1e-6 * loss;

/**
 * The fitness of a results.csv row (`val_accuracy`, `val_loss`), or null when it lacks them. The
 * CSV keeps 7 significant digits, so losses that differ only beyond them count as a tie.
 */
export function classifyRowFitness(row: Record<string, unknown>): number | null {
  const { val_accuracy: accuracy, val_loss: loss } = row;
  return typeof accuracy === 'number' && typeof loss === 'number' ? classifyFitness(accuracy, loss) : null;
}
