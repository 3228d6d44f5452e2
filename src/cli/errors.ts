/**
 * Error reporting shared by every command: one line `kestrel: <message>` on stderr and exit code 1;
 * the stack (and any `cause` chain) only under --verbose.
 */
import { CommanderError } from 'commander';

/** Commander's own exits that are not failures of the command (help, --version). */
const QUIET_EXITS = new Set(['commander.helpDisplayed', 'commander.help', 'commander.version']);

/** A message folded onto one line, without commander's `error:` prefix. */
export function oneLine(message: string): string {
  return message.replace(/^error:\s*/i, '').replace(/\s*\n\s*/g, ' ').trim();
}

/** Writes `e` for a person to read and returns the process exit code it calls for. */
export function reportError(e: unknown, verbose: boolean, write: (s: string) => void = (s) => process.stderr.write(s)): number {
  if (e instanceof CommanderError && QUIET_EXITS.has(e.code)) return e.exitCode;
  const err = e instanceof Error ? e : new Error(String(e));
  write(`kestrel: ${oneLine(err.message) || err.name}\n`);
  if (verbose) {
    let cur: unknown = err;
    for (let depth = 0; cur instanceof Error && depth < 5; depth++, cur = cur.cause) {
      write(`${depth === 0 ? '' : 'Caused by: '}${cur.stack ?? cur.message}\n`);
    }
  }
  return 1;
}

/** Whether --verbose was asked for, even when parsing failed before commander stored it. */
export function wantsVerbose(argv: readonly string[], parsed: boolean | undefined): boolean {
  if (parsed === true) return true;
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).includes('--verbose');
}
