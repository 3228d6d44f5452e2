// Resident set size of this process from /proc/self/status (Linux), in MiB: VmHWM is the peak,
// VmRSS the current value. bench/zoo.py's rss_mb() reads the same fields for the PyTorch side.
import { readFileSync } from 'node:fs';

export function rssMB(field: 'VmHWM' | 'VmRSS' = 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
  if (!m) throw new Error(`no ${field} in /proc/self/status`);
  return Number(m[1]) / 1024;
}
