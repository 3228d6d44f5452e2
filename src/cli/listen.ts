/** What `kestrel serve` and `kestrel ui` share about their address: listening, the token, and the host names they answer to. */
import { isIP } from 'node:net';
import type { FastifyInstance } from 'fastify';

export async function listen(app: FastifyInstance, host: string, port: number): Promise<string> {
  try {
    return await app.listen({ host, port });
  } catch (e) {
    await app.close();
    const err = e as NodeJS.ErrnoException;
    throw new Error(err.code === 'EADDRINUSE' ? `${host}:${port} is already in use (--port 0 picks a free port)` : err.message);
  }
}

/** The bearer token: --token, else $KESTREL_TOKEN (empty means none). */
export const tokenOf = (flag: string | undefined): string | undefined => flag ?? (process.env.KESTREL_TOKEN || undefined);

/**
 * Host names to answer to beyond localhost names and IP addresses: --allowed-hosts, plus the
 * --host address when it is a name (listening on `myhost.lan`, a browser sends `Host: myhost.lan`).
 */
export function allowedHostsOf(list: string | undefined, host: string): string[] {
  const names = (list ?? '').split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (isIP(host) === 0 && host !== 'localhost') names.push(host);
  return names;
}

/** The help text of --allowed-hosts, the same for both commands. */
export const ALLOWED_HOSTS_HELP = 'host names the server answers to beyond localhost names and IP addresses, comma-separated (.example.com: it and its subdomains); '
  + 'a request with another Host header gets 403, which keeps pages on other sites out through DNS rebinding';
