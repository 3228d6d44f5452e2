/** The UI routes' errors: a status, a stable code and a one-line message, sent as `{ "error": { "code", "message" } }`. */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodType } from 'zod';

export class HttpError extends Error {
  override name = 'HttpError';

  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

/** The body of an error reply. */
export const errorBody = (code: string, message: string): { error: { code: string; message: string } } => ({ error: { code, message } });

/** Fastify error handler for the UI's routes: HttpError as given, Fastify's own 4xx errors as bad_request, anything else as a 500 (logged). */
export function handleError(err: FastifyError | HttpError | Error, req: FastifyRequest, reply: FastifyReply): void {
  if (err instanceof HttpError) {
    void reply.code(err.status).send(errorBody(err.code, err.message));
    return;
  }
  const status = (err as FastifyError).statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    void reply.code(status).send(errorBody(status === 413 ? 'too_large' : 'bad_request', err.message));
    return;
  }
  req.log.error(err);
  void reply.code(500).send(errorBody('internal', err.message));
}

/** Parses a request body with a zod schema; the first problem becomes a 400 naming the field. */
export function parseBody<T>(schema: ZodType<T>, body: unknown): T {
  const r = schema.safeParse(body ?? {});
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const field = issue.path.join('.');
  throw new HttpError(400, 'bad_request', `${field ? `"${field}": ` : ''}${issue.message}`);
}
