// Kestrel side of the memory-epochs benchmark (peer: bench/mnist.py): a smallcnn MNIST run through
// the library API with the CLI's defaults (as `kestrel train --data mnist --model smallcnn
// --workers 0`), recording the resident set size after each epoch (validation and checkpoints
// done). Prints one JSON line: {"accuracy": last epoch's, "rssMB": {epoch: RSS}, "peakRssMB": ...,
// "epochPeakMB": {epoch: peak RSS during that epoch}, "detail": {...}}.
//   node dist/bench/mnist-epochs.js --data mnist --epochs 10 --project DIR
// (the bench runner sets KESTREL_THREADS; --data fashion-mnist with KESTREL_FASHION_MNIST_DIR
// pointing at a cut-down copy is how it runs on a subset).
import { parseArgs } from 'node:util';
import { getHeapSpaceStatistics } from 'node:v8';
import { train } from '../src/tasks/classify/train.js';
import { cacheInfo, heapInfo, memory } from '../src/tensor/index.js';
import { resetPeakRss, rssMB } from './rss.js';

const { values } = parseArgs({
  options: {
    data: { type: 'string', default: 'mnist' },
    epochs: { type: 'string', default: '10' },
    batch: { type: 'string', default: '64' },
    project: { type: 'string' },
  },
});
if (!values.project) throw new Error('--project is required');
const rss: Record<number, number> = {};
/** Peak RSS within each epoch (training, validation, checkpoints, plots), where VmHWM can be reset. */
const epochPeak: Record<number, number> = {};
let peak = 0;
/**
 * Per epoch, beside RSS: the V8 heap, memory outside it (ArrayBuffers included), live tensors,
 * malloc's bytes in use and free-but-kept, and the caching allocator's reserved and cached bytes
 * and misses (blocks newly mapped), in MiB / count.
 */
interface Detail {
  heapMB: number;
  heapTotalMB: number;
  /** Committed bytes of V8's young generation (new space) and old generation (old space). */
  newSpaceMB: number;
  oldSpaceMB: number;
  rssAnonMB: number;
  rssFileMB: number;
  externalMB: number;
  arrayBuffersMB: number;
  tensors: number;
  mallocInUseMB?: number;
  mallocFreeMB?: number;
  mallocMmappedMB?: number;
  cacheReservedMB: number;
  cacheCachedMB: number;
  cacheMisses: number;
}
const detail: Record<number, Detail> = {};
const mb = (b: number): number => Math.round((b / 2 ** 20) * 10) / 10;
const space = (name: string): number => getHeapSpaceStatistics().find((s) => s.space_name === name)?.space_size ?? 0;
let accuracy = 0;
await train(
  { data: values.data!, model: 'smallcnn', epochs: Number(values.epochs), batch: Number(values.batch), workers: 0, project: values.project, name: 'memory' },
  {
    quiet: true,
    log: () => {},
    onEpoch: (row) => {
      accuracy = row.val_accuracy;
      rss[row.epoch] = rssMB('VmRSS');
      const hwm = rssMB('VmHWM');
      peak = Math.max(peak, hwm);
      if (resetPeakRss()) epochPeak[row.epoch] = hwm;
      const m = process.memoryUsage();
      const c = heapInfo();
      const k = cacheInfo();
      detail[row.epoch] = {
        heapMB: mb(m.heapUsed),
        heapTotalMB: mb(m.heapTotal),
        newSpaceMB: mb(space('new_space')),
        oldSpaceMB: mb(space('old_space')),
        rssAnonMB: Math.round(rssMB('RssAnon') * 10) / 10,
        rssFileMB: Math.round(rssMB('RssFile') * 10) / 10,
        externalMB: mb(m.external),
        arrayBuffersMB: mb(m.arrayBuffers),
        tensors: memory().tensors,
        ...(c ? { mallocInUseMB: mb(c.inUse), mallocFreeMB: mb(c.free), mallocMmappedMB: mb(c.mmapped) } : {}),
        cacheReservedMB: mb(k.reserved),
        cacheCachedMB: mb(k.cached),
        cacheMisses: k.misses,
      };
    },
  },
);
console.log(JSON.stringify({ accuracy, rssMB: rss, peakRssMB: Math.max(peak, rssMB()), epochPeakMB: epochPeak, detail }));
