/**
 * Loader worker thread: receives BatchJobs, answers BatchResults (the pixel, mask and box buffers
 * transferred, not copied) or an error. Started by WorkerPool with the source view and pipeline config.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { processBatch, type BatchJob, type PipelineConfig, type SourceView } from './batch.js';
import type { Reply } from './pool.js';

const { source, config } = workerData as { source: SourceView; config: PipelineConfig };
const port = parentPort!;

/** Buffers of earlier batches, sent back by the main thread once their tensors were freed. */
const spare: ArrayBuffer[] = [];

port.on('message', ({ id, job, give }: { id: number; job: BatchJob; give: ArrayBuffer[] }) => {
  spare.push(...give);
  spare.splice(0, Math.max(0, spare.length - 4));
  processBatch(source, config, job, spare).then(
    (result) => {
      const transfer = [result.data.buffer, result.masks?.buffer, result.boxes?.buffer].filter((b): b is ArrayBuffer => b instanceof ArrayBuffer);
      port.postMessage({ id, ok: true, result } satisfies Reply, transfer);
    },
    (e: unknown) => port.postMessage({ id, ok: false, error: String((e as Error)?.message ?? e), name: (e as Error)?.name ?? 'Error' } satisfies Reply),
  );
});
