/**
 * What every Kestrel HTTP surface shares (`kestrel serve`, `kestrel ui`): one error shape and
 * handler, and the bearer token. `serve/` and `ui/` import this folder;
 * it imports neither.
 */
import type { FastifyInstance } from 'fastify';
import { installAuth } from './auth.js';
import { installErrorHandlers } from './errors.js';

export { checkToken, installAuth, tokenMatches, type AuthRouteConfig } from './auth.js';
export {
  ERROR_STATUS, HttpError, RETRY_AFTER_S, clientErrorHandler, describeError, errorSchema, handleError, installErrorHandlers, parseBody, sendError,
  type ErrorCode,
} from './errors.js';

export interface HttpPolicy {
  /** When set, every route but those marked `config: { auth: false }` needs `Authorization: Bearer <token>`. */
  token?: string;
}

/**
 * Installs the error handlers, then the token check, on the root instance before any route.
 *
 * @example
 * const app = Fastify();
 * installHttpPolicy(app, { token: 's3cret' });
 */
export function installHttpPolicy(app: FastifyInstance, policy: HttpPolicy): void {
  installErrorHandlers(app);
  if (policy.token !== undefined) installAuth(app, policy.token);
}
