/**
 * `kestrel data convert`: a detection set from one layout to the other — YOLO (images/ beside
 * labels/ with normalised `class cx cy w h` lines) or COCO (annotations/instances_<split>.json with
 * pixel `bbox` [x, y, w, h]) — copying the images and writing a data.yaml that Kestrel reads back.
 * Whatever the source left out is listed; data.yaml comes last, so an interrupted conversion leaves
 * no usable-looking set.
 *
 * @example
 * await convertDetect('digits/data.yaml', 'coco', 'digits-coco');
 */
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { stringify } from 'yaml';
import { writeFileAtomic } from '../checkpoint/atomic.js';
import { DataError } from './errors.js';
import { imageSize } from './image.js';
import type { FileSource, Skipped } from './source.js';
import { resolveDetectData } from './yolo.js';

export type DetectLayout = 'yolo' | 'coco';

export interface ConvertResult {
  yaml: string;
  images: number;
  boxes: number;
  skipped: Skipped[];
}

const write = (path: string, data: string | Buffer): void => writeFileAtomic(path, [typeof data === 'string' ? Buffer.from(data) : data]);

/** Copies a split's images to out/images/<split>/, unique names kept in source order. */
function copyImages(src: FileSource, out: string, split: string): string[] {
  const dir = join(out, 'images', split);
  mkdirSync(dir, { recursive: true });
  const used = new Set<string>();
  return src.paths.map((p, i) => {
    let name = basename(p);
    if (used.has(name)) name = `${i}_${name}`;
    used.add(name);
    write(join(dir, name), readFileSync(p));
    return name;
  });
}

export async function convertDetect(spec: string, to: DetectLayout, out: string): Promise<ConvertResult> {
  if (existsSync(out) && readdirSync(out).length > 0) throw new DataError(`${out}: --out must be a new or empty folder`);
  const data = await resolveDetectData(spec);
  const splits = Object.entries(data.splits).filter((e): e is [string, FileSource] => e[1] !== undefined);
  const yaml: Record<string, unknown> = {};
  let images = 0;
  let boxCount = 0;
  for (const [split, src] of splits) {
    const names = copyImages(src, out, split);
    const sizes = await Promise.all(src.paths.map((p) => imageSize(p)));
    images += names.length;
    if (to === 'yolo') {
      mkdirSync(join(out, 'labels', split), { recursive: true });
      names.forEach((name, i) => {
        const [h, w] = sizes[i]!;
        const t = src.boxes![i]!;
        const lines = Array.from(t.classes, (k, j) => {
          const [x1, y1, x2, y2] = t.boxes.subarray(j * 4, j * 4 + 4) as unknown as [number, number, number, number];
          return `${k} ${((x1 + x2) / 2 / w).toFixed(6)} ${((y1 + y2) / 2 / h).toFixed(6)} ${((x2 - x1) / w).toFixed(6)} ${((y2 - y1) / h).toFixed(6)}`;
        });
        boxCount += lines.length;
        write(join(out, 'labels', split, `${basename(name, extname(name))}.txt`), lines.length ? `${lines.join('\n')}\n` : '');
      });
      yaml[split] = `images/${split}`;
    } else {
      const annotations: Record<string, unknown>[] = [];
      const cocoImages = names.map((name, i) => {
        const [h, w] = sizes[i]!;
        const t = src.boxes![i]!;
        for (let j = 0; j < t.classes.length; j++) {
          const [x1, y1, x2, y2] = t.boxes.subarray(j * 4, j * 4 + 4) as unknown as [number, number, number, number];
          const bbox = [x1, y1, x2 - x1, y2 - y1].map((v) => Number(v.toFixed(3)));
          annotations.push({ id: annotations.length + 1, image_id: i + 1, category_id: t.classes[j]! + 1, bbox, area: Number((bbox[2]! * bbox[3]!).toFixed(3)), iscrowd: 0 });
        }
        return { id: i + 1, file_name: `../images/${split}/${name}`, width: w, height: h };
      });
      boxCount += annotations.length;
      mkdirSync(join(out, 'annotations'), { recursive: true });
      const categories = data.classes.map((name, k) => ({ id: k + 1, name }));
      write(join(out, 'annotations', `instances_${split}.json`), JSON.stringify({ images: cocoImages, annotations, categories }));
      yaml[split] = `annotations/instances_${split}.json`;
    }
  }
  const yamlPath = join(out, 'data.yaml');
  write(yamlPath, `# kestrel data convert --to ${to} from ${spec}\n${stringify({ ...yaml, names: data.classes })}`);
  return { yaml: yamlPath, images, boxes: boxCount, skipped: data.skipped };
}
