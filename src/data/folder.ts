/**
 * ImageFolder layouts: `root/{train,val,test}/<class>/*` (val and test optional) or a flat
 * `root/<class>/*`. Class folders are searched recursively, like torchvision's ImageFolder;
 * dot-files (.DS_Store, macOS ._ forks) are ignored without a note, and so is an `unlabelled/`
 * folder (images waiting for the web UI's labelling page), which is not a class.
 */
import { readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { DataError } from './errors.js';
import { isImagePath } from './image.js';
import type { Candidate, Collected } from './scan.js';
import type { Skipped } from './source.js';

const VAL_NAMES = ['val', 'valid', 'validation'];
const UNLABELLED = new Set(['unlabelled', 'unlabeled']);

async function entries(dir: string): Promise<{ dirs: string[]; files: string[] }> {
  const dirs: string[] = [];
  const files: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (e.name.startsWith('.')) continue;
    const path = join(dir, e.name);
    const isDir = e.isSymbolicLink() ? (await stat(path).catch(() => null))?.isDirectory() ?? false : e.isDirectory();
    (isDir ? dirs : files).push(e.name);
  }
  return { dirs: dirs.sort(), files: files.sort() };
}

async function walkFiles(dir: string, out: string[]): Promise<void> {
  const { dirs, files } = await entries(dir);
  for (const f of files) out.push(join(dir, f));
  for (const d of dirs) await walkFiles(join(dir, d), out);
}

/** The images of one split folder (`<dir>/<class>/…`); files that are not images go to `skipped`. */
async function scanSplit(dir: string, skipped: Skipped[]): Promise<Candidate[]> {
  const { dirs, files } = await entries(dir);
  for (const f of files) skipped.push({ path: join(dir, f), reason: 'not in a class folder' });
  const classes = dirs.filter((d) => !UNLABELLED.has(d));
  const out: Candidate[] = [];
  for (const cls of classes) {
    const all: string[] = [];
    await walkFiles(join(dir, cls), all);
    let n = 0;
    for (const path of all) {
      if (isImagePath(path)) {
        out.push({ path, label: cls });
        n++;
      } else {
        skipped.push({ path, reason: 'not an image extension' });
      }
    }
    if (n === 0) throw new DataError(`empty class folder: ${join(dir, cls)} (no images)`);
  }
  return out;
}

/** Collects the candidate images of a folder data set (not yet verified). */
export async function collectFolder(root: string): Promise<Collected> {
  const dirs = (await entries(root)).dirs.filter((d) => !UNLABELLED.has(d));
  const skipped: Skipped[] = [];
  const valDir = VAL_NAMES.find((v) => dirs.includes(v));
  const hasTest = dirs.includes('test');
  if (!dirs.includes('train')) {
    if (valDir !== undefined || hasTest) throw new DataError(`${root} has ${valDir ?? 'test'}/ but no train/ folder`);
    if (dirs.length === 0) throw new DataError(`no class folders in ${root} (expected ${basename(root)}/<class>/*.jpg or ${basename(root)}/train/<class>/*.jpg)`);
    return { splits: { train: await scanSplit(root, skipped) }, skipped };
  }
  const splits: Collected['splits'] = { train: await scanSplit(join(root, 'train'), skipped) };
  if (valDir !== undefined) splits.val = await scanSplit(join(root, valDir), skipped);
  if (hasTest) splits.test = await scanSplit(join(root, 'test'), skipped);
  return { splits, skipped };
}
