/** The JSON API the pages use: `/v1/…` on the same origin, with the bearer token when one is saved. */
import type { ApplyResult, Progress } from '../../src/ui/label';
import type { Decision } from '../../src/ui/label-store';
import type { RunDetail, RunSummary } from '../../src/ui/runs';
/** One model as `GET /v1/models` describes it (kestrel serve). */
import type { ModelInfo } from '../../src/serve/model';
import type { ClassShare } from '../../src/tasks/segment/postprocess';

export type { ApplyResult, ClassShare, Decision, ModelInfo, Progress, RunDetail, RunSummary };


export type Top = { label: string; score: number }[];

/** A segmentation model's answer for one image, as the page holds it: the class of every pixel (row-major, the image's size) and the class shares. */
export interface SegmentView {
  mask: Uint8Array;
  width: number;
  height: number;
  shares: ClassShare[];
}

export class ApiError extends Error {
  override name = 'ApiError';

  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

const TOKEN_KEY = 'kestrel.token';

export const savedToken = (): string | null => localStorage.getItem(TOKEN_KEY);
export function saveToken(token: string): void {
  if (token) localStorage.setItem(TOKEN_KEY, token);
  else localStorage.removeItem(TOKEN_KEY);
}

/** fetch with the saved bearer token; a non-2xx reply becomes an ApiError with the server's code and message. */
export async function request(path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  const token = savedToken();
  if (token) headers.set('authorization', `Bearer ${token}`);
  let r: Response;
  try {
    r = await fetch(path, { ...init, headers });
  } catch (e) {
    throw new ApiError(0, 'network', `the server did not answer (${(e as Error).message})`);
  }
  if (r.ok) return r;
  let code = `http_${r.status}`;
  let message = `${r.status} ${r.statusText}`;
  try {
    const body = (await r.json()) as { error?: { code?: string; message?: string }; message?: string };
    code = body.error?.code ?? code;
    message = body.error?.message ?? body.message ?? message;
  } catch {
    // not JSON: keep the status line
  }
  throw new ApiError(r.status, code, message);
}

export async function getJson<T>(path: string): Promise<T> {
  return (await (await request(path)).json()) as T;
}

export async function postJson<T>(path: string, body?: unknown): Promise<T> {
  const init: RequestInit = body === undefined ? { method: 'POST' } : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
  return (await (await request(path, init)).json()) as T;
}

/** `/v1/runs/<id>` with the id as one path segment. */
export const runPath = (id: string, rest = ''): string => `/v1/runs/${encodeURIComponent(id)}${rest}`;
