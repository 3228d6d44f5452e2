/**
 * `kestrel data convert --to masks`: COCO instances JSON splits (polygons or RLE, as a detection
 * data.yaml names them) into the segmentation mask layout — images copied to images/<split>/, one
 * 8-bit PNG per image in masks/<split>/ (value = class, 0 = background, 255 = ignore), and a
 * data.yaml with `background` first and then the categories.
 *
 * How instances become one class per pixel:
 * - crowd regions (iscrowd 1) are 255, ignore: a crowd mixes objects with what lies between them,
 *   and COCO's own evaluation ignores them too;
 * - objects are painted largest first, so where two overlap the smaller one is on top (a cup on
 *   a table keeps its pixels); equal areas: the later annotation on top. Objects cover crowd regions;
 * - an annotation without a usable segmentation (none, unreadable, wrong RLE size) has its box
 *   painted 255, since something is there whose outline is unknown; it is listed.
 *
 * @example
 * await convertToMasks('coco/data.yaml', 'coco-masks'); // then: kestrel train --task segment --data coco-masks
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname, isAbsolute, join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { writeFileAtomic } from '../checkpoint/atomic.js';
import { cocoClassNames, locateCocoImage, readCocoFile, type CocoInstances } from './coco.js';
import { cocoMask, type CocoSegmentation } from './coco-mask.js';
import { DataError } from './errors.js';
import { checkImage } from './image.js';
import { encodePng } from './png.js';
import type { Skipped } from './source.js';
import { IGNORE } from './targets.js';
import { classNames, readYaml } from './yolo.js';

export interface MaskConvertResult {
  yaml: string;
  images: number;
  /** Objects painted (crowd regions not counted). */
  objects: number;
  /** Images and annotations left out or painted as ignore, with why. */
  skipped: Skipped[];
}

type Annotation = CocoInstances['annotations'][number] & { segmentation?: unknown; id?: unknown };

const write = (path: string, data: Uint8Array): void => writeFileAtomic(path, [data]);

/** One image's mask from its annotations; problems are reported through `note`. */
export function paintMask(anns: readonly Annotation[], h: number, w: number, classOf: (categoryId: number) => number | undefined, note: (a: Annotation, why: string) => void): { mask: Uint8Array; objects: number } {
  const mask = new Uint8Array(h * w);
  const objects: { bits: Uint8Array; area: number; order: number; value: number }[] = [];
  const ignoreBox = (a: Annotation): void => {
    const [x, y, bw, bh] = a.bbox as [number, number, number, number];
    for (let r = Math.max(0, Math.floor(y)); r < Math.min(h, Math.ceil(y + bh)); r++) for (let c = Math.max(0, Math.floor(x)); c < Math.min(w, Math.ceil(x + bw)); c++) mask[r * w + c] = IGNORE;
  };
  anns.forEach((a, order) => {
    const k = classOf(a.category_id);
    if (k === undefined) return note(a, `category_id ${a.category_id} is not in categories; left out`);
    const seg = a.segmentation;
    const empty = seg === undefined || seg === null || (Array.isArray(seg) && seg.length === 0);
    const bits = empty ? 'no segmentation' : cocoMask(seg as CocoSegmentation, h, w);
    if (typeof bits === 'string') {
      ignoreBox(a);
      return note(a, `${bits}; its box is marked ignore (255)`);
    }
    if (a.iscrowd) {
      for (let i = 0; i < bits.length; i++) if (bits[i]) mask[i] = IGNORE;
      return undefined;
    }
    objects.push({ bits, area: bits.reduce((s, v) => s + v, 0), order, value: k + 1 });
    return undefined;
  });
  objects.sort((a, b) => b.area - a.area || a.order - b.order);
  for (const o of objects) for (let i = 0; i < o.bits.length; i++) if (o.bits[i]) mask[i] = o.value;
  return { mask, objects: objects.length };
}

/** The data.yaml of `spec` (a file, or a folder holding one). */
function yamlOf(spec: string): string {
  const p = resolve(spec);
  if (!existsSync(p)) throw new DataError(`data path does not exist: ${spec}`);
  if (!statSync(p).isDirectory()) return p;
  const inside = ['data.yaml', 'data.yml'].map((f) => join(p, f)).find((f) => existsSync(f));
  if (!inside) throw new DataError(`${spec}: no data.yaml (train, val as COCO instances JSON files)`);
  return inside;
}

