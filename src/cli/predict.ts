/** `kestrel predict`: JSON lines of top-k labels for images. */
import type { Command } from 'commander';
import { defined, nonNegativeInt, positiveInt } from './options.js';

export function registerPredict(program: Command): void {
  program
    .command('predict')
    .description('classify images; prints one JSON line per image: {"source", "top": [{"label", "score"}]}')
    .requiredOption('--weights <ckpt>', 'a .safetensors checkpoint written by kestrel train')
    .requiredOption('--source <path>', 'an image, a folder (searched recursively) or a glob in quotes')
    .option('--topk <k>', 'labels per image', positiveInt, 5)
    .option('--batch <n>', 'batch size', positiveInt, 32)
    .option('--workers <n>', 'decoding worker threads', nonNegativeInt)
    .option('--save', 'write labelled copies of the images to runs/classify/predict')
    .option('--project <dir>', 'parent folder for --save', 'runs/classify')
    .option('--name <name>', 'run name for --save', 'predict')
    .action(async (o: { weights: string; source: string; topk: number; batch: number; workers?: number; save?: boolean; project: string; name: string }) => {
      const { predict } = await import('../tasks/classify/predict.js');
      let failed = 0;
      for await (const r of predict(defined({ ...o, save: o.save === true }))) {
        if ('error' in r) failed++;
        process.stdout.write(`${JSON.stringify(r)}\n`);
      }
      if (failed > 0) process.exitCode = 1;
    });
}
