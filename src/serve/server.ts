/**
 * The HTTP service: a Fastify instance with the model's routes, the token check, metrics, the
 * OpenAPI document and the error shape; not listening (the caller calls `listen`).
 */
import { availableParallelism } from 'node:os';
import swagger from '@fastify/swagger';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import { predictedBoxes } from '../tasks/detect/postprocess.js';
import { MicroBatcher } from './batcher.js';
import { checkAllowedHosts, checkToken, clientErrorHandler, errorSchema, installHttpPolicy } from '../http/index.js';
import { ServeMetrics } from './metrics.js';
import { MODEL_ID, disposeRunner, loadServedModel, type ServedModel } from './model.js';
import { resolveLimits, type ServeLimits, type ServeOptions } from './options.js';
import { Admission, predictRoutes, type BatchItem, type ItemResult } from './predict.js';
import { PreprocessPool } from './preprocess-pool.js';
import { TASKS } from '../task.js';

const modelSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    task: { type: 'string', enum: [...TASKS] },
    names: { type: 'array', items: { type: 'string' } },
    imgsz: { type: 'array', items: { type: 'integer' }, minItems: 2, maxItems: 2, description: '[height, width] of the network input' },
    channels: { type: 'integer', enum: [1, 3] },
    mean: { type: 'array', items: { type: 'number' } },
    std: { type: 'array', items: { type: 'number' } },
    transforms: { type: 'array', items: { type: 'object', additionalProperties: true }, description: 'the eval pipeline (Kestrel TransformSpec), ending with normalize' },
    output: { type: 'string', enum: ['logits', 'probs', 'detections'] },
    precision: { type: 'string', enum: ['fp32', 'fp16', 'int8'] },
    onnx: { type: 'string', description: 'where to download the .onnx file' },
  },
} as const;

/** GET /v1/models, the ONNX download, /healthz and /metrics. */
async function infoRoutes(app: FastifyInstance, model: ServedModel, metrics: ServeMetrics): Promise<void> {
  app.get('/healthz', {
    schema: { summary: 'Liveness (no token needed)', security: [], response: { 200: { type: 'object', properties: { status: { type: 'string', enum: ['ok'] } } } } },
    config: { auth: false },
  }, async () => ({ status: 'ok' }));

  app.get('/v1/models', {
    schema: { summary: 'The model served and its preprocessing', response: { 200: { type: 'object', properties: { models: { type: 'array', items: modelSchema } } }, 401: errorSchema } },
  }, async () => ({ models: [model.info] }));

  app.get(`/v1/models/${MODEL_ID}/model.onnx`, {
    schema: { summary: 'The .onnx file, for onnxruntime-web', response: { 200: { description: 'the ONNX model', content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } }, 304: { description: 'not modified (If-None-Match)', type: 'null' }, 401: errorSchema } },
  }, async (request, reply) => {
    reply.header('etag', model.etag).header('cache-control', 'no-cache');
    if (request.headers['if-none-match'] === model.etag) return reply.code(304).send();
    return reply.type('application/octet-stream').header('content-disposition', 'attachment; filename="model.onnx"').send(model.bytes);
  });

  app.get('/metrics', {
    schema: { summary: 'Prometheus metrics', response: { 200: { description: 'Prometheus text format 0.0.4', content: { 'text/plain': { schema: { type: 'string' } } } }, 401: errorSchema } },
  }, async (_request, reply) => {
    const text = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(text);
  });
}

/** Counts every answered request, with its latency, by the route that matched (so unknown URLs do not grow the label set). */
function instrument(app: FastifyInstance, metrics: ServeMetrics): void {
  app.addHook('onResponse', async (request, reply) => {
    const labels = { method: request.method, route: request.routeOptions.url ?? 'unmatched', status_code: String(reply.statusCode) };
    metrics.requests.inc(labels);
    metrics.latency.observe(labels, reply.elapsedTime / 1000);
  });
}

/**
 * The micro-batcher over the model, with its batch-size cap for fixed-batch graphs: a classifier's
 * top-k, a detector's boxes (each image post-processed with its own request's settings), or a
 * segmentation model's masks (the same post-processing as `kestrel predict`, so the same mask, on
 * the preprocessing threads).
 */
function batcherFor(model: ServedModel, limits: ServeLimits, metrics: ServeMetrics, pool: PreprocessPool): MicroBatcher<BatchItem, ItemResult> {
  const { channels, imgsz, names } = model.preprocessing;
  const chw = [channels, imgsz[0], imgsz[1]] as const;
  const per = chw[0] * chw[1] * chw[2];
  const maxBatch = model.batchLimit === null ? limits.maxBatch : Math.min(limits.maxBatch, model.batchLimit);
  const { runner } = model;
  return new MicroBatcher<BatchItem, ItemResult>(async (items) => {
    const data = new Float32Array(items.length * per);
    items.forEach((it, i) => data.set(it.chw, i * per));
    if (runner.task === 'detect') {
      const { data: decoded, anchors } = await runner.detector.run(data, items.length, chw);
      return items.map((it, b) => predictedBoxes(decoded, b, names, anchors, it.geometry!, it.nms ?? {}));
    }
    if (runner.task === 'segment') {
      const { logits, shape: [, C, h, w] } = await runner.segmenter.run(data, items.length, chw);
      // Each image's logits are copied out of the batch's: the pool moves them to a thread.
      return Promise.all(items.map((it, b) => pool.segment(logits.slice(b * C * h * w, (b + 1) * C * h * w), C, [h, w], it.geometry!)));
    }
    const k = Math.max(...items.map((it) => it.k));
    const tops = await runner.classifier.classify(data, items.length, chw, k);
    return tops.map((top, i) => top.slice(0, items[i]!.k));
  }, { maxBatch, maxWaitMs: limits.maxWaitMs, maxConcurrency: limits.maxConcurrency }, (r) => {
    metrics.batchSize.observe(r.size);
    metrics.batchSeconds.observe(r.seconds);
  });
}

