/**
 * A labelling project: an ImageFolder (`root/<class>/…`, or `root/train/<class>/…`) with the
 * images still to sort in `root/unlabelled/`. Decisions go to a LabelStore in the root
 * (`.kestrel-labels.db`); applying them moves or copies each file into its class folder, one
 * atomic rename per file, safe to repeat or to resume after a crash.
 */
import { closeSync, copyFileSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { basename, dirname, extname, join, relative, sep } from 'node:path';
import { randomBytes } from 'node:crypto';
import { stringify } from 'csv-stringify/sync';
import { isImagePath } from '../data/image.js';
import { HttpError } from '../http/index.js';
import { LabelStore, type Applied, type Decision } from './label-store.js';
import { realInside } from './safe-path.js';

export const UNLABELLED = 'unlabelled';
export const LABEL_DB = '.kestrel-labels.db';

export interface LabelOptions {
  /** The ImageFolder root holding `unlabelled/`. */
  root: string;
  /** Class names; default: the class folders already there. Missing folders are made on apply. */
  classes?: string[];
  /** The SQLite file; default `<root>/.kestrel-labels.db`. */
  db?: string;
}

export interface Progress {
  /** Images with a current label, and those still waiting in unlabelled/. */
  labelled: number;
  remaining: number;
  total: number;
  /** Labels already applied to the class folders. */
  applied: number;
  byClass: Record<string, number>;
}

export interface ApplyResult {
  mode: 'move' | 'copy';
  /** Files put in their class folder by this call. */
  applied: { image: string; dest: string }[];
  /** Labels applied earlier. */
  already: number;
  failed: { image: string; reason: string }[];
}

const byName = new Intl.Collator('en', { numeric: true }).compare;
const NOT_CLASS = new Set([UNLABELLED, 'unlabeled', 'train', 'val', 'valid', 'validation', 'test']);

/** A class name that is also a safe folder name. */
function checkClass(name: string): string {
  if (name.length === 0 || name.length > 100 || /[/\\\0]/.test(name) || name.startsWith('.') || NOT_CLASS.has(name)) {
    throw new Error(`"${name}" cannot be a class name (it must be a plain folder name, not ${[...NOT_CLASS].join('/')})`);
  }
  return name;
}

function subfolders(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory() && !e.name.startsWith('.') && !NOT_CLASS.has(e.name)).map((e) => e.name).sort(byName);
}

