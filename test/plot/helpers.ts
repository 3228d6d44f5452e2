/** PNG checks shared by the plot tests (no native addon needed: sharp only). */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import sharp from 'sharp';

export interface PngInfo {
  width: number;
  height: number;
  /** RGB bytes, row-major. */
  rgb: Buffer;
}

/** Asserts that `path` is a PNG of `width`×`height` whose pixels are not all one colour. */
export async function checkPng(path: string, width?: number, height?: number): Promise<PngInfo> {
  const bytes = readFileSync(path);
  const meta = await sharp(bytes).metadata();
  assert.equal(meta.format, 'png', `${path} is ${meta.format}`);
  if (width !== undefined) assert.equal(meta.width, width, `${path} width`);
  if (height !== undefined) assert.equal(meta.height, height, `${path} height`);
  const { data, info } = await sharp(bytes).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  assert.equal(info.channels, 3);
  const stats = await sharp(bytes).stats();
  assert.ok(stats.channels.some((c) => c.min !== c.max), `${path} is all one colour`);
  return { width: info.width, height: info.height, rgb: data };
}

/** The [r, g, b] of the pixel covering the point (x, y). */
export function pixel(img: PngInfo, x: number, y: number): [number, number, number] {
  const i = (Math.floor(y) * img.width + Math.floor(x)) * 3;
  return [img.rgb[i]!, img.rgb[i + 1]!, img.rgb[i + 2]!];
}

/** The text of every `<text>` element carrying `class="<cls>"`, in document order. */
export function texts(svg: string, cls: string): string[] {
  const re = new RegExp(`<text [^>]*class="${cls}"[^>]*>([^<]*)</text>`, 'g');
  return [...svg.matchAll(re)].map((m) => m[1]!);
}
