/**
 * COCO box evaluation: pycocotools' COCOeval (iouType 'bbox', default parameters) reproduced over
 * plain COCO JSON, so numbers agree with the official tool to within rounding (tested to 1e-6 on
 * test/fixtures/coco-eval/, the tool's own outputs).
 *
 * What that means in detail, all as pycocotools does it:
 * - IoU thresholds np.linspace(0.5, 0.95, 10), recall thresholds np.linspace(0, 1, 101) (so
 *   0.35000000000000003, not 0.35), maxDets 1/10/100 per image *and category*, area ranges all,
 *   small (≤ 32²), medium (32²..96²), large (≥ 96²), bounds inclusive at both ends;
 * - a ground truth's `area` field decides its area range, a detection's is w·h; iscrowd boxes are
 *   ignored regions: matched last, any number of times, with IoU = intersection / detection area;
 * - per image and category, detections sorted by score (stable), each takes the unmatched ground
 *   truth of highest IoU ≥ the threshold (the last of equal IoUs), preferring non-ignored ones;
 * - over images, detections merged by score with ties in image-id order (numpy's stable
 *   mergesort); precision made monotone (the envelope), read at the first rank whose recall
 *   reaches each threshold (0 past the last), averaged; -1 where a class has no ground truth.
 * One quirk is kept: pycocotools records a match by the ground truth's `id`, so a ground truth
 * with id 0 counts as unmatched. Give annotations positive ids.
 */
import { IOU_THRESHOLDS, RECALL_THRESHOLDS } from './ap.js';

export interface CocoImage { id: number; [key: string]: unknown }
export interface CocoCategory { id: number; name?: string; [key: string]: unknown }
export interface CocoAnnotation {
  id: number;
  image_id: number;
  category_id: number;
  /** [x, y, width, height], top-left corner. */
  bbox: readonly number[];
  /** Decides the area range (COCO stores the mask's area); w·h when absent. */
  area?: number;
  iscrowd?: number | boolean;
  [key: string]: unknown;
}
/** COCO instances JSON (only the fields evaluation reads are required). */
export interface CocoDataset {
  images: readonly CocoImage[];
  annotations: readonly CocoAnnotation[];
  categories: readonly CocoCategory[];
  [key: string]: unknown;
}
/** One entry of a COCO results list. */
export interface CocoDetection {
  image_id: number;
  category_id: number;
  bbox: readonly number[];
  score: number;
}

export interface CocoEvalResult {
  /** COCOeval.stats: AP@[.5:.95], AP50, AP75, AP small/medium/large, AR@1, AR@10, AR@100, AR small/medium/large; -1 where undefined. */
  stats: number[];
  /** AP@[.5:.95] (area all, 100 detections) per category, in category-id order; -1 for a category without ground truth. */
  perClass: { id: number; name: string; ap: number }[];
}

const REC_THRS = RECALL_THRESHOLDS;
const MAX_DETS = [1, 10, 100] as const;
const AREA_RNG: readonly (readonly [number, number])[] = [[0, 1e10], [0, 32 ** 2], [32 ** 2, 96 ** 2], [96 ** 2, 1e10]];
const AREA_LBL = ['all', 'small', 'medium', 'large'] as const;
const T = IOU_THRESHOLDS.length;
const R = REC_THRS.length;
const M = MAX_DETS.length;
const EPS = 2.220446049250313e-16; // np.spacing(1)

interface Gt { bbox: readonly number[]; area: number; crowd: boolean; id: number }
interface Dt { bbox: readonly number[]; area: number; score: number }
/**
 * evaluateImg's answers for one image and category with ground truth or detections (pycocotools'
 * non-None evalImgs), all area ranges and thresholds: flags[(a·T + t)·D + d] holds MATCHED and
 * IGNORED bits, npig[a] counts the ground truth not ignored. One array per image and category:
 * COCO-sized runs have ~10⁵ of them.
 */
interface ImageEval { scores: number[]; flags: Uint8Array; npig: number[] }
const MATCHED = 1;
const IGNORED = 2;

