/**
 * Helpers of the serve tests: servers on loopback, requests, and the images they send (good ones,
 * a truncated JPEG, a decompression-bomb PNG made by hand). Libtorch-free, like the server.
 */
import { request } from 'node:http';
import { deflateSync, crc32 } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import sharp from 'sharp';
import { createServer, type ServeOptions } from '../../src/serve/index.js';

export interface Running {
  app: FastifyInstance;
  url: string;
}

/** A server on 127.0.0.1 with a free port; one ONNX Runtime thread and one preprocessing worker unless told. */
export async function start(o: ServeOptions): Promise<Running> {
  const app = await createServer({ threads: 1, workers: 1, ...o });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as { port: number };
  return { app, url: `http://127.0.0.1:${port}` };
}

export interface Answer {
  status: number;
  headers: Headers;
  body: unknown;
  text: string;
}

/** A request whose JSON (or text) body is read whatever the status. */
export async function call(url: string, init: RequestInit = {}): Promise<Answer> {
  const r = await fetch(url, init);
  const text = await r.text();
  let body: unknown = text;
  if ((r.headers.get('content-type') ?? '').includes('json')) body = JSON.parse(text);
  return { status: r.status, headers: r.headers, body, text };
}

/**
 * A request through node:http, which (unlike fetch) sends the Host header it is given: what a page
 * on another site sends after DNS rebinding. The JSON body is parsed when there is one.
 */
export function raw(url: string, o: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; body: { error?: { code: string; message: string } } & Record<string, unknown>; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: o.method ?? 'GET', headers: o.headers ?? {} }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, body: (res.headers['content-type'] ?? '').includes('json') ? JSON.parse(text) : {}, text }));
    });
    req.on('error', reject);
    req.end(o.body);
  });
}

/**
 * Polls /metrics until kestrel_queue_depth reads `depth` (not a fixed sleep: a loaded machine
 * decodes slowly). False when `answer`, the request expected to be waiting, settles first.
 */
export async function queueReaches(url: string, depth: number, answer: Promise<unknown>): Promise<boolean> {
  let settled = false;
  void answer.then(() => (settled = true), () => (settled = true));
  const line = new RegExp(`^kestrel_queue_depth ${depth}$`, 'm');
  while (!settled) {
    if (line.test((await call(`${url}/metrics`)).text)) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}

/** A multipart body with the files given (file name → bytes), under `field` or else one field per file. */
export function form(files: Record<string, Uint8Array>, field?: string, type = 'image/png'): FormData {
  const fd = new FormData();
  Object.entries(files).forEach(([name, bytes], i) => fd.append(field ?? `image${i}`, new Blob([bytes], { type }), name));
  return fd;
}

/** Asserts the error shape and returns it. */
export function errorOf(a: Answer): { code: string; message: string } {
  const e = (a.body as { error?: { code: string; message: string } }).error;
  if (!e || typeof e.code !== 'string' || typeof e.message !== 'string') throw new Error(`not an error body: ${a.text}`);
  if (/\n\s+at |\.js:\d+|\.ts:\d+/.test(e.message)) throw new Error(`stack trace in the message: ${e.message}`);
  return e;
}

/** An RGB image with a texture that depends on `seed`, as PNG (lossless) or JPEG. */
export async function photo(w: number, h: number, seed: number, format: 'png' | 'jpeg' = 'png'): Promise<Buffer> {
  const data = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) data[(y * w + x) * 3 + c] = ((x * 29 + y * 17 + c * 71 + x * y * 3 + seed * 11) & 63) + ((seed * 5 + c * 2) % 4) * 60;
  const s = sharp(data, { raw: { width: w, height: h, channels: 3 } });
  return format === 'png' ? s.png().toBuffer() : s.jpeg({ quality: 90 }).toBuffer();
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/**
 * A valid 1-bit greyscale PNG of width × height white pixels: a few tens of kilobytes that decode to
 * width·height bytes (a gigabyte for 32768²) — a decompression bomb.
 */
export function bombPng(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([1, 0, 0, 0, 0], 8); // bit depth 1, greyscale, deflate, no filter, no interlace
  const row = 1 + Math.ceil(width / 8);
  const raw = Buffer.alloc(row * height, 0xff);
  for (let y = 0; y < height; y++) raw[y * row] = 0; // filter type 0 on every row
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([sig, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw, { level: 9 })), chunk('IEND', Buffer.alloc(0))]);
}