/** Converts every COCO split of a data.yaml into the mask layout under `out` (a new or empty folder). */
export async function convertToMasks(spec: string, out: string): Promise<MaskConvertResult> {
  if (existsSync(out) && readdirSync(out).length > 0) throw new DataError(`${out}: --out must be a new or empty folder`);
  const yamlPath = yamlOf(spec);
  const doc = readYaml(yamlPath);
  const root = typeof doc.path === 'string' ? resolve(dirname(yamlPath), doc.path) : dirname(yamlPath);
  const splits = (['train', 'val', 'test'] as const).filter((s) => doc[s] !== undefined && doc[s] !== null);
  const jsonOf = (split: string): string => {
    const e = doc[split];
    if (typeof e !== 'string' || extname(e).toLowerCase() !== '.json') throw new DataError(`${yamlPath}: --to masks converts COCO instances JSON splits (polygons or RLE), and ${split} is not a .json file`);
    return isAbsolute(e) ? e : resolve(root, e);
  };
  if (splits.length === 0) throw new DataError(`${yamlPath}: no train, val or test split`);
  const files = Object.fromEntries(splits.map((s) => [s, readCocoFile(jsonOf(s))]));
  const classes = doc.names === undefined ? cocoClassNames(files[splits[0]!]!) : classNames(yamlPath, doc);
  if (classes.length + 1 >= IGNORE) throw new DataError(`${yamlPath}: ${classes.length} categories, but mask values stop at 254 (0 is background, 255 ignore)`);
  const skipped: Skipped[] = [];
  let [images, objects] = [0, 0];
  const yaml: Record<string, unknown> = {};
  for (const split of splits) {
    const json = jsonOf(split);
    const coco = files[split]!;
    const index = new Map<number, number>();
    for (const cat of coco.categories) {
      const k = classes.indexOf(cat.name);
      if (k < 0) throw new DataError(`${json}: category '${cat.name}' (id ${cat.id}) is not in names (${classes.join(', ')})`);
      index.set(cat.id, k);
    }
    const byImage = new Map<string, Annotation[]>();
    const known = new Set(coco.images.map((im) => String(im.id)));
    coco.annotations.forEach((a, i) => {
      if (!known.has(String(a.image_id))) return void skipped.push({ path: json, reason: `annotation ${i}: image_id ${a.image_id} is not in images` });
      byImage.set(String(a.image_id), [...(byImage.get(String(a.image_id)) ?? []), a as Annotation]);
    });
    for (const dir of ['images', 'masks']) mkdirSync(join(out, dir, split), { recursive: true });
    const used = new Set<string>();
    for (const im of coco.images) {
      const path = locateCocoImage(im.file_name, json, [root, join(root, 'images', split)]);
      if (path === null) {
        skipped.push({ path: join(dirname(json), im.file_name), reason: 'image file not found' });
        continue;
      }
      const check = await checkImage(path, false);
      if (!check.ok) {
        skipped.push({ path, reason: check.reason });
        continue;
      }
      const [w, h] = [check.width, check.height];
      if ((im.width !== undefined && im.width !== w) || (im.height !== undefined && im.height !== h)) {
        skipped.push({ path, reason: `the image is ${w}×${h} but the JSON says ${im.width}×${im.height}` });
        continue;
      }
      const anns = byImage.get(String(im.id)) ?? [];
      const painted = paintMask(anns, h, w, (id) => index.get(id), (a, why) => skipped.push({ path: json, reason: `annotation id ${String(a.id ?? '?')} (image ${im.file_name}): ${why}` }));
      let stem = basename(path, extname(path));
      if (used.has(stem)) stem = `${images}_${stem}`;
      used.add(stem);
      write(join(out, 'images', split, `${stem}${extname(path)}`), readFileSync(path));
      write(join(out, 'masks', split, `${stem}.png`), encodePng({ width: w, height: h, data: painted.mask }));
      images++;
      objects += painted.objects;
    }
    yaml[split] = `images/${split}`;
  }
  const names = [classes.includes('background') ? '__background__' : 'background', ...classes];
  const yamlOut = join(out, 'data.yaml');
  const header = `# kestrel data convert --to masks from ${yamlPath}\n# mask value = class index; 255 = ignore (crowd regions, objects without an outline); smaller objects on top\n`;
  write(yamlOut, Buffer.from(header + stringify({ ...yaml, masks: 'masks', names })));
  return { yaml: yamlOut, images, objects, skipped };
}