/** maskApi.c's bbIou on [x, y, w, h] boxes, operation for operation. */
function bbIou(d: readonly number[], g: readonly number[], crowd: boolean): number {
  const w = Math.min(d[2]! + d[0]!, g[2]! + g[0]!) - Math.max(d[0]!, g[0]!);
  if (w <= 0) return 0;
  const h = Math.min(d[3]! + d[1]!, g[3]! + g[1]!) - Math.max(d[1]!, g[1]!);
  if (h <= 0) return 0;
  const i = w * h;
  const da = d[2]! * d[3]!;
  return i / (crowd ? da : da + g[2]! * g[3]! - i);
}

/** Stable order by descending score (numpy's mergesort of -score). */
const byScore = (scores: readonly number[]): number[] => scores.map((_, i) => i).sort((a, b) => scores[b]! - scores[a]!);

/** COCOeval.evaluateImg for every area range at once, detections already sorted and cut to 100. */
function evaluateImage(gts: readonly Gt[], dts: readonly Dt[]): ImageEval {
  const G = gts.length;
  const D = dts.length;
  const ious = new Float64Array(D * G);
  dts.forEach((d, i) => gts.forEach((g, j) => (ious[i * G + j] = bbIou(d.bbox, g.bbox, g.crowd))));
  const flags = new Uint8Array(AREA_RNG.length * T * D);
  const taken = new Uint8Array(G);
  const npig = AREA_RNG.map(([lo, hi], a) => {
    const outside = (area: number): boolean => area < lo || area > hi;
    const gIgnore = gts.map((g) => g.crowd || outside(g.area));
    // non-ignored ground truth first, stable
    const order = gts.map((_, i) => i).sort((x, y) => Number(gIgnore[x]) - Number(gIgnore[y]));
    for (let t = 0; t < T; t++) {
      const row = (a * T + t) * D;
      taken.fill(0);
      for (let d = 0; d < D; d++) {
        let best = Math.min(IOU_THRESHOLDS[t]!, 1 - 1e-10);
        let m = -1;
        for (let k = 0; k < G; k++) {
          const g = order[k]!;
          if (taken[k] && !gts[g]!.crowd) continue;
          if (m > -1 && !gIgnore[order[m]!] && gIgnore[g]) break;
          if (ious[d * G + g]! < best) continue;
          best = ious[d * G + g]!;
          m = k;
        }
        if (m >= 0) {
          taken[m] = 1;
          const g = order[m]!;
          flags[row + d] = (gIgnore[g] ? IGNORED : 0) | (gts[g]!.id !== 0 ? MATCHED : 0);
        }
        if (!(flags[row + d]! & MATCHED) && outside(dts[d]!.area)) flags[row + d]! |= IGNORED;
      }
    }
    return gIgnore.filter((x) => !x).length;
  });
  return { scores: dts.map((d) => d.score), flags, npig };
}

/** Items by category, then image, in file order inside each (COCO.getAnnIds order). */
function group<X extends { image_id: number; category_id: number }>(items: readonly X[], cats: ReadonlySet<number>): Map<number, Map<number, X[]>> {
  const out = new Map<number, Map<number, X[]>>();
  for (const x of items) {
    if (!cats.has(x.category_id)) continue;
    let byImage = out.get(x.category_id);
    if (byImage === undefined) out.set(x.category_id, (byImage = new Map()));
    const list = byImage.get(x.image_id);
    if (list === undefined) byImage.set(x.image_id, [x]);
    else list.push(x);
  }
  return out;
}

function checkBox(bbox: readonly number[], what: string): void {
  if (!Array.isArray(bbox) || bbox.length !== 4) throw new TypeError(`cocoEvaluate: ${what} bbox must be [x, y, w, h]`);
}

/** A detection of one category: its image's index in the evals, its rank there, its score. */
interface Ref { e: number; d: number; score: number }

/**
 * A category's detections over its images, merged by score with ties in image order (a stable
 * sort of the concatenation, as COCOeval.accumulate). The same for every area range, and for a
 * smaller maxDet it is this order with ranks ≥ maxDet left out, so it is sorted once.
 */
function mergeByScore(evals: readonly ImageEval[]): Ref[] {
  const refs: Ref[] = [];
  evals.forEach((e, ei) => e.scores.forEach((score, d) => refs.push({ e: ei, d, score })));
  return refs.sort((x, y) => y.score - x.score);
}

