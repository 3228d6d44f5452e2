/**
 * Progress of long work: a bar with rate, values and ETA when stdout is a terminal (cli-progress),
 * plain lines at every tenth otherwise (logs and CI stay readable).
 */
import { SingleBar } from 'cli-progress';

export interface Progress {
  /** Moves to `done` of `total`, with named values shown beside the bar (loss, …). */
  update(done: number, values?: Record<string, number>): void;
  stop(): void;
}

export interface ProgressOptions {
  label: string;
  total: number;
  unit?: string;
  /** Where plain lines go when there is no terminal (defaults to stdout). */
  write?: (line: string) => void;
  tty?: boolean;
  quiet?: boolean;
}

const fmt = (values: Record<string, number>): string =>
  Object.entries(values).map(([k, v]) => `${k} ${Math.abs(v) >= 100 || Number.isInteger(v) ? v.toFixed(0) : v.toFixed(4)}`).join(' · ');

export function progress(o: ProgressOptions): Progress {
  if (o.quiet) return { update: () => {}, stop: () => {} };
  const start = performance.now();
  const unit = o.unit ?? 'it';
  const rate = (done: number): string => `${(done / Math.max((performance.now() - start) / 1000, 1e-9)).toFixed(1)} ${unit}/s`;
  if (o.tty ?? process.stdout.isTTY) {
    const bar = new SingleBar({
      format: `${o.label} {bar} {value}/{total} · {rate} · {values} · ETA {eta_formatted}`,
      barsize: 24,
      hideCursor: true,
      clearOnComplete: false,
      etaBuffer: 50,
      stream: process.stdout,
    });
    bar.start(o.total, 0, { rate: '', values: '' });
    return {
      update: (done, values = {}) => bar.update(done, { rate: rate(done), values: fmt(values) }),
      stop: () => bar.stop(),
    };
  }
  const write = o.write ?? ((line: string) => void process.stdout.write(`${line}\n`));
  let next = Math.max(1, Math.ceil(o.total / 10));
  let last = '';
  return {
    update(done, values = {}) {
      last = `${o.label} ${done}/${o.total} · ${rate(done)}${Object.keys(values).length ? ` · ${fmt(values)}` : ''}`;
      if (done >= next || done === o.total) {
        write(last);
        next = done + Math.max(1, Math.ceil(o.total / 10));
        last = '';
      }
    },
    stop() {
      if (last) write(last);
    },
  };
}
