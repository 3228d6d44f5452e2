/** `kestrel train --task classify …`: the CLI face of tasks/classify/train. */
import { Option, type Command } from 'commander';
import { defined, nonNegativeInt, nonNegativeNumber, positiveInt, positiveNumber } from './options.js';

export function registerTrain(program: Command): void {
  program
    .command('train')
    .description('train an image classifier (a data set name, an ImageFolder, or a CSV manifest)')
    .addOption(new Option('--task <task>', 'what to train').choices(['classify']).default('classify'))
    .option('--data <spec>', 'mnist | fashion-mnist | a folder (root/{train,val,test}/<class>/*.jpg or root/<class>/*) | a CSV (path,label)')
    .option('--model <name>', 'a model from `kestrel models` (default: smallcnn for small images — one size, at most 32 px — else resnet18)')
    .option('--epochs <n>', 'passes over the training set', positiveInt, 5)
    .option('--batch <n>', 'batch size', positiveInt, 64)
    .option('--imgsz <px>', 'input size (default: small images\' own, else the model\'s)', positiveInt)
    .addOption(new Option('--optimizer <name>', 'optimizer').choices(['adamw', 'adam', 'sgd']).default('adamw'))
    .option('--lr <x>', 'peak learning rate (default 1e-3 for Adam(W), 0.01 for SGD)', positiveNumber)
    .option('--weight-decay <x>', 'weight decay (default 0.05 AdamW, 5e-4 SGD, 0 Adam)', nonNegativeNumber)
    .option('--warmup-epochs <n>', 'linear warm-up before the cosine schedule', nonNegativeNumber, 1)
    .option('--label-smoothing <x>', 'label smoothing', nonNegativeNumber, 0.1)
    .option('--mixup <alpha>', 'MixUp alpha (0 = off)', nonNegativeNumber, 0)
    .option('--cutmix <alpha>', 'CutMix alpha (0 = off)', nonNegativeNumber, 0)
    .addOption(new Option('--augment <level>', 'augmentation (auto: light for small images, else standard)').choices(['auto', 'none', 'light', 'standard', 'strong']).default('auto'))
    .option('--hflip', 'random horizontal flips (default: on from 64 px, off below, where digits must not mirror)')
    .option('--no-hflip', 'never flip')
    .option('--ema', 'validate and save an exponential moving average of the weights')
    .option('--patience <n>', 'stop after N epochs without improvement (0 = never)', nonNegativeInt, 0)
    .option('--clip-grad <norm>', 'clip gradients to this global norm', positiveNumber)
    .option('--seed <n>', 'random seed (data order, augmentation, init)', nonNegativeInt, 0)
    .option('--device <dev>', 'cpu, cuda or cuda:N', 'cpu')
    .option('--channels-last', 'channels-last (NHWC) weights and batches (default: on for CNNs, off for the ViT)')
    .option('--no-channels-last', 'keep the default NCHW layout')
    .option('--workers <n>', 'data-loading worker threads (0 = main thread)', nonNegativeInt)
    .option('--project <dir>', 'parent folder of runs', 'runs/classify')
    .option('--name <name>', 'run name (a number is appended when taken)', 'train')
    .option('--exist-ok', 'reuse runs/<project>/<name> if it exists')
    .option('--resume [run]', 'continue a run from its last checkpoint (run folder or last.safetensors)')
    .option('--strict', 'stop before training if any image is unreadable')
    .option('--val-fraction <x>', 'share held out for validation when there is no val/ (default 0.1; mnist and fashion-mnist validate on their test split unless given)', positiveNumber)
    .action(async (o: Record<string, unknown>, cmd: Command) => {
      const { train } = await import('../tasks/classify/train.js');
      const { task: _task, resume, ema, existOk, strict, hflip, channelsLast, ...rest } = o;
      if (resume === true) throw new Error('--resume needs the run to continue: --resume runs/classify/train');
      if (resume !== undefined) {
        // A resumed run keeps its own settings (only --workers may change): say so rather than ignore silently.
        const ignored = Object.keys(o).filter((k) => !['resume', 'workers'].includes(k) && cmd.getOptionValueSource(k) === 'cli');
        if (ignored.length > 0) process.stderr.write(`kestrel: --resume keeps the run's own settings; ignoring ${ignored.map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(', ')}\n`);
      }
      const r = await train(defined({ ...rest, ema: ema === true, existOk: existOk === true, strict: strict === true, resume: resume as string | undefined, hflip: hflip as boolean | undefined, channelsLast: channelsLast as boolean | undefined }) as never);
      const pct = (v: number | null): string => (v === null ? '–' : `${(v * 100).toFixed(2)}%`);
      if (r.best) process.stdout.write(`best epoch ${r.best.epoch}: accuracy ${pct(r.best.metrics.accuracy)}, top5 ${pct(r.best.metrics.top5)} · weights ${r.best.path}\n`);
      else process.stdout.write(`no epoch completed; resume with --resume ${r.dir}\n`);
      if (r.test) process.stdout.write(`test: accuracy ${pct(r.test.accuracy)}, top5 ${pct(r.test.top5)} on ${r.test.count} images\n`);
      if (r.interrupted) process.exitCode = 130;
    });
}
