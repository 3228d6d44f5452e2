/**
 * Child process for the loader shutdown test: runs one scenario and returns without calling
 * close(); the parent checks that the process then exits by itself.
 *   node dist/test/data/loader-exit-child.js break|error|full
 */
import { DataLoader } from '../../src/data/loader.js';
import type { MemorySource } from '../../src/data/source.js';

const n = 300;
const source: MemorySource = {
  kind: 'memory', images: new Uint8Array(n * 16 * 16), height: 16, width: 16, channels: 1,
  labels: new Int32Array(n), ids: Array.from({ length: n }, (_, i) => String(i)),
};
const mode = process.argv[2];
if (mode !== 'break' && mode !== 'error' && mode !== 'full') process.exit(0); // picked up by a test-file glob: nothing to do
let batches = 0;
try {
  const transforms = mode === 'error' ? [{ op: 'toTensor' as const }, { op: 'hflip' as const, p: 1 }] : [{ op: 'randomCrop' as const, size: 16, padding: 2 }];
  const loader = new DataLoader(source, { batchSize: 10, shuffle: true, workers: 2, transforms });
  for await (const b of loader.epoch(0)) {
    b.dispose();
    if (++batches === 3 && mode === 'break') break;
  }
  console.log(`done ${mode} ${batches}`);
} catch (e) {
  console.log(`error ${mode} ${(e as Error).message}`);
}
