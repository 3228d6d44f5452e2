/**
 * CSV manifests: a header naming `path` and `label` columns (any order, other columns ignored)
 * and an optional `split` column (train, val/valid/validation, test). Paths are relative to the
 * manifest's folder. Classes sort as strings, or as numbers when every label is an integer. Fields may be double-quoted ("a,b" and "" escapes, one line per record).
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { DataError } from './errors.js';
import { isImagePath } from './image.js';
import type { Candidate, Collected, SplitName } from './scan.js';

const SPLITS: Record<string, SplitName> = { train: 'train', val: 'val', valid: 'val', validation: 'val', test: 'test' };

/** Splits one CSV line into fields; null when a quote is left open. */
export function parseCsvLine(line: string): string[] | null {
  const out: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') {
        quoted = false;
      } else {
        field += ch;
      }
    } else if (ch === '"' && field.trim() === '') {
      quoted = true;
      field = '';
    } else if (ch === ',') {
      out.push(field.trim());
      field = '';
    } else {
      field += ch;
    }
  }
  if (quoted) return null;
  out.push(field.trim());
  return out;
}

/** Collects the candidate images a manifest lists (not yet verified). */
export async function collectManifest(csvPath: string): Promise<Collected> {
  const text = (await readFile(csvPath, 'utf8')).replace(/^\uFEFF/, '');
  const lines = text.split(/\r?\n/);
  const header = parseCsvLine(lines[0] ?? '')?.map((h) => h.toLowerCase());
  const col = (name: string): number => header?.indexOf(name) ?? -1;
  const [pathCol, labelCol, splitCol] = [col('path'), col('label'), col('split')];
  if (!header || pathCol < 0 || labelCol < 0) {
    throw new DataError(`${csvPath} line 1: the header must name 'path' and 'label' columns (and optionally 'split'), got '${lines[0] ?? ''}'`);
  }
  const root = dirname(csvPath);
  const lists: Record<SplitName, Candidate[]> = { train: [], val: [], test: [] };
  const skipped: Collected['skipped'] = [];
  for (let n = 1; n < lines.length; n++) {
    const line = lines[n]!;
    if (line.trim() === '') continue;
    const where = `${csvPath} line ${n + 1}`;
    const f = parseCsvLine(line);
    if (f === null) throw new DataError(`${where}: unterminated quoted field`);
    if (f.length !== header.length) throw new DataError(`${where}: expected ${header.length} fields (${header.join(',')}), got ${f.length}`);
    const [rel, label] = [f[pathCol]!, f[labelCol]!];
    if (rel === '' || label === '') throw new DataError(`${where}: empty ${rel === '' ? 'path' : 'label'}`);
    const split = splitCol < 0 ? 'train' : SPLITS[f[splitCol]!.toLowerCase()];
    if (split === undefined) throw new DataError(`${where}: unknown split '${f[splitCol]}' (expected train, val or test)`);
    const path = resolve(root, rel);
    if (isImagePath(path)) lists[split].push({ path, label });
    else skipped.push({ path, reason: 'not an image extension' });
  }
  const splits: Collected['splits'] = { train: lists.train };
  if (lists.val.length) splits.val = lists.val;
  if (lists.test.length) splits.test = lists.test;
  const numeric = [...lists.train, ...lists.val, ...lists.test].every((c) => /^-?\d+$/.test(c.label));
  return { splits, skipped, numericLabels: numeric };
}
