/**
 * The service's one error shape, `{ "error": { "code", "message" } }`, and the handlers that give
 * every failure that shape: ours (HttpError), Fastify's and @fastify/multipart's (mapped by their
 * codes), and anything unexpected (500, logged, never shown: no stack trace leaves the process).
 */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** Seconds a client is asked to wait after a 503. */
export const RETRY_AFTER_S = 1;

/** A failure meant for the client: the status, a stable machine-readable code, and a one-line message. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(readonly statusCode: number, readonly code: string, message: string) {
    super(message);
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
const KNOWN: Record<string, string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_REQ_FILE_TOO_LARGE: 'payload_too_large',
  FST_FILES_LIMIT: 'too_many_images',
  FST_PARTS_LIMIT: 'too_many_parts',
  FST_FIELDS_LIMIT: 'too_many_parts',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_INVALID_MULTIPART_CONTENT_TYPE: 'unsupported_media_type',
  FST_ERR_VALIDATION: 'invalid_request',
};

const BY_STATUS: Record<number, string> = {
  400: 'bad_request', 401: 'unauthorized', 404: 'not_found', 405: 'method_not_allowed', 408: 'request_timeout',
  413: 'payload_too_large', 415: 'unsupported_media_type', 429: 'too_many_requests', 503: 'unavailable',
};

const oneLine = (s: string): string => s.replace(/\s*\n\s*/g, ' ').trim();

/** What the client is told about an error: status, code and message. Unknown errors become a bare 500. */
export function describeError(e: unknown): { status: number; code: string; message: string } {
  if (e instanceof HttpError) return { status: e.statusCode, code: e.code, message: oneLine(e.message) };
  const fe = e as Partial<FastifyError> | null;
  const status = typeof fe?.statusCode === 'number' ? fe.statusCode : 500;
  if (status >= 500 || status < 400) return { status: 500, code: 'internal', message: 'internal server error' };
  const code = (fe?.code !== undefined ? KNOWN[fe.code] : undefined) ?? BY_STATUS[status] ?? 'bad_request';
  return { status, code, message: oneLine(String(fe?.message ?? 'bad request')) };
}

/** Sends the error body; 503s carry Retry-After. */
export function sendError(reply: FastifyReply, status: number, code: string, message: string): FastifyReply {
  if (status === 503) reply.header('retry-after', String(RETRY_AFTER_S));
  return reply.code(status).type('application/json; charset=utf-8').send({ error: { code, message } });
}

/** The error handler: the error body for the client, and the log for a 500. */
export function handleError(e: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const { status, code, message } = describeError(e);
  if (code === 'internal') request.log.error({ err: e }, 'request failed');
  return sendError(reply, status, code, message);
}

/** Installs the error and not-found handlers on the root instance (plugins inherit them). */
export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler(handleError);
  app.setNotFoundHandler((request, reply) => sendError(reply, 404, 'not_found', `no route for ${request.method} ${request.url.split('?')[0]!.slice(0, 200)}`));
}

/**
 * Requests Node's parser rejects before Fastify sees them (malformed HTTP, oversized headers, a
 * request not received within the time limit) get the same error shape, then the socket closes.
 */
export function clientErrorHandler(e: Error & { code?: string }, socket: Socket): void {
  if (e.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, code, message] = e.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, 'request_timeout', 'the request was not received in time']
    : e.code === 'HPE_HEADER_OVERFLOW' ? [431, 'headers_too_large', 'the request headers are too large']
      : [400, 'bad_request', 'malformed HTTP request'];
  const body = JSON.stringify({ error: { code, message } });
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy(e);
}
