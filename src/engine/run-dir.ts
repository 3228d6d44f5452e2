/**
 * A run folder (`runs/<task>/<name>/`): args.yaml, results.csv, a log file and weights/, each file
 * written atomically so an interrupted run never leaves a half-written one.
 */
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { stringify as toYaml } from 'yaml';
import { writeFileAtomic } from '../checkpoint/atomic.js';

/** The temporary name writeFileAtomic gives a file while it is written. */
const STALE_TMP = /^\..+\.\d+\.[0-9a-f]{8}\.tmp$/;

export class RunDir {
  readonly #rows: Record<string, number | string>[] = [];

  private constructor(readonly path: string) {
    mkdirSync(path, { recursive: true });
  }

  /** The weights/ folder (made on first use: val and predict runs have none). */
  get weights(): string {
    const dir = join(this.path, 'weights');
    mkdirSync(dir, { recursive: true });
    return dir;
  }

  /** A new folder `project/name`, or `name2`, `name3`… when taken (unless `existOk`). */
  static create(project: string, name: string, existOk = false): RunDir {
    if (existOk) return new RunDir(join(project, name));
    mkdirSync(project, { recursive: true });
    // mkdir without `recursive` fails on an existing folder: two runs started at once never share one.
    for (let i = 1; ; i++) {
      const path = join(project, i === 1 ? name : `${name}${i}`);
      try {
        mkdirSync(path);
        return new RunDir(path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
    }
  }

  /**
   * An existing run folder, for resuming: its results.csv rows are kept, and the temporary files
   * of a save that a kill -9 interrupted (`.<name>.<pid>.<hex>.tmp`, see writeFileAtomic) go.
   */
  static open(path: string): RunDir {
    const dir = new RunDir(path);
    for (const sub of [path, join(path, 'weights')]) {
      if (!existsSync(sub)) continue;
      for (const f of readdirSync(sub)) if (STALE_TMP.test(f)) rmSync(join(sub, f), { force: true });
    }
    const csv = join(path, 'results.csv');
    if (existsSync(csv)) dir.#rows.push(...parseCsv(readFileSync(csv, 'utf8')));
    return dir;
  }

  file(name: string): string {
    return join(this.path, name);
  }

  writeText(name: string, text: string): void {
    writeFileAtomic(this.file(name), [Buffer.from(text)]);
  }

  writeYaml(name: string, value: unknown): void {
    this.writeText(name, toYaml(value));
  }

  writeJson(name: string, value: unknown): void {
    this.writeText(name, `${JSON.stringify(value, null, 2)}\n`);
  }

  /** Appends a line to the run's log file (`train.log`, `val.log`…). */
  log(name: string, line: string): void {
    appendFileSync(this.file(name), `${new Date().toISOString()} ${line}\n`);
  }

  /** Rows of results.csv so far (kept across resume). */
  get rows(): readonly Record<string, number | string>[] {
    return this.#rows;
  }

  /** Adds (or, for an epoch already present after a resume, replaces) a row and rewrites results.csv. */
  addResult(row: Record<string, number | string>): void {
    const at = this.#rows.findIndex((r) => r.epoch === row.epoch);
    if (at >= 0) this.#rows.splice(at, this.#rows.length - at);
    this.#rows.push(row);
    this.writeText('results.csv', toCsv(this.#rows));
  }
}

/** CSV with a header from the union of the rows' keys, in first-seen order. */
export function toCsv(rows: readonly Record<string, unknown>[]): string {
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const round = (v: unknown): unknown => (typeof v === 'number' && !Number.isInteger(v) ? Number(v.toPrecision(7)) : v);
  return stringify(rows.map((r) => Object.fromEntries(columns.map((k) => [k, round(r[k])]))), { header: true, columns });
}

/** Parses CSV with a header row; numeric cells become numbers. */
export function parseCsv(text: string): Record<string, number | string>[] {
  return parse(text, { columns: true, skip_empty_lines: true, cast: (v) => (v !== '' && Number.isFinite(Number(v)) ? Number(v) : v) });
}
