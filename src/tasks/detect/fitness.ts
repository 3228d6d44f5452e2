/**
 * Detection's fitness (what picks the best epoch) applied to a results.csv row, for the web UI's
 * reading of a run without a readable best checkpoint. Imports only plain metrics code, so the UI
 * (which must not load libtorch) can use it.
 */
import { detectionFitness } from '../../metrics/detect-metrics.js';

/** The fitness of a results.csv row (`mAP50`, `mAP50-95`), or null when it lacks them. */
export function detectRowFitness(row: Record<string, unknown>): number | null {
  const { mAP50: map50, 'mAP50-95': map50_95 } = row;
  return typeof map50 === 'number' && typeof map50_95 === 'number' ? detectionFitness(map50, map50_95) : null;
}
