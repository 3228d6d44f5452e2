import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { cocoMask, decodeRleString, type CocoSegmentation } from '../../src/data/coco-mask.js';

/** One case of test/fixtures/coco_masks.json: pycocotools' mask of a segmentation (gen_coco_masks.py). */
interface MaskCase {
  h: number;
  w: number;
  segmentation: CocoSegmentation;
  runs: number[];
}

const fixture = JSON.parse(readFileSync(fileURLToPath(new URL('../../../test/fixtures/coco_masks.json', import.meta.url)), 'utf8')) as Record<string, MaskCase>;

/** Column-major runs (0s first) as a row-major mask. */
function fromRuns(runs: number[], h: number, w: number): Uint8Array {
  const out = new Uint8Array(h * w);
  let at = 0;
  runs.forEach((n, j) => {
    for (let i = at; i < at + n; i++) if (j % 2) out[(i % h) * w + Math.floor(i / h)] = 1;
    at += n;
  });
  return out;
}

describe('COCO segmentations to masks, as pycocotools decodes them', () => {
  for (const [name, c] of Object.entries(fixture)) {
    it(name, () => {
      const got = cocoMask(c.segmentation, c.h, c.w);
      assert.ok(got instanceof Uint8Array, String(got));
      const want = fromRuns(c.runs, c.h, c.w);
      const diff = got.reduce((n, v, i) => n + (v !== want[i] ? 1 : 0), 0);
      assert.equal(diff, 0, `${diff} of ${c.h * c.w} pixels differ from pycocotools`);
    });
  }

  // COCO's runs flip at every boundary crossing: the even-odd rule for self-intersecting polygons.
  it('polygons agree with sharp\'s own rendering (even-odd) except along their edges', async () => {
    for (const name of ['star_concave', 'two_polygons_overlapping', 'random_0', 'random_5']) {
      const { h, w, segmentation } = fixture[name]!;
      const polys = segmentation as number[][];
      const paths = polys.map((p) => `<polygon points="${p.join(' ')}" fill="#fff" fill-rule="evenodd" shape-rendering="crispEdges"/>`).join('');
      const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}"><rect width="${w}" height="${h}" fill="#000"/>${paths}</svg>`;
      const rendered = await sharp(Buffer.from(svg)).extractChannel(0).raw().toBuffer();
      const ours = cocoMask(segmentation, h, w) as Uint8Array;
      const edges = polys.flatMap((p) => Array.from({ length: p.length / 2 }, (_, k) => [p[2 * k]!, p[2 * k + 1]!, p[(2 * k + 2) % p.length]!, p[(2 * k + 3) % p.length]!]));
      const nearEdge = (x: number, y: number): boolean => edges.some(([x1, y1, x2, y2]) => {
        const [dx, dy] = [x2! - x1!, y2! - y1!];
        const t = Math.max(0, Math.min(1, ((x - x1!) * dx + (y - y1!) * dy) / (dx * dx + dy * dy || 1)));
        return Math.hypot(x - x1! - t * dx, y - y1! - t * dy) <= 0.75;
      });
      let [agree, inside] = [0, 0];
      for (let i = 0; i < h * w; i++) {
        const [x, y] = [(i % w) + 0.5, Math.floor(i / w) + 0.5];
        const theirs = rendered[i]! > 127 ? 1 : 0;
        inside += ours[i]!;
        if (theirs === ours[i]) agree++;
        else assert.ok(nearEdge(x, y), `${name}: pixel (${x - 0.5}, ${y - 0.5}) differs ${ours[i]} vs ${theirs} away from any edge`);
      }
      assert.ok(inside > 50 && agree / (h * w) > 0.9, `${name}: ${agree} of ${h * w} agree`);
    }
  });

  it('unreadable segmentations are said in one line', () => {
    assert.equal(cocoMask({ size: [4, 5], counts: [3, 2] }, 4, 5), 'RLE counts cover 5 pixels, not 4×5');
    assert.equal(cocoMask({ size: [4, 5], counts: [20] }, 5, 4), 'RLE size 4×5 (h×w) is not its image\'s 5×4');
    assert.equal(cocoMask([[1, 2, 3, 4]], 5, 5), 'a polygon needs at least 3 points of finite numbers');
    assert.equal(cocoMask({ size: [4, 5], counts: [2.5, 17.5] }, 4, 5), 'RLE counts must be whole numbers ≥ 0');
    assert.equal(cocoMask({ size: [4, 5], counts: 'e' }, 4, 5), 'RLE string ends inside a number');
    assert.equal(cocoMask(null as unknown as CocoSegmentation, 4, 5), 'segmentation is neither polygons nor RLE {size, counts}');
  });

  it('decodeRleString reads the runs pycocotools wrote', () => {
    const small = fixture.rle_string_small!;
    assert.deepEqual(decodeRleString((small.segmentation as { counts: string }).counts), small.runs);
  });
});
