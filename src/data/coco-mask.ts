/**
 * COCO segmentations (polygons, RLE with a counts list, compressed RLE strings) to binary masks,
 * pixel for pixel as pycocotools' `annToMask` gives them.
 *
 * Written here rather than taken from npm: no maintained package decodes COCO's RLE or rasterises
 * its polygons (the few that exist are unmaintained ports without tests), and a generic polygon
 * filler (scanline, SVG) disagrees with COCO along every edge. This follows the algorithm of
 * pycocotools' C core (maskApi.c, rleFrPoly and rleFrString: boundary points on a 5× grid, turned
 * into column-major runs), and test/fixtures/coco_masks.json holds pycocotools' own masks to
 * compare with (gen_coco_masks.py).
 */

/** A COCO `segmentation`: polygons [[x1, y1, x2, y2, …], …], or RLE with `size` [h, w]. */
export type CocoSegmentation = number[][] | { size: [number, number]; counts: string | number[] };

/** x86's conversion of NaN to int32 (what maskApi.c gets for a zero-length edge's 0/0 slope). */
const toInt = (v: number): number => (Number.isNaN(v) ? -2147483648 : Math.trunc(v));

/** Run lengths (column-major, starting with a run of 0s) of one polygon on an h × w grid. */
export function polygonRuns(xy: readonly number[], h: number, w: number): number[] {
  const scale = 5;
  const k = Math.floor(xy.length / 2);
  const x = Array.from({ length: k + 1 }, (_, j) => toInt(scale * xy[2 * (j % k)]! + 0.5));
  const y = Array.from({ length: k + 1 }, (_, j) => toInt(scale * xy[2 * (j % k) + 1]! + 0.5));
  // Every grid point along the boundary, edge by edge, each edge walked along its longer axis.
  const u: number[] = [];
  const v: number[] = [];
  for (let j = 0; j < k; j++) {
    let [xs, xe, ys, ye] = [x[j]!, x[j + 1]!, y[j]!, y[j + 1]!];
    const [dx, dy] = [Math.abs(xe - xs), Math.abs(ys - ye)];
    const flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye);
    if (flip) [xs, xe, ys, ye] = [xe, xs, ye, ys];
    const s = dx >= dy ? (ye - ys) / dx : (xe - xs) / dy;
    if (dx >= dy) {
      for (let d = 0; d <= dx; d++) {
        const t = flip ? dx - d : d;
        u.push(t + xs);
        v.push(toInt(ys + s * t + 0.5));
      }
    } else {
      for (let d = 0; d <= dy; d++) {
        const t = flip ? dy - d : d;
        v.push(t + ys);
        u.push(toInt(xs + s * t + 0.5));
      }
    }
  }
  // Where the boundary crosses a pixel column's centre, the first pixel below it starts or ends a run.
  const starts: number[] = [];
  for (let j = 1; j < u.length; j++) {
    if (u[j] === u[j - 1]) continue;
    const xd = ((u[j]! < u[j - 1]! ? u[j]! : u[j]! - 1) + 0.5) / scale - 0.5;
    if (Math.floor(xd) !== xd || xd < 0 || xd > w - 1) continue;
    let yd = ((v[j]! < v[j - 1]! ? v[j]! : v[j - 1]!) + 0.5) / scale - 0.5;
    yd = Math.ceil(yd < 0 ? 0 : yd > h ? h : yd);
    starts.push(xd * h + yd);
  }
  starts.push(h * w);
  starts.sort((a, b) => a - b);
  const diffs = starts.map((t, j) => t - (j > 0 ? starts[j - 1]! : 0));
  // Zero-length runs merge their neighbours.
  const runs = [diffs[0]!];
  for (let j = 1; j < diffs.length; ) {
    if (diffs[j]! > 0) runs.push(diffs[j++]!);
    else if (++j < diffs.length) runs[runs.length - 1]! += diffs[j++]!;
  }
  return runs;
}

/** The run lengths of a compressed RLE string (COCO's 6-bit, LEB128-like code; from the fourth run on, each is stored as the change from the run two before). */
export function decodeRleString(s: string): number[] {
  const counts: number[] = [];
  for (let p = 0; p < s.length; ) {
    let x = 0;
    let k = 0;
    let more = true;
    while (more) {
      if (p >= s.length) throw new Error('RLE string ends inside a number');
      const c = s.charCodeAt(p++) - 48;
      x += (c & 0x1f) * 2 ** (5 * k);
      more = (c & 0x20) !== 0;
      k++;
      if (!more && c & 0x10) x -= 2 ** (5 * k);
    }
    if (counts.length > 2) x += counts[counts.length - 2]!;
    counts.push(x);
  }
  return counts;
}

/** Paints the runs (column-major, alternating 0 and 1) into a row-major h × w mask with `value`. */
function paintRuns(runs: readonly number[], h: number, w: number, out: Uint8Array, value = 1): void {
  let at = 0;
  runs.forEach((n, j) => {
    if (j % 2 === 1) {
      for (let i = at; i < Math.min(at + n, h * w); i++) out[(i % h) * w + Math.floor(i / h)] = value;
    }
    at += n;
  });
}

/**
 * A COCO segmentation as a row-major h × w mask of 0 and 1 (the union of its polygons), or why
 * it cannot be read.
 *
 * @example
 * cocoMask([[1, 1, 4, 1, 4, 3, 1, 3]], 5, 6); // the 3 × 2 pixels from (1, 1) to (3, 2) set
 */
export function cocoMask(seg: CocoSegmentation, h: number, w: number): Uint8Array | string {
  const out = new Uint8Array(h * w);
  if (Array.isArray(seg)) {
    for (const poly of seg) {
      if (!Array.isArray(poly) || poly.length < 6 || poly.some((v) => typeof v !== 'number' || !Number.isFinite(v))) return 'a polygon needs at least 3 points of finite numbers';
      paintRuns(polygonRuns(poly, h, w), h, w, out);
    }
    return out;
  }
  if (seg === null || typeof seg !== 'object' || !Array.isArray(seg.size)) return 'segmentation is neither polygons nor RLE {size, counts}';
  const [rh, rw] = seg.size;
  if (rh !== h || rw !== w) return `RLE size ${rh}×${rw} (h×w) is not its image's ${h}×${w}`;
  let runs: number[];
  try {
    runs = typeof seg.counts === 'string' ? decodeRleString(seg.counts) : seg.counts;
  } catch (e) {
    return (e as Error).message;
  }
  if (runs.some((n) => !(Number.isInteger(n) && n >= 0))) return 'RLE counts must be whole numbers ≥ 0';
  if (runs.reduce((a, b) => a + b, 0) !== h * w) return `RLE counts cover ${runs.reduce((a, b) => a + b, 0)} pixels, not ${h}×${w}`;
  paintRuns(runs, h, w, out);
  return out;
}