/**
 * Precision (T×R) and recall (T) of one category, area range and maxDet from its images' evals,
 * as COCOeval.accumulate; null where pycocotools leaves -1 (no ground truth counts).
 */
function accumulate(evals: readonly ImageEval[], merged: readonly Ref[], a: number, maxDet: number): { precision: Float64Array; recall: Float64Array } | null {
  const npig = evals.reduce((s, e) => s + e.npig[a]!, 0);
  if (npig === 0) return null;
  const refs = maxDet >= MAX_DETS[M - 1] ? merged : merged.filter((r) => r.d < maxDet);
  const precision = new Float64Array(T * R);
  const recall = new Float64Array(T);
  const nd = refs.length;
  const rc = new Float64Array(nd);
  const pr = new Float64Array(nd);
  for (let t = 0; t < T; t++) {
    let tp = 0;
    let fp = 0;
    refs.forEach(({ e, d }, i) => {
      const ev = evals[e]!;
      const f = ev.flags[(a * T + t) * ev.scores.length + d]!;
      if (!(f & IGNORED)) {
        if (f & MATCHED) tp++;
        else fp++;
      }
      rc[i] = tp / npig;
      pr[i] = tp / (fp + tp + EPS);
    });
    recall[t] = nd > 0 ? rc[nd - 1]! : 0;
    for (let i = nd - 1; i > 0; i--) if (pr[i]! > pr[i - 1]!) pr[i - 1] = pr[i]!;
    let i = 0;
    for (let r = 0; r < R; r++) {
      while (i < nd && rc[i]! < REC_THRS[r]!) i++;
      precision[t * R + r] = i < nd ? pr[i]! : 0;
    }
  }
  return { precision, recall };
}

/** Mean of the defined (> -1) values, -1 when none (COCOeval._summarize). */
function meanDefined(values: Iterable<number>): number {
  let sum = 0;
  let n = 0;
  for (const v of values) {
    if (v > -1) {
      sum += v;
      n++;
    }
  }
  return n === 0 ? -1 : sum / n;
}

/**
 * Evaluates COCO results against COCO ground truth as pycocotools' COCOeval (bbox) does and
 * returns its 12 summary numbers and AP@[.5:.95] per category. Detections of categories absent
 * from the ground truth are ignored; a detection on an image absent from it is an error (as
 * pycocotools' loadRes).
 *
 * @example
 * const { stats, perClass } = cocoEvaluate(JSON.parse(gtJson), JSON.parse(resultsJson));
 * console.log(formatCocoStats(stats)); // the lines COCOeval.summarize() prints
 */
