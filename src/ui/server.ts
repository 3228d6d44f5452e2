/**
 * The web UI on a server of its own (`kestrel ui` without --weights), under the same policy as
 * `kestrel serve`: the error shape, the Host/Origin checks and, with a token, the bearer-token check.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { checkAllowedHosts, checkToken, clientErrorHandler, installHttpPolicy } from '../http/index.js';
import { uiPlugin, type UiOptions } from './plugin.js';

export interface UiServerOptions extends UiOptions {
  /** When set, every /v1 route needs `Authorization: Bearer <token>` (the pages stay public and ask for it). */
  token?: string;
  /** Host names served beyond localhost names and IP addresses (`.example.com`: it and its subdomains). */
  allowedHosts?: string[];
  /** Fastify's logger: false (default) or pino options such as `{ level: 'warn' }`; a 500's real message goes there. */
  logger?: boolean | { level: string };
}

/**
 * Builds the UI server (not listening).
 *
 * @example
 * const app = await createUiServer({ project: 'runs', label: { root: 'photos' }, token: 's3cret' });
 * await app.listen({ port: 8080, host: '127.0.0.1' }); // http://127.0.0.1:8080/ui/
 */
export async function createUiServer(opts: UiServerOptions): Promise<FastifyInstance> {
  const { token, allowedHosts, logger, ...ui } = opts;
  if (token !== undefined) checkToken(token);
  if (allowedHosts !== undefined) checkAllowedHosts(allowedHosts);
  const app = Fastify({ logger: logger ?? false, clientErrorHandler });
  try {
    installHttpPolicy(app, { ...(token === undefined ? {} : { token }), ...(allowedHosts === undefined ? {} : { allowedHosts }) });
    await app.register(uiPlugin, ui);
    await app.ready();
  } catch (e) {
    await app.close().catch(() => undefined);
    throw e;
  }
  return app;
}
