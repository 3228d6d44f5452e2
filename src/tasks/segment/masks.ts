/** Mask files: 8-bit grey PNGs whose value is the class (what `val` and `predict` write), and `.npy` probability maps. */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import sharp from 'sharp';
import { writeFileAtomic } from '../../checkpoint/atomic.js';

/** A class-per-pixel mask as an 8-bit single-channel PNG (readable by decodeMask, PIL, OpenCV). */
export async function encodeMaskPng(mask: Uint8Array, width: number, height: number): Promise<Buffer> {
  return sharp(Buffer.from(mask.buffer, mask.byteOffset, mask.byteLength), { raw: { width, height, channels: 1 } }).toColourspace('b-w').png({ compressionLevel: 6 }).toBuffer();
}

/** Writes bytes atomically, creating the folder. */
export function writeFileIn(path: string, bytes: Uint8Array): void {
  mkdirSync(dirname(resolve(path)), { recursive: true });
  writeFileAtomic(resolve(path), [bytes]);
}

/** A float32 array as NumPy's .npy (version 1.0, little-endian, C order), loadable with numpy.load. */
export function npyBytes(data: Float32Array, shape: readonly number[]): Uint8Array {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  // The magic, version and length take 10 bytes; the header ends in '\n' and pads the whole to 64.
  header += ' '.repeat((64 - ((10 + header.length + 1) % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set([0x93, ...Buffer.from('NUMPY'), 1, 0, header.length & 0xff, header.length >> 8]);
  out.set(Buffer.from(header, 'latin1'), 10);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length);
  return out;
}
