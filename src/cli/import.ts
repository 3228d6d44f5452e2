/** `kestrel import`: weights others trained (a .pth, a safetensors file, a hub name) → a Kestrel checkpoint. */
import type { Command } from 'commander';
import { defined } from './options.js';

export function registerImport(program: Command): void {
  program
    .command('import')
    .description('turn pretrained weights into a Kestrel checkpoint that predict, val, export and train --pretrained use: a PyTorch .pth/.pt (zip or legacy; only state dicts are unpickled), a .safetensors file, a Kestrel checkpoint, or a hub name such as torchvision:resnet50.IMAGENET1K_V2 or timm:resnet18.a1_in1k (downloaded once into $KESTREL_HOME, default ~/.cache/kestrel)')
    .requiredOption('--weights <file or hub name>', 'the weights to import')
    .option('--model <name>', 'the zoo model they fit (kestrel models; default: the hub entry\'s)')
    .option('--names <file>', 'JSON object mapping the file\'s tensor names (or prefixes ending in ".") to the model\'s, or to null to drop them')
    .option('--classes <file>', 'class names, one per line (default: ImageNet\'s for a 1000-way head)')
    .requiredOption('-o, --output <file>', 'the checkpoint to write (.safetensors)')
    .action(async (o: { weights: string; model?: string; names?: string; classes?: string; output: string }) => {
      const { readFileSync } = await import('node:fs');
      const { importWeights } = await import('../engine/pretrained.js');
      const classes = o.classes === undefined ? undefined : readFileSync(o.classes, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
      await importWeights(defined({ weights: o.weights, model: o.model, names: o.names, out: o.output, classes }));
    });
}
