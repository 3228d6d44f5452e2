/**
 * `kestrel demo`: the quick start's job, the same as `npm run demo` — `kestrel train --data mnist
 * --model smallcnn --name demo` through the training engine, so the demo shows what users run.
 */
import type { Command } from 'commander';
import { positiveInt } from './options.js';

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('train smallcnn on MNIST (kestrel train --data mnist --model smallcnn --name demo) and print its test accuracy')
    .option('--epochs <n>', 'passes over the training set', positiveInt, 5)
    .option('--project <dir>', 'parent folder of runs', 'runs/classify')
    .action(async (opts: { epochs: number; project: string }) => {
      // Loaded here, not at startup: other commands never pay for the training imports.
      const { train } = await import('../tasks/classify/train.js');
      const r = await train({ data: 'mnist', model: 'smallcnn', name: 'demo', epochs: opts.epochs, project: opts.project });
      const pct = (v: number): string => `${(v * 100).toFixed(2)}%`;
      if (r.best) process.stdout.write(`best epoch ${r.best.epoch}: test accuracy ${pct(r.best.metrics.accuracy)} · weights ${r.best.path}\n`);
      if (r.interrupted) process.exitCode = 130;
    });
}
