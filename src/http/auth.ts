/**
 * Bearer-token authentication, the same for `kestrel serve` and `kestrel ui`: an onRequest hook on
 * the root instance, so every route, including those that plugins register later (the web UI),
 * needs `Authorization: Bearer <token>`. A route opts out with `config: { auth: false }` (/healthz,
 * and the web UI's pages, which hold no data). The comparison is constant-time.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { sendError } from './errors.js';

/** Route config read by the hook: `{ auth: false }` makes a route public. */
export interface AuthRouteConfig {
  auth?: boolean;
}

// Both sides are hashed first so that timingSafeEqual compares equal lengths and the time taken
// reveals nothing about the token, its length included.
const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** Whether an Authorization header carries the token (constant-time in the token's content and length). */
export function tokenMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header ?? '');
  const given = m?.[1] ?? '';
  // Compare even when the header is missing or malformed, so the answer takes the same time.
  return timingSafeEqual(digest(given), digest(token)) && m !== null;
}

/** RFC 6750's b64token: what can follow `Bearer ` in a header. */
const TOKEN_CHARS = /^[A-Za-z0-9\-._~+/]+=*$/;

/** Throws unless `token` can be sent as a bearer token. */
export function checkToken(token: string): void {
  if (!TOKEN_CHARS.test(token)) throw new Error('the token must be non-empty and use only letters, digits and - . _ ~ + / (then = padding), as a bearer token does');
}

/** Adds the token check to `app` (call it on the root instance, before any route). */
export function installAuth(app: FastifyInstance, token: string): void {
  checkToken(token);
  const expected = token;
  app.addHook('onRequest', async (request, reply) => {
    if ((request.routeOptions.config as AuthRouteConfig | undefined)?.auth === false) return;
    if (tokenMatches(request.headers.authorization, expected)) return;
    reply.header('www-authenticate', 'Bearer realm="kestrel"');
    const message = request.headers.authorization === undefined ? 'missing bearer token (send Authorization: Bearer <token>)' : 'wrong bearer token';
    return sendError(reply, 'unauthorized', message);
  });
}
