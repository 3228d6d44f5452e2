/**
 * POST /v1/predict: images in (multipart files or a raw image body), the same JSON as `kestrel
 * predict` out: a classifier's top-k, a detector's boxes in each image's own pixels, or a
 * segmentation model's mask (a PNG in the answer, the image's own size) and class shares. Admission is bounded (503 + Retry-After beyond `maxQueue` images), each
 * image is checked from its header before it is decoded, and the decoded images go through the
 * micro-batcher to ONNX Runtime.
 */
import multipart from '@fastify/multipart';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { SampleGeometry } from '../data/targets.js';
import type { NmsOptions } from '../metrics/nms.js';
import type { TopK } from '../runtime/classifier.js';
import { round } from '../tasks/classify/predict-common.js';
import type { DetectBox } from '../tasks/detect/postprocess.js';
import { BatcherClosedError, type MicroBatcher } from './batcher.js';
import { HttpError, errorSchema, handleError, sendError } from '../http/index.js';
import type { ServeMetrics } from './metrics.js';
import type { ServedModel } from './model.js';
import type { ServeLimits } from './options.js';
import type { PreprocessPool } from './preprocess-pool.js';
import { readUploads, tooLarge, tooMany } from './uploads.js';
import type { Prepared, SegmentAnswer, Upload } from './images.js';

/** One image for the batcher: its network input and what its request wants (classes, or NMS settings and the letterbox to undo). */
export interface BatchItem {
  chw: Float32Array;
  k: number;
  geometry?: SampleGeometry | null;
  nms?: NmsOptions;
}

export type { SegmentAnswer };

/** What the batcher gives back per image: a classifier's top-k, a detector's boxes or a segmentation answer. */
export type ItemResult = TopK | DetectBox[] | SegmentAnswer;

