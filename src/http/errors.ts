/**
 * The one error shape of every Kestrel HTTP surface (`kestrel serve`, `kestrel ui`),
 * `{ "error": { "code", "message" } }`, and the handlers that give every failure that shape: ours
 * (HttpError), Fastify's and its plugins' (mapped by their codes and statuses), and anything
 * unexpected (500, logged, never shown: no internal message or stack trace leaves the process).
 */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodType } from 'zod';

/** Seconds a client is asked to wait after a 503. */
export const RETRY_AFTER_S = 1;

/**
 * Every code a Kestrel server answers, with its status: a code names its status (`not_found`) or
 * narrows it (`no_such_run`), so the status follows from the code and the two cannot disagree.
 */
export const ERROR_STATUS = {
  bad_request: 400, invalid_request: 400, bad_image: 400, no_image: 400, bad_path: 400, unknown_class: 400,
  unauthorized: 401,
  forbidden: 403, forbidden_host: 403, forbidden_origin: 403, forbidden_type: 403, outside_root: 403,
  not_found: 404, no_project: 404, no_such_run: 404, no_such_file: 404, no_label_project: 404, no_such_image: 404,
  method_not_allowed: 405, request_timeout: 408,
  conflict: 409, nothing_to_undo: 409, already_applied: 409,
  payload_too_large: 413, too_many_images: 413, too_many_pixels: 413, too_many_parts: 413,
  unsupported_media_type: 415, too_many_requests: 429, headers_too_large: 431,
  internal: 500,
  unavailable: 503, overloaded: 503, timeout: 503, shutting_down: 503,
} as const satisfies Record<string, number>;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** A failure meant for the client: a stable machine-readable code (which sets the status) and a one-line message. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  readonly statusCode: number;
  constructor(readonly code: ErrorCode, message: string) {
    super(message);
    this.statusCode = ERROR_STATUS[code];
  }
}

/** The JSON schema of an error body, for the routes' response schemas and the OpenAPI document. */
export const errorSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' } },
    },
  },
} as const;

/** Fastify and plugin error codes → our codes (the status comes with the error). */
const KNOWN: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_REQ_FILE_TOO_LARGE: 'payload_too_large',
  FST_FILES_LIMIT: 'too_many_images',
  FST_PARTS_LIMIT: 'too_many_parts',
  FST_FIELDS_LIMIT: 'too_many_parts',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_INVALID_MULTIPART_CONTENT_TYPE: 'unsupported_media_type',
  FST_ERR_VALIDATION: 'invalid_request',
};

/** The code of a status when nothing more specific is known (ours; else the status's name: 416 → range_not_satisfiable). */
const GENERIC: Partial<Record<number, ErrorCode>> = {
  400: 'bad_request', 401: 'unauthorized', 403: 'forbidden', 404: 'not_found', 405: 'method_not_allowed', 408: 'request_timeout',
  409: 'conflict', 413: 'payload_too_large', 415: 'unsupported_media_type', 429: 'too_many_requests', 431: 'headers_too_large',
};

const snake = (s: string): string => s.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_|_$/g, '');
const oneLine = (s: string): string => s.replace(/\s*\n\s*/g, ' ').trim();

/** What the client is told about an error: status, code and message. Unknown errors become a bare 500. */
export function describeError(e: unknown): { status: number; code: string; message: string } {
  if (e instanceof HttpError) return { status: e.statusCode, code: e.code, message: oneLine(e.message) };
  const fe = e as Partial<FastifyError> | null;
  const status = typeof fe?.statusCode === 'number' ? fe.statusCode : 500;
  if (status >= 500 || status < 400) return { status: 500, code: 'internal', message: 'internal server error' };
  const code = (fe?.code !== undefined ? KNOWN[fe.code] : undefined) ?? GENERIC[status] ?? snake(STATUS_CODES[status] ?? 'bad request');
  return { status, code, message: oneLine(String(fe?.message ?? STATUS_CODES[status] ?? 'bad request')) };
}

/** Sends the error body, with the status its code calls for; 503s carry Retry-After. */
export function sendError(reply: FastifyReply, code: ErrorCode, message: string): FastifyReply {
  return send(reply, ERROR_STATUS[code], code, message);
}

function send(reply: FastifyReply, status: number, code: string, message: string): FastifyReply {
  if (status === 503) reply.header('retry-after', String(RETRY_AFTER_S));
  return reply.code(status).type('application/json; charset=utf-8').send({ error: { code, message } });
}

/** The error handler: the error body for the client, and the log for a 500 (where its real message goes). */
export function handleError(e: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const { status, code, message } = describeError(e);
  if (code === 'internal') request.log.error({ err: e }, 'request failed');
  return send(reply, status, code, message);
}

/** Installs the error and not-found handlers on the root instance (plugins inherit them). */
export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler(handleError);
  app.setNotFoundHandler((request, reply) => sendError(reply, 'not_found', `no route for ${request.method} ${request.url.split('?')[0]!.slice(0, 200)}`));
}

/** Parses a request body with a zod schema; the first problem becomes a 400 naming the field. */
export function parseBody<T>(schema: ZodType<T>, body: unknown): T {
  const r = schema.safeParse(body ?? {});
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const field = issue.path.join('.');
  throw new HttpError('invalid_request', `${field ? `"${field}": ` : ''}${issue.message}`);
}

/**
 * Requests Node's parser rejects before Fastify sees them (malformed HTTP, oversized headers, a
 * request not received within the time limit) get the same error shape, then the socket closes.
 */
export function clientErrorHandler(e: Error & { code?: string }, socket: Socket): void {
  if (e.code === 'ECONNRESET' || socket.destroyed) return;
  const [code, message]: [ErrorCode, string] = e.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? ['request_timeout', 'the request was not received in time']
    : e.code === 'HPE_HEADER_OVERFLOW' ? ['headers_too_large', 'the request headers are too large']
      : ['bad_request', 'malformed HTTP request'];
  const status = ERROR_STATUS[code];
  const body = JSON.stringify({ error: { code, message } });
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy(e);
}