export function cocoEvaluate(gt: CocoDataset, dt: readonly CocoDetection[]): CocoEvalResult {
  const imgIds = [...new Set(gt.images.map((i) => i.id))].sort((a, b) => a - b);
  const imgSet = new Set(imgIds);
  const categories = [...new Map(gt.categories.map((c) => [c.id, c])).values()].sort((a, b) => a.id - b.id);
  const catSet = new Set(categories.map((c) => c.id));
  for (const d of dt) {
    if (!imgSet.has(d.image_id)) throw new RangeError(`cocoEvaluate: a detection is on image_id ${d.image_id}, which the ground truth does not have`);
    checkBox(d.bbox, `detection on image ${d.image_id}`);
  }
  gt.annotations.forEach((a) => checkBox(a.bbox, `annotation ${a.id}`));
  const gts = group(gt.annotations.filter((a) => imgSet.has(a.image_id)), catSet);
  const dts = group(dt, catSet);

  // evals[k] lists category k's images with anything in them, in image-id order
  const evals = categories.map((c) => {
    const g = gts.get(c.id) ?? new Map<number, CocoAnnotation[]>();
    const d = dts.get(c.id) ?? new Map<number, CocoDetection[]>();
    const images = [...new Set([...g.keys(), ...d.keys()])].sort((a, b) => a - b);
    return images.map((img) => {
      const gt = (g.get(img) ?? []).map((a): Gt => ({
        bbox: a.bbox, area: a.area ?? a.bbox[2]! * a.bbox[3]!, crowd: Boolean(a.iscrowd), id: a.id,
      }));
      const raw = d.get(img) ?? [];
      const dt = byScore(raw.map((x) => x.score)).slice(0, MAX_DETS[M - 1])
        .map((i): Dt => ({ bbox: raw[i]!.bbox, area: raw[i]!.bbox[2]! * raw[i]!.bbox[3]!, score: raw[i]!.score }));
      return evaluateImage(gt, dt);
    });
  });

  // acc[k][a][m]: precision T×R and recall T, or null (-1 throughout)
  const acc = evals.map((ev) => {
    const merged = mergeByScore(ev);
    return AREA_RNG.map((_, a) => MAX_DETS.map((m) => (ev.length === 0 ? null : accumulate(ev, merged, a, m))));
  });
  const t50 = IOU_THRESHOLDS.indexOf(0.5);
  const t75 = IOU_THRESHOLDS.indexOf(0.75);
  function* select(ap: boolean, area: (typeof AREA_LBL)[number], maxDet: number, t?: number): Generator<number> {
    const a = AREA_LBL.indexOf(area);
    const m = MAX_DETS.indexOf(maxDet as (typeof MAX_DETS)[number]);
    const ts = t === undefined ? IOU_THRESHOLDS.map((_, i) => i) : [t];
    for (const ti of ts) {
      for (let r = 0; r < (ap ? R : 1); r++) {
        for (const perArea of acc) {
          const e = perArea[a]![m]!;
          yield e === null ? -1 : ap ? e.precision[ti * R + r]! : e.recall[ti]!;
        }
      }
    }
  }
  const stats = [
    meanDefined(select(true, 'all', 100)),
    meanDefined(select(true, 'all', 100, t50)),
    meanDefined(select(true, 'all', 100, t75)),
    meanDefined(select(true, 'small', 100)),
    meanDefined(select(true, 'medium', 100)),
    meanDefined(select(true, 'large', 100)),
    meanDefined(select(false, 'all', 1)),
    meanDefined(select(false, 'all', 10)),
    meanDefined(select(false, 'all', 100)),
    meanDefined(select(false, 'small', 100)),
    meanDefined(select(false, 'medium', 100)),
    meanDefined(select(false, 'large', 100)),
  ];
  const perClass = categories.map((c, k) => {
    const e = acc[k]![0]![M - 1]!;
    return { id: c.id, name: c.name ?? String(c.id), ap: e === null ? -1 : meanDefined(e.precision) };
  });
  return { stats, perClass };
}

const STAT_LINES: readonly [boolean, string, string, number][] = [
  [true, '0.50:0.95', 'all', 100], [true, '0.50', 'all', 100], [true, '0.75', 'all', 100],
  [true, '0.50:0.95', 'small', 100], [true, '0.50:0.95', 'medium', 100], [true, '0.50:0.95', 'large', 100],
  [false, '0.50:0.95', 'all', 1], [false, '0.50:0.95', 'all', 10], [false, '0.50:0.95', 'all', 100],
  [false, '0.50:0.95', 'small', 100], [false, '0.50:0.95', 'medium', 100], [false, '0.50:0.95', 'large', 100],
];

/**
 * The 12 lines COCOeval.summarize() prints, character for character (except that a value exactly
 * halfway at the third decimal, such as 0.0625, rounds up here and to even in Python).
 *
 * @example
 * formatCocoStats(cocoEvaluate(gt, dt).stats).split('\n')[0];
 * // ' Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.370'
 */
export function formatCocoStats(stats: readonly number[]): string {
  if (stats.length !== 12) throw new RangeError(`formatCocoStats: expected the 12 COCO stats, got ${stats.length}`);
  return STAT_LINES.map(([ap, iou, area, maxDet], i) => {
    const title = ap ? 'Average Precision' : 'Average Recall';
    const type = ap ? '(AP)' : '(AR)';
    return ` ${title.padEnd(18)} ${type} @[ IoU=${iou.padEnd(9)} | area=${area.padStart(6)} | maxDets=${String(maxDet).padStart(3)} ] = ${stats[i]!.toFixed(3)}`;
  }).join('\n');
}
