// Resident set size of this process from /proc/self/status (Linux), in MiB: VmHWM is the peak,
// VmRSS the current value, RssAnon / RssFile its anonymous and file-backed parts. bench/zoo.py's rss_mb() reads the same fields for the PyTorch side.
import { readFileSync, writeFileSync } from 'node:fs';

export function rssMB(field: 'VmHWM' | 'VmRSS' | 'RssAnon' | 'RssFile' = 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
  if (!m) throw new Error(`no ${field} in /proc/self/status`);
  return Number(m[1]) / 1024;
}

/** Resets VmHWM to the current RSS (Linux 4.0 and up: /proc/self/clear_refs); false where it cannot. */
export function resetPeakRss(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}
