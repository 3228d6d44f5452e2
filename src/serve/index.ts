/**
 * `kestrel serve` as a library (`kestrel/serve`): an HTTP service for a classifier on ONNX Runtime
 * (Fastify), with micro-batching, limits, bearer-token auth, Prometheus metrics and an OpenAPI
 * document. Serving an `.onnx` file never loads the libtorch addon; a `.safetensors` checkpoint is
 * exported to ONNX in memory first, which does.
 *
 * @example
 * import { createServer } from 'kestrel/serve';
 * const app = await createServer({ weights: 'model.onnx', maxBatch: 16, maxWaitMs: 5 });
 * await app.listen({ port: 0, host: '127.0.0.1' });
 * console.log(app.server.address());
 * await app.close();
 */
export { createServer } from './server.js';
export { DEFAULT_LIMITS, resolveLimits, type ServeLimits, type ServeOptions } from './options.js';
export { MicroBatcher, BatcherClosedError, type BatcherOptions, type BatchReport } from './batcher.js';
export { HttpError, RETRY_AFTER_S, type ErrorCode } from '../http/index.js';
export { IMAGE_FORMATS, type Upload } from './images.js';
export { MODEL_ID, type ModelInfo, type ServedModel } from './model.js';
export type { AuthRouteConfig } from '../http/index.js';
