/**
 * Preprocessing worker thread: uploaded image bytes in, the network input (CHW float32,
 * transferred) out, or the HttpError that refuses the image; or one image's segmentation logits
 * in, its mask PNG and class shares out. Started by PreprocessPool.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Preprocessing } from '../runtime/preprocess.js';
import { HttpError } from '../http/index.js';
import { prepareImage, segmentAnswer } from './images.js';
import type { PreprocessReply, PreprocessRequest } from './preprocess-pool.js';

const { pre, maxPixels, geometry } = workerData as { pre: Preprocessing; maxPixels: number; geometry: boolean };
const port = parentPort!;

port.on('message', (job: PreprocessRequest) => {
  const { id } = job;
  const done = job.kind === 'segment'
    ? segmentAnswer(job.logits, job.classes, job.hw, job.geometry, pre.names).then((answer) => port.postMessage({ id, ok: true, answer } satisfies PreprocessReply))
    : prepareImage({ source: job.source, bytes: Buffer.from(job.bytes.buffer, job.bytes.byteOffset, job.bytes.byteLength) }, pre, maxPixels, geometry).then(
      (p) => port.postMessage({ id, ok: true, data: p.data, geometry: p.geometry } satisfies PreprocessReply, [p.data.buffer as ArrayBuffer]));
  done.catch(
    (e: unknown) => port.postMessage(e instanceof HttpError
      ? { id, ok: false, code: e.code, message: e.message } satisfies PreprocessReply
      : { id, ok: false, code: 'internal', message: String((e as Error)?.message ?? e) } satisfies PreprocessReply),
  );
});
