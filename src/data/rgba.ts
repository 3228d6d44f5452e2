/**
 * RGBA pixels (a browser canvas's ImageData) to the 8-bit HWC image that decodeImage gives for the
 * same file, so in-browser prediction feeds the network what the server feeds it. Plain JS, no
 * Node APIs: the web UI bundles it.
 */
/** 8-bit HWC pixels, as decodeImage returns them (an Img for the transforms). */
export interface Rgb8 {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 1 | 3;
}

const f32 = Math.fround;

/**
 * Alpha flattened on white and, for one channel, grey as sharp computes it in decodeImage
 * (flatten, then recomb with ITU-R 601-2 luma): each flattened value truncated to 8 bits, the luma
 * rounded to float32, then truncated. Checked against sharp on random and grey pixels.
 *
 * @example
 * const { data } = canvas.getContext('2d')!.getImageData(0, 0, w, h);
 * const img = fromRgba(data, w, h, 1);   // img.data: w·h grey bytes, as decodeImage(file, { channels: 1 })
 */
export function fromRgba(rgba: Uint8Array | Uint8ClampedArray, width: number, height: number, channels: 1 | 3): Rgb8 {
  const n = width * height;
  if (rgba.length !== n * 4) throw new RangeError(`expected ${n * 4} RGBA bytes for ${width}×${height}, got ${rgba.length}`);
  const out = new Uint8Array(n * channels);
  for (let i = 0, j = 0; i < n; i++, j += 4) {
    const a = rgba[j + 3]!;
    let r = rgba[j]!;
    let g = rgba[j + 1]!;
    let b = rgba[j + 2]!;
    if (a !== 255) {
      const bg = 255 * (255 - a);
      r = Math.trunc((r * a + bg) / 255);
      g = Math.trunc((g * a + bg) / 255);
      b = Math.trunc((b * a + bg) / 255);
    }
    if (channels === 3) {
      out[3 * i] = r;
      out[3 * i + 1] = g;
      out[3 * i + 2] = b;
    } else {
      out[i] = Math.trunc(f32(0.299 * r + 0.587 * g + 0.114 * b));
    }
  }
  return { data: out, width, height, channels };
}
