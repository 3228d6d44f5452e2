/** `kestrel data …`: data set tools — synthetic sets, and conversions between layouts. */
import { Option, type Command } from 'commander';
import { nonNegativeInt, positiveInt } from './options.js';

interface SynthCli {
  task: 'detect';
  out: string;
  train: number;
  val: number;
  imgsz: number;
  seed: number;
}

export function registerData(program: Command): void {
  const data = program.command('data').description('data set tools: synthetic sets to try each task on');
  data
    .command('synth')
    .description('write a synthetic data set: MNIST digits on textured backgrounds, in the YOLO layout (images/, labels/, data.yaml)')
    .addOption(new Option('--task <task>', 'what the labels are for').choices(['detect']).default('detect'))
    .requiredOption('--out <dir>', 'folder to write (created)')
    .option('--train <n>', 'training canvases', positiveInt, 800)
    .option('--val <n>', 'validation canvases (digits from MNIST\'s test split: unseen writers)', positiveInt, 200)
    .option('--imgsz <px>', 'canvas side', positiveInt, 128)
    .option('--seed <n>', 'random seed', nonNegativeInt, 0)
    .action(async (o: SynthCli) => {
      const { synthDetect } = await import('../data/synth.js');
      if (o.imgsz < 48) throw new Error('--imgsz must be at least 48 (digits are 14–48 px)');
      const yaml = await synthDetect({ out: o.out, train: o.train, val: o.val, imgsz: o.imgsz, seed: o.seed });
      process.stdout.write(`wrote ${o.train} train and ${o.val} val canvases → ${yaml}\n`);
    });
  data
    .command('convert')
    .description('convert a detection set between the YOLO layout and COCO JSON (images copied, a data.yaml written)')
    .requiredOption('--data <spec>', 'the set to convert: a data.yaml (YOLO folders or COCO JSON splits) or a folder holding one')
    .addOption(new Option('--to <layout>', 'the layout to write').choices(['yolo', 'coco']).makeOptionMandatory())
    .requiredOption('--out <dir>', 'a new or empty folder')
    .action(async (o: { data: string; to: 'yolo' | 'coco'; out: string }) => {
      const { convertDetect } = await import('../data/convert.js');
      const r = await convertDetect(o.data, o.to, o.out);
      for (const s of r.skipped) process.stderr.write(`left out ${s.path}: ${s.reason}\n`);
      process.stdout.write(`wrote ${r.images} images and ${r.boxes} boxes as ${o.to} → ${r.yaml}\n`);
    });
}
