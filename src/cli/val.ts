/** `kestrel val`: metrics of a checkpoint or an `.onnx` file on a data split. */
import { Option, type Command } from 'commander';
import { DEFAULT_MAX_PIXELS } from '../data/limits.js';
import { defined, nonNegativeInt, positiveInt } from './options.js';

export function registerVal(program: Command): void {
  program
    .command('val')
    .description('evaluate a checkpoint (libtorch) or an .onnx file (ONNX Runtime): metrics.json, predictions.csv, confusion_matrix.png and a table')
    .requiredOption('--weights <ckpt>', 'a .safetensors checkpoint written by kestrel train, or an .onnx file from kestrel export')
    .requiredOption('--data <spec>', 'the data set, folder or CSV to evaluate on')
    .addOption(new Option('--split <split>', 'which split').choices(['train', 'val', 'test']).default('val'))
    .option('--batch <n>', 'batch size', positiveInt, 256)
    .option('--workers <n>', 'data-loading worker threads', nonNegativeInt)
    .option('--threads <n>', 'ONNX Runtime threads for .onnx weights (default: all cores)', positiveInt)
    .option('--max-pixels <n>', 'pixels per image, width × height, read from the header before decoding (larger images are skipped)', positiveInt, DEFAULT_MAX_PIXELS)
    .option('--project <dir>', 'parent folder of runs', 'runs/classify')
    .option('--name <name>', 'run name', 'val')
    .action(async (o: { weights: string; data: string; split: 'train' | 'val' | 'test'; batch: number; workers?: number; threads?: number; maxPixels: number; project: string; name: string }) => {
      const { val } = await import('../tasks/classify/val.js');
      await val(defined(o));
    });
}
