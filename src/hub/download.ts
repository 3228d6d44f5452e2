/**
 * Downloads hub weights once into the cache, checked: the bytes stream into a temporary file
 * beside the target while their sha256 is computed, and only a complete file whose checksum
 * matches is renamed into place. A dropped connection, a wrong checksum or a crash leave no file
 * at the cached path, so a file there is always complete.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { hubEntry, type HubEntry } from './table.js';

/** Kestrel's cache folder: $KESTREL_HOME, else ~/.cache/kestrel. */
export const kestrelHome = (): string => process.env.KESTREL_HOME || join(homedir(), '.cache', 'kestrel');

/** Where a hub entry's file is cached. */
export const cachedPath = (e: HubEntry): string => join(kestrelHome(), 'hub', e.name.split(':')[0]!, basename(new URL(e.url).pathname) === 'model.safetensors' ? `${e.name.split(':')[1]}.safetensors` : basename(new URL(e.url).pathname));

/**
 * The URL a download really uses: $KESTREL_HUB_URL, when set, replaces the publisher's origin
 * (tests serve files from 127.0.0.1; a mirror can too).
 */
export function downloadUrl(e: HubEntry): string {
  const base = process.env.KESTREL_HUB_URL;
  if (!base) return e.url;
  const u = new URL(e.url);
  return `${base.replace(/\/$/, '')}${u.pathname}`;
}

export interface DownloadOptions {
  /** Called as bytes arrive; `total` is null when the server sends no length. */
  onProgress?: (done: number, total: number | null) => void;
}

export class HubError extends Error {
  override readonly name = 'HubError';
}

const place = (url: string, path: string): string => `download ${url} yourself and put it at ${path}`;

/** The checksum the hub states, for entries that take it from a header (quotes and W/ dropped). */
const headerSha = (h: Headers): string | null => {
  const v = h.get('x-linked-etag') ?? h.get('etag');
  const m = v && /^(?:W\/)?"?([0-9a-f]{64})"?$/.exec(v);
  return m ? m[1]! : null;
};

async function request(url: string, e: HubEntry, path: string): Promise<{ res: Response; sha: string | null }> {
  let res: Response;
  let sha: string | null = null;
  try {
    // Manual redirects: the Hugging Face hub states the sha256 on the first response, not the CDN's.
    res = await fetch(url, { redirect: 'manual' });
    sha = headerSha(res.headers);
    for (let hops = 0; res.status >= 300 && res.status < 400 && hops < 5; hops++) {
      const next = res.headers.get('location');
      if (!next) break;
      res = await fetch(new URL(next, url), { redirect: 'manual' });
      sha ??= headerSha(res.headers);
    }
  } catch (err) {
    const why = (err as Error & { cause?: Error }).cause?.message ?? (err as Error).message;
    throw new HubError(`cannot reach ${url} (${why}): offline? ${place(url, path)}`);
  }
  if (res.status === 404) throw new HubError(`${url}: HTTP 404, the publisher has no such file (is '${e.name}' right?)`);
  if (!res.ok || !res.body) throw new HubError(`${url}: HTTP ${res.status} ${res.statusText}; try again later, or ${place(url, path)}`);
  return { res, sha };
}

/** Streams the body into `tmp`, hashing it; returns the sha256 and the byte count. */
async function receive(res: Response, tmp: string, url: string, total: number | null, opts: DownloadOptions): Promise<{ sha: string; bytes: number }> {
  const hash = createHash('sha256');
  const fd = openSync(tmp, 'wx');
  let done = 0;
  try {
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        hash.update(chunk);
        for (let off = 0; off < chunk.byteLength;) off += writeSync(fd, chunk, off);
        done += chunk.byteLength;
        opts.onProgress?.(done, total);
      }
    } catch (err) {
      throw new HubError(`${url}: the connection dropped after ${done}${total === null ? '' : ` of ${total}`} bytes (${(err as Error).message}); run again to retry`);
    }
    if (total !== null && done !== total) throw new HubError(`${url}: received ${done} of ${total} bytes; run again to retry`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return { sha: hash.digest('hex'), bytes: done };
}

/**
 * The cached file of a hub name, downloaded (with progress) and verified first if need be.
 *
 * @example
 * const path = await fetchHub('torchvision:resnet50.IMAGENET1K_V2', { onProgress: (d, t) => bar.update(d) });
 */
export async function fetchHub(name: string, opts: DownloadOptions = {}): Promise<string> {
  return fetchEntry(hubEntry(name), opts);
}

/** fetchHub for an entry not in the table (a mirror's, a test's). */
export async function fetchEntry(e: HubEntry, opts: DownloadOptions = {}): Promise<string> {
  const path = cachedPath(e);
  if (existsSync(path)) return path;
  const url = downloadUrl(e);
  mkdirSync(dirname(path), { recursive: true });
  const { res, sha: stated } = await request(url, e, path);
  const length = res.headers.get('content-length');
  const total = length === null ? null : Number(length);
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.part`);
  try {
    const { sha } = await receive(res, tmp, url, total, opts);
    const want = 'prefix' in e.sha256 ? e.sha256.prefix : stated;
    if (want === null) throw new HubError(`${url}: the server stated no sha256 (X-Linked-Etag), so the file cannot be verified; ${place(url, path)} after checking it`);
    if (!sha.startsWith(want)) throw new HubError(`${url}: sha256 ${sha} does not match the expected ${want}${'prefix' in e.sha256 ? '…' : ''}: the download is corrupt or was tampered with; nothing was kept`);
    renameSync(tmp, path);
  } finally {
    rmSync(tmp, { force: true });
  }
  return path;
}
