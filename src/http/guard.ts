/**
 * Requests a browser makes on behalf of another site. A page anywhere can send requests to a server
 * on this machine; two checks keep it out:
 * - DNS rebinding: a name the attacker controls is made to resolve to 127.0.0.1, so the page's own
 *   origin reaches this server and may read its answers. The Host header then carries that name, so
 *   Host must be a localhost name, an IP address, or a name allowed explicitly (`--allowed-hosts`).
 *   Any IP address is safe to accept: rebinding needs a name, and a browser that sends `Host:
 *   10.0.0.5` was pointed at that address by its user.
 * - Cross-site requests: a page may POST to `http://127.0.0.1:8080` without reading the answer (a
 *   form, or fetch in no-cors mode), so a state-changing request whose Origin is another site's is
 *   refused. Browsers send Origin with every such request, same-origin included; clients that are
 *   not browsers (curl) send none and are not affected.
 */
import { isIP } from 'node:net';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { sendError } from './errors.js';

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** A host name as `--allowed-hosts` takes it: `example.com`, or `.example.com` for it and its subdomains. */
const HOST_NAME = /^\.?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/;

/** Checks and normalises host names for `allowedHosts`; throws one line naming the first bad one. */
export function checkAllowedHosts(names: readonly string[]): string[] {
  return names.map((n) => {
    const name = n.trim().toLowerCase().replace(/\.$/, '');
    if (!HOST_NAME.test(name)) throw new Error(`"${n}" is not a host name for --allowed-hosts (give names such as example.com or .example.com, without scheme or port)`);
    return name;
  });
}

/** The host name of a Host header or an origin's host (`[::1]:8080` → `::1`), lower case; null when it does not parse. */
function hostnameOf(hostAndPort: string): string | null {
  try {
    const { hostname } = new URL(`http://${hostAndPort}`);
    return hostname.replace(/^\[|\]$/g, '').replace(/\.$/, '');
  } catch {
    return null;
  }
}

const isLocalName = (name: string): boolean => name === 'localhost' || name.endsWith('.localhost');

/** Whether `name` is one of `allowed` (`.example.com` also matches its subdomains). */
const isListed = (name: string, allowed: readonly string[]): boolean =>
  allowed.some((a) => (a.startsWith('.') ? name === a.slice(1) || name.endsWith(a) : name === a));

/** Whether a request's Host header names this server. A request without one (HTTP/1.0) did not come from a browser. */
export function hostAllowed(host: string | undefined, allowed: readonly string[]): boolean {
  if (host === undefined) return true;
  const name = hostnameOf(host);
  return name !== null && (isLocalName(name) || isIP(name) !== 0 || isListed(name, allowed));
}

/** Whether a request may change state: no Origin, or the server's own (same host and port), or a host allowed by name. */
export function originAllowed(request: Pick<FastifyRequest, 'method' | 'headers'>, allowed: readonly string[]): boolean {
  const origin = request.headers.origin;
  if (origin === undefined || !STATE_CHANGING.has(request.method)) return true;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false; // "null" (a sandboxed frame, a file:// page) or garbage
  }
  if (url.host === (request.headers.host ?? '').toLowerCase()) return true;
  const name = hostnameOf(url.host);
  return name !== null && isListed(name, allowed);
}

/** Adds both checks to `app` (call it on the root instance, before any route: it covers every one, /healthz included). */
export function installHostGuard(app: FastifyInstance, allowedHosts: readonly string[] = []): void {
  const allowed = checkAllowedHosts(allowedHosts);
  app.addHook('onRequest', async (request, reply) => {
    const host = request.headers.host;
    if (!hostAllowed(host, allowed)) {
      const name = String(host).slice(0, 100);
      return sendError(reply, 'forbidden_host', `Host ${name} is not this server's name: start the server with --allowed-hosts ${hostnameOf(name) ?? name} to serve it under that name`);
    }
    if (!originAllowed(request, allowed)) {
      return sendError(reply, 'forbidden_origin', `a ${request.method} from the page at ${String(request.headers.origin).slice(0, 100)} (another site) is refused`);
    }
    return undefined;
  });
}
