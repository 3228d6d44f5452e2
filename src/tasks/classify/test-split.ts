import { fitPipeline } from '../../data/input-size.js';
import { DataLoader } from '../../data/loader.js';
import type { DataSource } from '../../data/sources.js';
import { loadCheckpoint } from '../../engine/checkpoint.js';
import type { ClassifierModel } from '../../models/registry.js';
import { classificationReport } from '../../metrics/classify.js';
import type { TrainArgs } from './config.js';
import { predictAll } from './evaluate.js';
import { loaderOpts } from './setup.js';

/** Evaluates the best checkpoint once on the test split (never used for model selection). */
export async function testBest(path: string, source: DataSource, args: TrainArgs, say: (l: string) => void, quiet: boolean): Promise<{ accuracy: number; top5: number | null; count: number }> {
  const best = loadCheckpoint<ClassifierModel>(path, { device: args.device as never, task: 'classify' });
  const loader = new DataLoader(source, { batchSize: Math.max(args.batch ?? 64, 256), transforms: fitPipeline(best.meta.preprocess.transforms, best.meta.preprocess.imgsz), seed: args.seed, ...loaderOpts(args) });
  try {
    const p = await predictAll(best.model, loader, { label: '  test', quiet, device: args.device as never });
    const r = classificationReport(p.yTrue, p.yPred, best.meta.classes, { scores: p.scores });
    say(`test (best epoch ${best.meta.epoch}): accuracy ${(r.accuracy * 100).toFixed(2)}%${r.top5 === null ? '' : ` · top5 ${(r.top5 * 100).toFixed(2)}%`} on ${p.yTrue.length} images`);
    return { accuracy: r.accuracy, top5: r.top5, count: p.yTrue.length };
  } finally {
    await loader.close();
    best.model.dispose();
    for (const t of best.extra.values()) t.dispose();
  }
}