/**
 * Loads the model and builds the server (not listening). Routes: POST /v1/predict, GET /v1/models,
 * GET /v1/models/default/model.onnx, GET /healthz, GET /metrics, GET /openapi.json; then
 * `extensions`. Closing the server (`app.close()`) stops accepting, lets requests in flight
 * finish, drains the batcher and releases the model.
 *
 * @example
 * const app = await createServer({ weights: 'model.onnx', token: 's3cret', maxBatch: 16 });
 * await app.listen({ port: 8080, host: '127.0.0.1' });
 * // curl -H 'Authorization: Bearer s3cret' -F image=@cat.jpg http://127.0.0.1:8080/v1/predict
 * await app.close();
 */
const TASK_TITLE = { classify: 'image classification', detect: 'object detection', segment: 'semantic segmentation' } as const;
const TASK_VERB = { classify: 'Classify images', detect: 'Detect objects in images', segment: 'Segment images' } as const;

export async function createServer(opts: ServeOptions): Promise<FastifyInstance> {
  const limits = resolveLimits(opts);
  if (opts.token !== undefined) checkToken(opts.token);
  if (opts.allowedHosts !== undefined) checkAllowedHosts(opts.allowedHosts);
  const workers = opts.workers ?? Math.min(4, availableParallelism());
  if (!(Number.isInteger(workers) && workers >= 0)) throw new RangeError(`workers must be an integer ≥ 0, got ${workers}`);
  const model = await loadServedModel(opts.weights, {
    ...(opts.threads === undefined ? {} : { threads: opts.threads }),
    ...(opts.provider === undefined ? {} : { provider: opts.provider }),
    ...(opts.preprocess === undefined ? {} : { preprocess: opts.preprocess }),
    ...(opts.preprocessFile === undefined ? {} : { preprocessFile: opts.preprocessFile }),
  });
  let app: FastifyInstance;
  let pool: PreprocessPool;
  try {
    app = Fastify({
      logger: opts.logger ?? false,
      logController: new LogController({ disableRequestLogging: true }),
      // Node's limit on receiving a whole request (slow clients). The predict route's own deadline
      // covers the rest; Fastify's handlerTimeout cannot: its timer stops once a POST body is read
      // (fastify/fastify#6725).
      requestTimeout: limits.timeoutMs,
      clientErrorHandler,
      return503OnClosing: true,
      forceCloseConnections: 'idle',
    });
    pool = new PreprocessPool(workers, model.preprocessing, limits.maxPixels, model.runner.task !== 'classify');
  } catch (e) {
    await disposeRunner(model.runner);
    throw e;
  }
  const admission = new Admission(limits.maxQueue);
  const probe = { depth: (): number => 0, inFlight: (): number => admission.count };
  const metrics = new ServeMetrics(probe);
  const batcher = batcherFor(model, limits, metrics, pool);
  probe.depth = () => batcher.depth;
  // Shutdown: waiting images stop waiting for company, so requests in flight finish sooner, and
  // their connections close after the answer (a keep-alive one would hold the close up) ...
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
    batcher.flush();
  });
  app.addHook('onSend', async (_request, reply, payload) => {
    if (closing) reply.header('connection', 'close');
    return payload;
  });
  // ... and once they have all been answered (Fastify closes the listener first), the model goes.
  app.addHook('onClose', async () => {
    await batcher.close();
    await pool.close();
    await disposeRunner(model.runner);
  });
  try {
    installHttpPolicy(app, { ...(opts.token === undefined ? {} : { token: opts.token }), ...(opts.allowedHosts === undefined ? {} : { allowedHosts: opts.allowedHosts }) });
    instrument(app, metrics);
    await app.register(swagger, {
      openapi: {
        openapi: '3.0.3',
        info: { title: `Kestrel ${TASK_TITLE[model.runner.task]}`, version: '1', description: `${TASK_VERB[model.runner.task]} with the served ONNX model. Errors are {"error": {"code", "message"}}.` },
        ...(opts.token === undefined ? {} : {
          components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
          security: [{ bearer: [] }],
        }),
      },
    });
    app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
    await app.register(async (scope) => infoRoutes(scope, model, metrics));
    await app.register(async (scope) => predictRoutes(scope, { model, limits, batcher, pool, admission, metrics }));
    for (const ext of opts.extensions ?? []) await app.register(ext);
    await app.ready();
  } catch (e) {
    await app.close().catch(() => undefined);
    throw e;
  }
  return app;
}
