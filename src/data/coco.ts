/**
 * COCO instances JSON (images, annotations with `bbox` [x, y, w, h] in pixels, categories) as a
 * detection split. Category ids may have gaps (COCO's 80 classes use ids 1–90): they map to class
 * indices in the order of `names`, or of the category ids when the data.yaml names none.
 * Annotations that name no known image or category, crowd regions and boxes outside their image
 * are left out and listed, as YOLO label lines are.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { DataError } from './errors.js';
import { checkImage } from './image.js';
import type { BoxTargets, FileSource, Skipped } from './source.js';

const schema = z.object({
  images: z.array(z.object({ id: z.union([z.number(), z.string()]), file_name: z.string().min(1), width: z.number().positive().optional(), height: z.number().positive().optional() }).loose()),
  annotations: z.array(z.object({ image_id: z.union([z.number(), z.string()]), category_id: z.number(), bbox: z.array(z.number()).length(4), iscrowd: z.number().optional() }).loose()).default([]),
  categories: z.array(z.object({ id: z.number(), name: z.string() }).loose()).min(1),
});

export type CocoInstances = z.infer<typeof schema>;

/** Reads and checks the JSON's structure (one-line errors). */
export function readCocoFile(path: string): CocoInstances {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new DataError(`${path}: not valid JSON (${(e as Error).message.split('\n')[0]})`);
  }
  const r = schema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new DataError(`${path}: not COCO instances JSON: ${i.path.join('.') || 'top level'}: ${i.message}`);
  }
  return r.data;
}

/** Class names in category-id order (for a data.yaml without names). */
export const cocoClassNames = (c: CocoInstances): string[] => [...c.categories].sort((a, b) => a.id - b.id).map((k) => k.name);

/** Finds an image named in the JSON: absolute, beside the JSON, or under one of `roots`. */
export function locateCocoImage(file: string, jsonPath: string, roots: string[]): string | null {
  if (isAbsolute(file)) return existsSync(file) ? file : null;
  for (const base of [dirname(jsonPath), ...roots]) {
    const p = resolve(base, file);
    if (existsSync(p)) return p;
  }
  return null;
}

/**
 * One split from a COCO file, boxes in pixels. `roots` are folders to look for images in when
 * `file_name` is not beside the JSON (the data.yaml's folder and its images/<split>/).
 */
export async function readCocoSplit(jsonPath: string, classes: string[], roots: string[], o: { full: boolean; strict: boolean; skipped: Skipped[] }): Promise<FileSource> {
  const coco = readCocoFile(jsonPath);
  const index = new Map<number, number>();
  for (const cat of coco.categories) {
    const k = classes.indexOf(cat.name);
    if (k < 0) throw new DataError(`${jsonPath}: category '${cat.name}' (id ${cat.id}) is not in names (${classes.join(', ')})`);
    index.set(cat.id, k);
  }
  const problem = (path: string, reason: string): void => {
    if (o.strict) throw new DataError(`${path}: ${reason} (--strict stops at the first problem; without it the item is left out and listed)`);
    o.skipped.push({ path, reason });
  };
  const byImage = new Map<string, { boxes: number[]; classes: number[] }>();
  const images = new Map(coco.images.map((im) => [String(im.id), im]));
  coco.annotations.forEach((a, i) => {
    const at = `annotation ${i} (id ${String((a as { id?: unknown }).id ?? '?')})`;
    const im = images.get(String(a.image_id));
    if (!im) return problem(jsonPath, `${at}: image_id ${a.image_id} is not in images`);
    const k = index.get(a.category_id);
    if (k === undefined) return problem(jsonPath, `${at}: category_id ${a.category_id} is not in categories`);
    if (a.iscrowd) return problem(jsonPath, `${at}: a crowd region (iscrowd 1) is not an object box; left out`);
    const [x, y, w, h] = a.bbox as [number, number, number, number];
    if (!(w > 0 && h > 0)) return problem(jsonPath, `${at}: the box has no area`);
    if (im.width !== undefined && im.height !== undefined && (x < -1 || y < -1 || x + w > im.width + 1 || y + h > im.height + 1)) {
      return problem(jsonPath, `${at}: the box lies outside its ${im.width}×${im.height} image`);
    }
    const entry = byImage.get(String(a.image_id)) ?? { boxes: [], classes: [] };
    const [W, H] = [im.width ?? Infinity, im.height ?? Infinity];
    entry.boxes.push(Math.max(0, x), Math.max(0, y), Math.min(W, x + w), Math.min(H, y + h));
    entry.classes.push(k);
    byImage.set(String(a.image_id), entry);
    return undefined;
  });
  const paths: string[] = [];
  const boxes: BoxTargets[] = [];
  for (const im of coco.images) {
    const path = locateCocoImage(im.file_name, jsonPath, roots);
    if (path === null) {
      problem(join(dirname(jsonPath), im.file_name), 'image file not found');
      continue;
    }
    const check = await checkImage(path, o.full);
    if (!check.ok) {
      problem(path, check.reason);
      continue;
    }
    const t = byImage.get(String(im.id)) ?? { boxes: [], classes: [] };
    paths.push(path);
    boxes.push({ boxes: Float32Array.from(t.boxes), classes: Int32Array.from(t.classes) });
  }
  return { kind: 'files', paths, labels: new Int32Array(paths.length), channels: 3, boxes };
}
