/**
 * The images of a predict request: every file part of a multipart/form-data body (any field name),
 * or the raw body of an `image/*` (or application/octet-stream) request. The size limit holds for
 * the request as a whole, counted while the parts stream in, so an oversized upload is refused
 * before it is all in memory.
 */
import type { MultipartFile, MultipartValue } from '@fastify/multipart';
import type { FastifyRequest } from 'fastify';
import { HttpError } from '../http/index.js';
import type { Upload } from './images.js';

export interface UploadLimits {
  /** Bytes of image data per request. */
  maxBytes: number;
  /** Images per request. */
  maxImages: number;
}

const mb = (bytes: number): string => `${+(bytes / 2 ** 20).toFixed(2)} MB`;

export const tooLarge = (maxBytes: number): HttpError => new HttpError('payload_too_large', `the upload is over the limit of ${mb(maxBytes)}`);
export const tooMany = (maxImages: number): HttpError => new HttpError('too_many_images', `more than ${maxImages} images in one request`);

/** A file part's bytes, refused as soon as the request's running total passes the limit. */
async function readPart(part: MultipartFile, budget: { left: number }, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of part.file as AsyncIterable<Buffer>) {
    budget.left -= chunk.length;
    if (budget.left < 0) throw tooLarge(maxBytes);
    chunks.push(chunk);
  }
  if (part.file.truncated) throw tooLarge(maxBytes);
  return Buffer.concat(chunks);
}

/** Errors the multipart parser raises on a malformed body (busboy's) carry no status: they are the client's. */
function multipartError(e: unknown): unknown {
  if (e instanceof HttpError || typeof (e as { statusCode?: unknown })?.statusCode === 'number') return e;
  return new HttpError('bad_request', `malformed multipart body: ${String((e as Error)?.message ?? e).split('\n')[0]}`);
}

/** The request's images, in the order they were sent. */
export async function readUploads(request: FastifyRequest, limits: UploadLimits): Promise<Upload[]> {
  if (request.isMultipart()) {
    const uploads: Upload[] = [];
    const budget = { left: limits.maxBytes };
    try {
      for await (const part of request.parts() as AsyncIterable<MultipartFile | MultipartValue>) {
        if (part.type !== 'file') continue;
        if (uploads.length === limits.maxImages) throw tooMany(limits.maxImages);
        const bytes = await readPart(part, budget, limits.maxBytes);
        uploads.push({ source: part.filename || part.fieldname || `image${uploads.length}`, bytes });
      }
    } catch (e) {
      throw multipartError(e);
    }
    if (uploads.length === 0) throw new HttpError('no_image', 'the multipart body has no file part: attach the image(s) as files');
    return uploads;
  }
  if (Buffer.isBuffer(request.body)) return [{ source: 'body', bytes: request.body }];
  throw new HttpError('no_image', 'no image: send multipart/form-data with file parts, or one image as the body with Content-Type image/*');
}
