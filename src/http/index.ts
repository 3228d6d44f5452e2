/**
 * What every Kestrel HTTP surface shares (`kestrel serve`, `kestrel ui`): one error shape and
 * handler, the Host and Origin checks, and the bearer token. `serve/` and `ui/` import this folder;
 * it imports neither.
 */
import type { FastifyInstance } from 'fastify';
import { installAuth } from './auth.js';
import { installErrorHandlers } from './errors.js';
import { installHostGuard } from './guard.js';

export { checkToken, installAuth, tokenMatches, type AuthRouteConfig } from './auth.js';
export { checkAllowedHosts, hostAllowed, installHostGuard, originAllowed } from './guard.js';
export {
  ERROR_STATUS, HttpError, RETRY_AFTER_S, clientErrorHandler, describeError, errorSchema, handleError, installErrorHandlers, parseBody, sendError,
  type ErrorCode,
} from './errors.js';

export interface HttpPolicy {
  /** When set, every route but those marked `config: { auth: false }` needs `Authorization: Bearer <token>`. */
  token?: string;
  /** Host names served beyond localhost names and IP addresses (`.example.com`: it and its subdomains). */
  allowedHosts?: readonly string[];
}

/**
 * Installs the error handlers, then the Host/Origin checks, then the token check on the root
 * instance, before any route (in that order: a request from another site is refused before its token is looked at).
 *
 * @example
 * const app = Fastify();
 * installHttpPolicy(app, { token: 's3cret', allowedHosts: ['kestrel.example.com'] });
 */
export function installHttpPolicy(app: FastifyInstance, policy: HttpPolicy): void {
  installErrorHandlers(app);
  installHostGuard(app, policy.allowedHosts ?? []);
  if (policy.token !== undefined) installAuth(app, policy.token);
}
