// A generated ImageFolder for classification tests: three shape classes, each with its own
// dominant colour, at random positions and sizes, as PNG and JPEG files.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';

export const CLASSES = ['circle', 'cross', 'square'];

/** A 32×32 picture of one shape class, with a random position, size and background. */
export function shapeImage(cls: string, rng: () => number): Buffer {
  const s = 32;
  const px = Buffer.alloc(s * s * 3);
  const bg = [rng() * 80, rng() * 80, rng() * 80];
  // Each class also has its own dominant colour, so a few epochs on 72 images learn it.
  const fg = [0, 1, 2].map((c) => (c === CLASSES.indexOf(cls) ? 200 + rng() * 55 : 60 + rng() * 60));
  const cx = 10 + rng() * 12, cy = 10 + rng() * 12, r = 5 + rng() * 4;
  for (let y = 0; y < s; y++) {
    for (let x = 0; x < s; x++) {
      const dx = x - cx, dy = y - cy;
      const on = cls === 'circle' ? dx * dx + dy * dy < r * r : cls === 'square' ? Math.abs(dx) < r && Math.abs(dy) < r : (Math.abs(dx) < 1.5 || Math.abs(dy) < 1.5) && Math.abs(dx) < r + 2 && Math.abs(dy) < r + 2;
      for (let c = 0; c < 3; c++) px[(y * s + x) * 3 + c] = Math.round((on ? fg[c]! : bg[c]!) + rng() * 20);
    }
  }
  return px;
}

/** Writes `root/<split>/<class>/<class>-<i>.{png,jpg}` for each split's count per class. */
export async function writeShapesFolder(root: string, counts: Record<string, number>, seed = 7): Promise<void> {
  let s = seed;
  const rng = (): number => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
  for (const [split, n] of Object.entries(counts)) {
    for (const cls of CLASSES) {
      const dir = join(root, split, cls);
      mkdirSync(dir, { recursive: true });
      for (let i = 0; i < n; i++) {
        const img = sharp(shapeImage(cls, rng), { raw: { width: 32, height: 32, channels: 3 } });
        await (i % 2 ? img.jpeg({ quality: 95 }) : img.png()).toFile(join(dir, `${cls}-${i}.${i % 2 ? 'jpg' : 'png'}`));
      }
    }
  }
}
