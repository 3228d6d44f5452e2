/** The pictures a detection run leaves: a training batch with its boxes (train_batch.png). */
import type { Batch } from '../../data/loader.js';
import { drawBoxes, imageGrid, type DrawnBox } from '../../plot/index.js';
import sharp from 'sharp';
import { tidy } from '../../tensor/scope.js';

/** Up to 16 images of a batch (0–1 floats) with their boxes and class names, as one grid. */
export async function writeDetectBatch(batch: Batch, classes: readonly string[], path: string, limit = 16): Promise<void> {
  const [n, , h, w] = batch.images.shape as [number, number, number, number];
  const count = Math.min(n, limit);
  const rgb = tidy(() => batch.images.slice(0, 0, count).mul(255).clamp(0, 255).round().permute(0, 2, 3, 1).contiguous().to('uint8').dataSync() as Uint8Array);
  const rows = batch.boxes ? batch.boxes.toArray() : [];
  const tiles = [];
  for (let i = 0; i < count; i++) {
    const boxes: DrawnBox[] = [];
    for (let r = 0; r < rows.length; r += 6) {
      if (rows[r] !== i) continue;
      const cls = rows[r + 1]!;
      boxes.push({ box: [rows[r + 2]!, rows[r + 3]!, rows[r + 4]!, rows[r + 5]!], cls, label: classes[cls] ?? String(cls) });
    }
    const png = await sharp(Buffer.from(rgb.buffer, rgb.byteOffset + i * h * w * 3, h * w * 3), { raw: { width: w, height: h, channels: 3 } }).png().toBuffer();
    const { data } = await sharp(await drawBoxes(png, boxes)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    tiles.push({ rgb: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: w, height: h });
  }
  await imageGrid(tiles, path, { cols: 4, tile: Math.max(128, w), title: 'Training batch (augmented) with its boxes' });
}
