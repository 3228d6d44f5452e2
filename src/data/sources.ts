/**
 * resolveClassifyData: one entry point from a data spec (a known name, a folder, or a CSV
 * manifest) to checked, split ClassifyData.
 */
import { existsSync, statSync } from 'node:fs';
import { basename, extname, resolve } from 'node:path';
import { DataError } from './errors.js';
import { collectFolder } from './folder.js';
import { collectManifest } from './manifest.js';
import { isKnownDataset, KNOWN_DATASETS, loadNamed } from './named.js';
import { assemble, type ScanOptions } from './scan.js';
import type { ClassifyData } from './source.js';

export type ResolveOptions = ScanOptions;
export type { ClassifyData, DataSource, FileSource, MemorySource, Skipped } from './source.js';
export { sourceLength } from './source.js';
export { IMAGE_EXTENSIONS } from './image.js';
export { DataError } from './errors.js';
export { KNOWN_DATASETS } from './named.js';

const looksLikePath = (spec: string): boolean => /[\\/.]/.test(spec) || spec.startsWith('~');

/**
 * Resolves a data spec for image classification.
 *
 * - `mnist`, `fashion-mnist`: the official splits in memory (28×28, 1 channel). val is the
 *   official test split unless `valFraction` is given; then val is a seeded stratified part of
 *   train and `test` the official test split.
 * - a folder: `root/{train,val,test}/<class>/*` (val, test optional; no val → seeded stratified
 *   split of train) or a flat `root/<class>/*` (seeded split into train/val).
 * - a `.csv` manifest with `path,label[,split]` columns, paths relative to its folder.
 *
 * Unreadable, truncated and non-image files are listed in `skipped` (with `strict`, unreadable and
 * truncated ones throw a DataError instead). Every problem with the data itself is a one-line DataError.
 *
 * @example
 * const data = await resolveClassifyData('data/flowers', { seed: 0, valFraction: 0.1 });
 * data.classes;            // ['daisy', 'rose', 'tulip']
 * data.splits.train.kind;  // 'files'
 * for (const s of data.skipped) console.warn(`skipped ${s.path}: ${s.reason}`);
 */
export async function resolveClassifyData(spec: string, opts: ResolveOptions = {}): Promise<ClassifyData> {
  if (opts.valFraction !== undefined && !(opts.valFraction > 0 && opts.valFraction < 1)) {
    throw new DataError(`valFraction must be in (0, 1), got ${opts.valFraction}`);
  }
  const path = resolve(spec);
  if (!existsSync(path)) {
    if (isKnownDataset(spec)) return loadNamed(spec, opts);
    if (looksLikePath(spec)) throw new DataError(`data path does not exist: ${spec}`);
    throw new DataError(`unknown data set '${spec}' (known: ${KNOWN_DATASETS.join(', ')}; or give a folder or a .csv manifest)`);
  }
  if (statSync(path).isDirectory()) return assemble(basename(path), await collectFolder(path), opts);
  if (extname(path).toLowerCase() === '.csv') return assemble(basename(path, extname(path)), await collectManifest(path), opts);
  throw new DataError(`data path is neither a folder nor a .csv manifest: ${spec}`);
}
