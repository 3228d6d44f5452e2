/**
 * The labelling session's memory: one SQLite row per decision (better-sqlite3, WAL journal,
 * synchronous=FULL), each committed before the HTTP reply, so killing the server loses nothing
 * it acknowledged. Applying labels to files is recorded as pending before the file moves and as
 * done after, which is what makes a repeated or interrupted apply safe.
 */
import Database from 'better-sqlite3';

export interface Decision {
  seq: number;
  image: string;
  class: string;
  at: string;
}

export interface Applied {
  image: string;
  class: string;
  mode: 'move' | 'copy';
  /** Where the file goes, relative to the project root. */
  dest: string;
  state: 'pending' | 'done';
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS decisions (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  image TEXT NOT NULL,
  class TEXT NOT NULL,
  at TEXT NOT NULL,
  undone_at TEXT
);
CREATE INDEX IF NOT EXISTS decisions_image ON decisions (image, seq);
CREATE TABLE IF NOT EXISTS applied (
  image TEXT PRIMARY KEY,
  class TEXT NOT NULL,
  mode TEXT NOT NULL CHECK (mode IN ('move', 'copy')),
  dest TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending', 'done')),
  at TEXT NOT NULL
);`;

type Db = InstanceType<typeof Database>;

/**
 * @example
 * const store = LabelStore.open('photos/.kestrel-labels.db');
 * store.record('img1.jpg', 'cat');
 * store.current().get('img1.jpg')?.class; // 'cat'
 * store.close();
 */
export class LabelStore {
  readonly #db: Db;

  private constructor(db: Db) {
    this.#db = db;
  }

  static open(path: string): LabelStore {
    const db = new Database(path);
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.exec(SCHEMA);
    } catch (e) {
      db.close();
      throw e;
    }
    return new LabelStore(db);
  }

  /** Adds a decision (committed when this returns). A later decision for the same image overrides it. */
  record(image: string, cls: string): Decision {
    const at = new Date().toISOString();
    const r = this.#db.prepare('INSERT INTO decisions (image, class, at) VALUES (?, ?, ?)').run(image, cls, at);
    return { seq: Number(r.lastInsertRowid), image, class: cls, at };
  }

  /** The most recent decision not undone, or null. */
  last(): Decision | null {
    return (this.#db.prepare('SELECT seq, image, class, at FROM decisions WHERE undone_at IS NULL ORDER BY seq DESC LIMIT 1').get() as Decision | undefined) ?? null;
  }

  /** Marks a decision undone; an earlier decision for the same image, if any, counts again. */
  undo(seq: number): void {
    this.#db.prepare('UPDATE decisions SET undone_at = ? WHERE seq = ? AND undone_at IS NULL').run(new Date().toISOString(), seq);
  }

  /** Each image's current label: its latest decision not undone. */
  current(): Map<string, Decision> {
    const rows = this.#db.prepare(`
      SELECT d.seq, d.image, d.class, d.at FROM decisions d
      WHERE d.undone_at IS NULL AND d.seq = (SELECT MAX(seq) FROM decisions e WHERE e.image = d.image AND e.undone_at IS NULL)
      ORDER BY d.seq`).all() as Decision[];
    return new Map(rows.map((d) => [d.image, d]));
  }

  applied(): Map<string, Applied> {
    const rows = this.#db.prepare('SELECT image, class, mode, dest, state FROM applied').all() as Applied[];
    return new Map(rows.map((a) => [a.image, a]));
  }

  /** Records the intent to put `image` at `dest` (before the file moves). */
  beginApply(a: Omit<Applied, 'state'>): Applied {
    this.#db.prepare('INSERT OR REPLACE INTO applied (image, class, mode, dest, state, at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(a.image, a.class, a.mode, a.dest, 'pending', new Date().toISOString());
    return { ...a, state: 'pending' };
  }

  finishApply(image: string): void {
    this.#db.prepare("UPDATE applied SET state = 'done', at = ? WHERE image = ?").run(new Date().toISOString(), image);
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }
}
