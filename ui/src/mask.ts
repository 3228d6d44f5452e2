/**
 * A mask PNG from the server (base64, 8-bit grey, pixel = class) back to class indices in this
 * browser. The colour-space conversion is turned off so the grey levels come back as written.
 */
export async function maskFromPng(base64: string, width: number, height: number): Promise<Uint8Array> {
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  const bitmap = await createImageBitmap(new Blob([bytes], { type: 'image/png' }), { premultiplyAlpha: 'none', colorSpaceConversion: 'none' });
  try {
    if (bitmap.width !== width || bitmap.height !== height) throw new Error(`the mask is ${bitmap.width}×${bitmap.height}, not the ${width}×${height} the answer gives`);
    const canvas = new OffscreenCanvas(width, height);
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    if (ctx === null) throw new Error('this browser gives no 2D canvas');
    ctx.drawImage(bitmap, 0, 0);
    const { data } = ctx.getImageData(0, 0, width, height);
    const mask = new Uint8Array(width * height);
    for (let i = 0; i < mask.length; i++) mask[i] = data[i * 4]!;
    return mask;
  } finally {
    bitmap.close();
  }
}