function fsyncPath(path: string, flags = 'r'): void {
  const fd = openSync(path, flags);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Copies src to dest through a temporary file in dest's folder: dest appears whole or not at all. */
function copyAtomic(src: string, dest: string): void {
  const tmp = join(dest, '..', `.${basename(dest)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    copyFileSync(src, tmp);
    fsyncPath(tmp, 'r+');
    renameSync(tmp, dest);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

const sameBytes = (a: string, b: string): boolean => statSync(a).size === statSync(b).size && readFileSync(a).equals(readFileSync(b));

export class LabelProject {
  readonly root: string;
  readonly unlabelled: string;
  /** Where the class folders are: `root/train` when the project has splits, else root. */
  readonly classRoot: string;
  readonly classes: string[];
  readonly #store: LabelStore;

  private constructor(root: string, classRoot: string, classes: string[], store: LabelStore) {
    this.root = root;
    this.unlabelled = join(root, UNLABELLED);
    this.classRoot = classRoot;
    this.classes = classes;
    this.#store = store;
  }

  /** Opens a project; fails (one line) when the root, its unlabelled/ folder or any class is missing. */
  static open(opts: LabelOptions): LabelProject {
    const { root } = opts;
    if (!existsSync(root) || !statSync(root).isDirectory()) throw new Error(`label: ${root} is not a folder`);
    if (!existsSync(join(root, UNLABELLED))) throw new Error(`label: ${root} has no ${UNLABELLED}/ folder (put the images to label there)`);
    const classRoot = existsSync(join(root, 'train')) ? join(root, 'train') : root;
    const classes = [...new Set(opts.classes ?? subfolders(classRoot))].map(checkClass);
    if (classes.length === 0) throw new Error(`label: no class folders in ${classRoot}; make them or give the class names (--classes cat,dog)`);
    return new LabelProject(root, classRoot, classes, LabelStore.open(opts.db ?? join(root, LABEL_DB)));
  }

  /** Image files waiting in unlabelled/ (top level), in natural name order. */
  images(): string[] {
    return readdirSync(this.unlabelled, { withFileTypes: true })
      .filter((e) => e.isFile() && !e.name.startsWith('.') && isImagePath(e.name)).map((e) => e.name).sort(byName);
  }

  /** Images in unlabelled/ with no current label. */
  #pending(): string[] {
    const cur = this.#store.current();
    return this.images().filter((i) => !cur.has(i));
  }

  /** The next image to label: the first unlabelled one after `after` in name order, wrapping round; null when none is left. */
  next(after?: string): string | null {
    const todo = this.#pending();
    if (todo.length === 0) return null;
    if (after === undefined) return todo[0]!;
    return todo.find((i) => byName(i, after) > 0) ?? todo[0]!;
  }

  progress(): Progress {
    const cur = this.#store.current();
    const applied = [...this.#store.applied().values()].filter((a) => a.state === 'done' && cur.get(a.image)?.class === a.class).length;
    const byClass = Object.fromEntries(this.classes.map((c) => [c, 0]));
    for (const d of cur.values()) byClass[d.class] = (byClass[d.class] ?? 0) + 1;
    const remaining = this.#pending().length;
    return { labelled: cur.size, remaining, total: cur.size + remaining, applied, byClass };
  }

  /**
   * A file name in unlabelled/ as a request gives it: a plain name of an image file there. Returns
   * its real path; a link that leads out of unlabelled/ is a 403.
   */
  imagePath(image: string): string {
    if (image !== basename(image) || image.startsWith('.') || image.includes('\\') || image.includes('\0') || !isImagePath(image)) {
      throw new HttpError('bad_image', `"${image}" is not an image name in ${UNLABELLED}/`);
    }
    const path = realInside(this.unlabelled, image, `${UNLABELLED}/`);
    if (path === null || !statSync(path).isFile()) throw new HttpError('no_such_image', `no image "${image}" in ${UNLABELLED}/`);
    return path;
  }

  /** Records a label (durably, before returning). */
  label(image: string, cls: string): Decision {
    if (!this.classes.includes(cls)) throw new HttpError('unknown_class', `unknown class "${cls}" (classes: ${this.classes.join(', ')})`);
    this.imagePath(image);
    const done = this.#store.applied().get(image);
    if (done) throw new HttpError('already_applied', `"${image}" was already ${done.mode === 'move' ? 'moved' : 'copied'} to ${done.dest}`);
    return this.#store.record(image, cls);
  }

  /** Takes back the latest decision; refused once it has been applied to the files. */
  undo(): Decision {
    const last = this.#store.last();
    if (last === null) throw new HttpError('nothing_to_undo', 'there is no label to undo');
    const done = this.#store.applied().get(last.image);
    if (done) throw new HttpError('already_applied', `the last label ("${last.image}" → ${last.class}) was already applied to ${done.dest}`);
    this.#store.undo(last.seq);
    return last;
  }

  /** A free destination for image in its class folder: its own name, or name-2, -3… when another file has it. */
  #destFor(image: string, cls: string): string {
    const dir = join(this.classRoot, cls);
    const src = join(this.unlabelled, image);
    const ext = extname(image);
    const stem = image.slice(0, image.length - ext.length);
    for (let k = 1; ; k++) {
      const path = join(dir, k === 1 ? image : `${stem}-${k}${ext}`);
      if (!existsSync(path) || sameBytes(src, path)) return relative(this.root, path).split(sep).join('/');
    }
  }

  /**
   * Puts one file where its pending record says. A dest that exists already means an earlier try
   * finished the copy or rename. Neither end may lead out of the project through a link: not the
   * file read (unlabelled/x.png → /etc/passwd), nor the class folder written to (cat → /etc).
   */
  #finish(a: Applied): void {
    const src = join(this.unlabelled, a.image);
    const dest = join(this.root, a.dest);
    realInside(this.root, dirname(a.dest), 'the labelled folder');
    const real = realInside(this.unlabelled, a.image, `${UNLABELLED}/`);
    if (existsSync(dest)) {
      if (a.mode === 'move' && real !== null) unlinkSync(src);
      return;
    }
    if (real === null) throw new Error(`the file is neither in ${UNLABELLED}/ nor at ${a.dest}`);
    mkdirSync(dirname(dest), { recursive: true });
    if (a.mode === 'copy') {
      copyAtomic(real, dest);
    } else {
      try {
        renameSync(src, dest);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e;
        copyAtomic(src, dest);
        unlinkSync(src);
      }
    }
    fsyncPath(dirname(dest));
  }

  /**
   * Moves or copies every labelled image into its class folder. Each file is recorded as pending,
   * renamed into place, then recorded as done; a second call (or one after a crash) finishes
   * what is pending and skips what is done.
   */
  apply(mode: 'move' | 'copy'): ApplyResult {
    const out: ApplyResult = { mode, applied: [], already: 0, failed: [] };
    const done = this.#store.applied();
    for (const d of this.#store.current().values()) {
      let a = done.get(d.image);
      if (a?.state === 'done') {
        out.already++;
        continue;
      }
      try {
        a ??= this.#store.beginApply({ image: d.image, class: d.class, mode, dest: this.#destFor(d.image, d.class) });
        this.#finish(a);
        this.#store.finishApply(d.image);
        out.applied.push({ image: d.image, dest: a.dest });
      } catch (e) {
        // A file system error's own message names absolute paths: the client gets its code.
        const err = e as NodeJS.ErrnoException;
        out.failed.push({ image: d.image, reason: err.syscall !== undefined && err.code !== undefined ? `${err.syscall} failed (${err.code})` : err.message });
      }
    }
    return out;
  }

  /** The current labels as CSV (`path,label`, paths relative to the root: usable as a Kestrel CSV manifest saved there). */
  csv(): string {
    const applied = this.#store.applied();
    const rows = [...this.#store.current().values()].sort((a, b) => byName(a.image, b.image)).map((d) => {
      const a = applied.get(d.image);
      return { path: a?.state === 'done' && a.mode === 'move' ? a.dest : `${UNLABELLED}/${d.image}`, label: d.class };
    });
    return stringify(rows, { header: true, columns: ['path', 'label'] });
  }

  close(): void {
    this.#store.close();
  }
}
