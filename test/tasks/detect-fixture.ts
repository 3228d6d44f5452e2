// A detector with fixed weights for the export and serving tests, which compare boxes from two
// back ends and need real ones.
//
// Fixed weights set on top of a detector's own: a detector trained
// for the minutes a confident one needs (hundreds of steps) is too slow for a test on two cores,
// and a barely trained one scores every anchor about 0.001 alike, so the comparison would be of
// empty lists or of near-ties. So its batch-norm statistics are set from the training images, its
// box branch is sharpened (weights ×20: peaked distance distributions, boxes of varied sizes), and
// each level's class bias is set so that about 1 % of its logits on those images are positive.
import { DataLoader } from '../../src/data/loader.js';
import { resolveDetectData } from '../../src/data/yolo.js';
import { saveCheckpoint, type CheckpointMeta } from '../../src/engine/checkpoint.js';
import type { YOLOv8 } from '../../src/models/yolo.js';
import type { Conv2d } from '../../src/nn/conv.js';
import { BatchNorm2d } from '../../src/nn/norm.js';
import { noGrad, tidy } from '../../src/tensor/index.js';

/** Sets the fixed weights described at the top on `model` and saves it with `meta` to `out` (disposing the model). */
export async function fixWeights(model: YOLOv8, meta: CheckpointMeta<'detect'>, yaml: string, out: string): Promise<void> {
  const data = await resolveDetectData(yaml);
  const loader = new DataLoader(data.splits.train, { batchSize: 8, transforms: meta.preprocess.transforms, seed: 0, workers: 0 });
  const norms = [...model.namedModules()].map(([, m]) => m).filter((m): m is BatchNorm2d => m instanceof BatchNorm2d);
  const setMomentum = (m: BatchNorm2d, v: number): void => void ((m as { momentum: number }).momentum = v);
  const last = (s: { at(i: number): unknown }): Conv2d => s.at(-1) as Conv2d;
  try {
    for await (const batch of loader.epoch(0)) {
      using _batch = batch;
      noGrad(() => {
        model.train();
        for (const m of norms) setMomentum(m, 1);
        tidy(() => void model.forward(batch.images));
        for (const m of norms) setMomentum(m, 0.03);
        model.eval();
        for (const s of model.detect.cv2.items) {
          last(s).weight.mul_(20);
          last(s).bias!.fill_(0);
        }
        for (const s of model.detect.cv3.items) last(s).bias!.fill_(0);
        const logits = tidy(() => model.forward(batch.images).maps.map((m) => m.narrow(1, 4 * model.regMax, meta.classes.length).flatten().toArray()));
        logits.forEach((l, i) => {
          const sorted = Float64Array.from(l).sort();
          last(model.detect.cv3.items[i]!).bias!.fill_(-sorted[Math.floor(0.99 * sorted.length)]!);
        });
      });
      break;
    }
  } finally {
    await loader.close();
  }
  saveCheckpoint(out, model, meta);
  model.dispose();
}
