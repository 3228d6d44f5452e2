/**
 * Detection's fitness (what picks the best epoch), as Ultralytics': 0.1 · mAP50 + 0.9 · mAP50-95.
 * Imports nothing, so the web UI (which must not load libtorch) can apply it to results.csv.
 */

export const detectFitness = (map50: number, map50_95: number): number => 0.1 * map50 + 0.9 * map50_95;

/** The fitness of a results.csv row (`mAP50`, `mAP50-95`), or null when it lacks them. */
export function detectRowFitness(row: Record<string, unknown>): number | null {
  const { mAP50: map50, 'mAP50-95': map50_95 } = row;
  return typeof map50 === 'number' && typeof map50_95 === 'number' ? detectFitness(map50, map50_95) : null;
}
