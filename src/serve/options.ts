/** The server's options, their defaults, and their validation (one-line errors naming the option). */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { DEFAULT_MAX_PIXELS } from '../data/limits.js';
import type { PreprocessSpec } from '../runtime/preprocess.js';

export interface ServeOptions {
  /** The model: an `.onnx` file, or a `.safetensors` checkpoint from `kestrel train` (exported to ONNX in memory, which loads libtorch). */
  weights: string;
  /** When set, every route but /healthz needs `Authorization: Bearer <token>`. The CLI takes it from --token or $KESTREL_TOKEN. */
  token?: string;
  /** Host names served beyond localhost names and IP addresses (`.example.com`: it and its subdomains); other Host headers get 403. */
  allowedHosts?: string[];
  /** Images per ONNX Runtime batch at most; 1 turns micro-batching off. Capped at a fixed-batch model's batch size. Default 32. */
  maxBatch?: number;
  /** How long the first waiting image waits for others before its batch runs. Default 5. */
  maxWaitMs?: number;
  /** Batches running at once. Default 1. */
  maxConcurrency?: number;
  /** Images admitted at once (being decoded, waiting or running); a request beyond gets 503 with Retry-After. Default 256. */
  maxQueue?: number;
  /** Images per request. Default 16. */
  maxImages?: number;
  /** Bytes of upload per request. Default 10 MiB. */
  maxUploadBytes?: number;
  /** Pixels per image (width × height), checked from the header before decoding. Default 40,000,000. */
  maxPixels?: number;
  /** A request must be answered within this; else 503 with Retry-After. Also Node's limit for receiving the request. Default 30,000. */
  timeoutMs?: number;
  /** Worker threads that decode and transform uploads (0: the main thread). Default min(4, cores). */
  workers?: number;
  /** ONNX Runtime intra-op threads (default: the number of cores). */
  threads?: number;
  /** ONNX Runtime execution provider (default 'cpu'). */
  provider?: string;
  /** `.onnx` only: preprocessing for a model without Kestrel metadata (see `kestrel predict`). */
  preprocess?: PreprocessSpec;
  preprocessFile?: string;
  /** Fastify's logger: false (default) or pino options such as `{ level: 'warn' }`. */
  logger?: boolean | { level: string };
  /** Plugins registered after Kestrel's routes (the web UI); the token check covers their routes too. */
  extensions?: ((app: FastifyInstance) => Promise<void>)[];
}

/** The limits after defaults. */
export interface ServeLimits {
  maxBatch: number;
  maxWaitMs: number;
  maxConcurrency: number;
  maxQueue: number;
  maxImages: number;
  maxUploadBytes: number;
  maxPixels: number;
  timeoutMs: number;
}

export const DEFAULT_LIMITS: Readonly<ServeLimits> = {
  maxBatch: 32,
  maxWaitMs: 5,
  maxConcurrency: 1,
  maxQueue: 256,
  maxImages: 16,
  maxUploadBytes: 10 * 2 ** 20,
  maxPixels: DEFAULT_MAX_PIXELS,
  timeoutMs: 30_000,
};

const positive = z.number().int().positive();
const limitsSchema = z.strictObject({
  maxBatch: positive,
  maxWaitMs: z.number().int().nonnegative(),
  maxConcurrency: positive,
  maxQueue: positive,
  maxImages: positive,
  maxUploadBytes: positive,
  maxPixels: positive,
  timeoutMs: positive,
});

/** The options' limits with defaults filled in; throws one line naming the first bad option. */
export function resolveLimits(o: Partial<ServeLimits>): ServeLimits {
  const given = Object.fromEntries(Object.keys(DEFAULT_LIMITS).flatMap((k) => (o[k as keyof ServeLimits] === undefined ? [] : [[k, o[k as keyof ServeLimits]]])));
  const r = limitsSchema.safeParse({ ...DEFAULT_LIMITS, ...given });
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const key = String(issue.path[0]);
    throw new RangeError(`${key} must be ${key === 'maxWaitMs' ? 'an integer ≥ 0' : 'a positive integer'}, got ${String((o as Record<string, unknown>)[key])}`);
  }
  if (r.data.maxQueue < r.data.maxImages) throw new RangeError(`maxQueue (${r.data.maxQueue}) must be at least maxImages (${r.data.maxImages}), or a full request could never be admitted`);
  return r.data;
}