/** Images admitted and not yet answered, bounded. */
export class Admission {
  #count = 0;
  constructor(readonly capacity: number) {}
  get count(): number {
    return this.#count;
  }
  get full(): boolean {
    return this.#count >= this.capacity;
  }
  tryAcquire(n: number): boolean {
    if (this.#count + n > this.capacity) return false;
    this.#count += n;
    return true;
  }
  release(n: number): void {
    this.#count -= n;
  }
}

export interface PredictDeps {
  model: ServedModel;
  limits: ServeLimits;
  batcher: MicroBatcher<BatchItem, ItemResult>;
  pool: PreprocessPool;
  admission: Admission;
  metrics: ServeMetrics;
}

/**
 * A request's own cancellation: aborted when its deadline passes (after answering 503) or when the
 * client closes the connection before the answer. Fastify's request.signal cannot serve here: it
 * aborts as soon as a POST body has been read (fastify/fastify#6725).
 */
function deadline(reply: FastifyReply, ms: number): AbortSignal {
  const ac = new AbortController();
  const timer = setTimeout(() => {
    if (reply.sent) return;
    ac.abort(new HttpError('timeout', `no answer within ${ms} ms`));
    sendError(reply, 'timeout', `the request was not answered within ${ms} ms; retry after the time in Retry-After`);
  }, ms);
  reply.raw.once('close', () => {
    clearTimeout(timer);
    if (!ac.signal.aborted) ac.abort(new Error('the client closed the connection'));
  });
  return ac.signal;
}

const overloaded = (): HttpError => new HttpError('overloaded', 'the server is busy: too many images are waiting; retry after the time in Retry-After');

/** The 200 answer: one prediction per image, its `source` and the task's fields (`top`, `boxes`, `mask` and `shares`). */
const predictionsOf = (fields: Record<string, object>): object => ({
  type: 'object',
  required: ['predictions'],
  properties: {
    predictions: {
      type: 'array',
      items: {
        type: 'object',
        required: ['source', ...Object.keys(fields)],
        properties: { source: { type: 'string', description: "the file name of a multipart part, or 'body'" }, ...fields },
      },
    },
  },
});

const predictionsSchema = predictionsOf({
  top: {
    type: 'array',
    items: { type: 'object', required: ['label', 'score'], properties: { label: { type: 'string' }, score: { type: 'number', description: 'softmax probability, six decimals' } } },
  },
});

/** The request body as the OpenAPI document shows it (not validated by a schema: the handler reads it as a stream). */
const requestBodyDoc = {
  content: {
    'multipart/form-data': { schema: { type: 'object', description: 'one or more image files, under any field names', additionalProperties: { type: 'string', format: 'binary' } } },
    'image/*': { schema: { type: 'string', format: 'binary', description: 'one image as the whole body (JPEG, PNG, WebP, GIF or TIFF)' } },
    'application/octet-stream': { schema: { type: 'string', format: 'binary' } },
  },
};

const boxesSchema = predictionsOf({
  boxes: {
    type: 'array',
    description: 'best first',
    items: {
      type: 'object',
      required: ['label', 'class', 'score', 'box'],
      properties: {
        label: { type: 'string' }, class: { type: 'integer' }, score: { type: 'number', description: 'class probability, six decimals' },
        box: { type: 'array', items: { type: 'number' }, minItems: 4, maxItems: 4, description: "x1, y1, x2, y2 in the image's own pixels" },
      },
    },
  },
});

const maskSchema = predictionsOf({
  mask: {
    type: 'object',
    required: ['png', 'width', 'height'],
    description: "the class of every pixel, at the image's own size (what kestrel predict writes as its mask PNG)",
    properties: {
      png: { type: 'string', format: 'byte', description: 'base64 of an 8-bit grey PNG whose pixel value is the class index' },
      width: { type: 'integer' }, height: { type: 'integer' },
    },
  },
  shares: {
    type: 'array',
    description: "every class's share of the image's pixels, largest first",
    items: { type: 'object', required: ['label', 'class', 'share'], properties: { label: { type: 'string' }, class: { type: 'integer' }, share: { type: 'number', description: 'six decimals' } } },
  },
});

const detectQuery = {
  type: 'object',
  properties: {
    conf: { type: 'number', exclusiveMinimum: 0, maximum: 1, default: 0.25, description: 'confidence threshold' },
    iou: { type: 'number', exclusiveMinimum: 0, maximum: 1, default: 0.7, description: 'NMS IoU threshold (class-aware)' },
    max_det: { type: 'integer', minimum: 1, maximum: 1000, default: 300, description: 'boxes per image at most' },
  },
  additionalProperties: false,
} as const;
const classifyQuery = { type: 'object', properties: { topk: { type: 'integer', minimum: 1, maximum: 1000, default: 5, description: 'classes per image' } }, additionalProperties: false } as const;
const segmentQuery = { type: 'object', properties: {}, additionalProperties: false } as const;

/** Per task: the route's summary, its query and its 200 answer. */
const ROUTE = {
  classify: { summary: 'Classify images', querystring: classifyQuery, answer: predictionsSchema },
  detect: { summary: 'Find objects in images', querystring: detectQuery, answer: boxesSchema },
  segment: { summary: 'Label every pixel of images (semantic segmentation)', querystring: segmentQuery, answer: maskSchema },
} as const;

type Query = { topk?: number; conf?: number; iou?: number; max_det?: number };

/** Registers POST /v1/predict on `app` (an encapsulated scope: its body parsers are its own). */
export async function predictRoutes(app: FastifyInstance, deps: PredictDeps): Promise<void> {
  const { model, limits, batcher, pool, admission, metrics } = deps;
  const pre = model.preprocessing;
  const task = model.runner.task;
  const route = ROUTE[task];
  const signals = new WeakMap<FastifyRequest, AbortSignal>();

  app.removeAllContentTypeParsers();
  await app.register(multipart, {
    // One file more than allowed reaches the handler, which refuses it with a clear message.
    limits: { fileSize: limits.maxUploadBytes, files: limits.maxImages + 1, fields: 32, fieldSize: 64 * 1024, parts: limits.maxImages + 33, headerPairs: 100 },
  });
  const raw = { parseAs: 'buffer' as const, bodyLimit: limits.maxUploadBytes };
  const keep = (_req: FastifyRequest, body: Buffer, done: (e: Error | null, body?: Buffer) => void): void => done(null, body);
  app.addContentTypeParser(/^image\/[\w.+-]+$/i, raw, keep);
  app.addContentTypeParser('application/octet-stream', raw, keep);
  app.setErrorHandler((e: FastifyError, request, reply) => {
    // The parsers' own limit errors, in the service's words.
    if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || e.code === 'FST_REQ_FILE_TOO_LARGE') return handleError(tooLarge(limits.maxUploadBytes), request, reply);
    if (e.code === 'FST_FILES_LIMIT') return handleError(tooMany(limits.maxImages), request, reply);
    if (e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      const type = String(request.headers['content-type'] ?? '').split(';')[0]!.trim().slice(0, 100) || 'none';
      return handleError(new HttpError('unsupported_media_type', `Content-Type ${type} is not accepted: send multipart/form-data, or an image/* body`), request, reply);
    }
    return handleError(e, request, reply);
  });

