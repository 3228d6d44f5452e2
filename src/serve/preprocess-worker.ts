/**
 * Preprocessing worker thread: uploaded image bytes in, the network input (CHW float32,
 * transferred) out, or the HttpError that refuses the image. Started by PreprocessPool.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Preprocessing } from '../runtime/preprocess.js';
import { HttpError } from '../http/index.js';
import { prepareImage } from './images.js';
import type { PreprocessReply, PreprocessRequest } from './preprocess-pool.js';

const { pre, maxPixels, geometry } = workerData as { pre: Preprocessing; maxPixels: number; geometry: boolean };
const port = parentPort!;

port.on('message', ({ id, source, bytes }: PreprocessRequest) => {
  prepareImage({ source, bytes: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) }, pre, maxPixels, geometry).then(
    (p) => port.postMessage({ id, ok: true, data: p.data, geometry: p.geometry } satisfies PreprocessReply, [p.data.buffer as ArrayBuffer]),
    (e: unknown) => port.postMessage(e instanceof HttpError
      ? { id, ok: false, code: e.code, message: e.message } satisfies PreprocessReply
      : { id, ok: false, code: 'internal', message: String((e as Error)?.message ?? e) } satisfies PreprocessReply),
  );
});
