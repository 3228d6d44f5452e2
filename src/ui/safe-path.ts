/**
 * Every path a UI request names, resolved through symbolic links before a file is served, read or
 * moved: a link in a served folder can lead anywhere (`unlabelled/x.png → /etc/passwd`), so what
 * is checked is where it leads, against the real path of the folder it must stay in.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { isAbsolute, join, relative, sep } from 'node:path';
import { HttpError } from '../http/index.js';

/** Whether `path` is `root` or inside it (both already real paths). */
export function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

/** Errors of realpath that mean "nothing readable there". */
const MISSING = new Set(['ENOENT', 'ENOTDIR', 'ELOOP', 'ENAMETOOLONG']);

/**
 * The real path of `root/rel`, or null when nothing is there. A path that leads outside `root`
 * (itself resolved, so a root reached through a link is fine) is a 403 naming `rel` and `where`.
 *
 * @example
 * realInside('photos/unlabelled', 'x.png', 'unlabelled/'); // '/data/photos/unlabelled/x.png', or a 403 if x.png links elsewhere
 */
export function realInside(root: string, rel: string, where: string): string | null {
  let real: string;
  try {
    real = realpathSync(join(root, rel));
  } catch (e) {
    if (MISSING.has((e as NodeJS.ErrnoException).code ?? '')) return null;
    throw e;
  }
  if (!isInside(realpathSync(root), real)) throw new HttpError('outside_root', `"${rel}" leads outside ${where}`);
  return real;
}

/** The text of `root/rel`, or null when it is missing, unreadable or leads outside `root` (a run's own files, read to describe it). */
export function readInside(root: string, rel: string): string | null {
  try {
    const real = realInside(root, rel, root);
    return real === null ? null : readFileSync(real, 'utf8');
  } catch {
    return null;
  }
}
