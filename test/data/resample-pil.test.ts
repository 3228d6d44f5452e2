import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { PipelineError } from '../../src/data/errors.js';
import { geometricStep } from '../../src/data/geometric.js';
import { decodeImage } from '../../src/data/image.js';
import { resizePil } from '../../src/data/resample-pil.js';
import { Rng } from '../../src/data/rng.js';
import { FIXTURES } from '../helpers.js';

interface Out { sha256: string; head: number[] }
interface Fixture {
  inputs: Record<string, { channels: number; width: number; height: number; data: string }>;
  cases: (Out & { name: string; input: string; out: [number, number]; interpolation: 'bilinear' | 'bicubic' })[];
  photo: { sha256: string; width: number; height: number; resize256: Record<'bilinear' | 'bicubic', Out & { shape: [number, number, number] }> };
}
const fx = JSON.parse(readFileSync(join(FIXTURES, 'pil_resize.json'), 'utf8')) as Fixture;
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

function assertBytes(got: Uint8Array, want: Out, what: string): void {
  assert.deepEqual([...got.subarray(0, want.head.length)], want.head, `${what}: first values`);
  assert.equal(sha(got), want.sha256, `${what}: bytes differ from PIL's`);
}

describe("resizePil: PIL's Image.resize bit for bit (pil_resize.json, gen_pil_resize.py)", () => {
  for (const c of fx.cases) {
    test(c.name, () => {
      const i = fx.inputs[c.input]!;
      const img = { data: new Uint8Array(Buffer.from(i.data, 'base64')), width: i.width, height: i.height, channels: i.channels };
      const out = resizePil(img, c.out[0], c.out[1], c.interpolation);
      assert.deepEqual([out.width, out.height, out.channels], [c.out[0], c.out[1], i.channels]);
      assertBytes(out.data, c, c.name);
    });
  }

  test('grace_hopper.jpg: sharp decodes the bytes PIL does, and Resize(256) with rounding pil gives torchvision-on-PIL', async () => {
    const img = await decodeImage(join(FIXTURES, 'imagenet', 'grace_hopper.jpg'), { channels: 3 });
    assert.deepEqual([img.width, img.height], [fx.photo.width, fx.photo.height]);
    assert.equal(sha(img.data), fx.photo.sha256, "sharp's JPEG decode differs from PIL's");
    for (const interpolation of ['bilinear', 'bicubic'] as const) {
      const step = geometricStep(img, { op: 'resize', size: 256, interpolation, rounding: 'pil' }, new Rng(0))!;
      const out = step.apply(img);
      const want = fx.photo.resize256[interpolation];
      assert.deepEqual([out.height, out.width, out.channels], want.shape);
      assert.ok(out.data instanceof Uint8Array);
      assertBytes(out.data, want, interpolation);
    }
  });

  test('float input is refused in one line: PIL rounds 8-bit images', () => {
    const img = { data: new Float32Array(12), width: 2, height: 2, channels: 3 };
    assert.throws(() => resizePil(img, 1, 1, 'bilinear'), (e: Error) => e instanceof PipelineError && /8-bit images/.test(e.message) && !e.message.includes('\n'));
  });
});