  app.post<{ Querystring: Query }>('/v1/predict', {
    bodyLimit: limits.maxUploadBytes,
    schema: {
      summary: route.summary,
      description: `Multipart files (any field names, up to ${limits.maxImages}) or one image as the body. Results follow the order of the images.`,
      querystring: route.querystring,
      response: { 200: route.answer, 400: errorSchema, 401: errorSchema, 413: errorSchema, 415: errorSchema, 503: errorSchema },
    },
    config: { swaggerTransform: ({ schema, url }) => ({ schema: { ...schema, body: requestBodyDoc }, url }) },
    onRequest: async (request: FastifyRequest, reply: FastifyReply) => {
      // A full queue is refused before the body is read.
      if (admission.full) return sendError(reply, 'overloaded', overloaded().message);
      signals.set(request, deadline(reply, limits.timeoutMs));
    },
  }, async (request, reply) => {
    const signal = signals.get(request)!;
    try {
      const uploads = await readUploads(request, { maxBytes: limits.maxUploadBytes, maxImages: limits.maxImages });
      const q = request.query;
      const want = task === 'detect' ? { k: 0, nms: { conf: q.conf!, iou: q.iou!, maxDet: q.max_det! } } : { k: task === 'segment' ? 0 : Math.min(q.topk!, pre.names.length) };
      const results = await run(uploads, want, signal);
      if (reply.sent) return undefined;
      if (task === 'detect') return { predictions: uploads.map((u, i) => ({ source: u.source, boxes: results[i] as DetectBox[] })) };
      if (task === 'segment') return { predictions: uploads.map((u, i) => ({ source: u.source, ...(results[i] as SegmentAnswer) })) };
      return { predictions: uploads.map((u, i) => ({ source: u.source, top: (results[i] as TopK).map((t) => ({ label: t.label, score: round(t.score) })) })) };
    } catch (e) {
      // Past the deadline (503 already sent) or the client went away: nobody to answer.
      if (reply.sent || signal.aborted) return undefined;
      if (e instanceof BatcherClosedError) throw new HttpError('shutting_down', e.message);
      throw e;
    }
  });

  /** Admits the images, preprocesses them (a refused one fails the request) and queues them for a batch. */
  async function run(uploads: Upload[], want: Omit<BatchItem, 'chw' | 'geometry'>, signal: AbortSignal): Promise<ItemResult[]> {
    const n = uploads.length;
    if (!admission.tryAcquire(n)) throw overloaded();
    try {
      // Every preprocessing job settles before the request does, so admission counts what is really in memory.
      const settled = await Promise.allSettled(uploads.map((u) => pool.run(u)));
      const failed = settled.find((s) => s.status === 'rejected');
      if (failed) throw failed.reason;
      const inputs = settled.map((s) => (s as PromiseFulfilledResult<Prepared>).value);
      const results = await Promise.all(inputs.map((p) => batcher.submit({ ...want, chw: p.data, geometry: p.geometry }, signal)));
      metrics.images.inc(n);
      return results;
    } finally {
      admission.release(n);
    }
  }
}
