/** `kestrel data …`: data set tools — synthetic sets, and conversions between layouts. */
import { Option, type Command } from 'commander';
import { registerDedup } from './embed.js';
import { nonNegativeInt, positiveInt } from './options.js';

interface SynthCli {
  task: 'detect' | 'segment';
  kind?: 'digits' | 'cells';
  depth: 8 | 16;
  out: string;
  train: number;
  val: number;
  imgsz: number;
  seed: number;
}

export function registerData(program: Command): void {
  const data = program.command('data').description('data set tools: synthetic sets to try each task on, conversions between layouts, near-duplicates');
  data
    .command('synth')
    .description('write a synthetic data set: MNIST digits on textured backgrounds (detect: YOLO layout; segment: ink masks), or grey microscopy-like cells (segment)')
    .addOption(new Option('--task <task>', 'what the labels are for').choices(['detect', 'segment']).default('detect'))
    .addOption(new Option('--kind <kind>', 'segment: digits (RGB, 11 classes, ignore ring around the ink) or cells (grey, nucleus / elongated / dividing)').choices(['digits', 'cells']))
    .addOption(new Option('--depth <bits>', 'cells: bits per image sample').choices(['8', '16']).default('8').argParser((v) => Number(v) as 8 | 16))
    .requiredOption('--out <dir>', 'folder to write (created)')
    .option('--train <n>', 'training canvases (default 800 for detect, 400 for segment)', positiveInt)
    .option('--val <n>', 'validation canvases (digits from MNIST\'s test split: unseen writers; default 200 for detect, 100 for segment)', positiveInt)
    .option('--imgsz <px>', 'canvas side', positiveInt, 128)
    .option('--seed <n>', 'random seed', nonNegativeInt, 0)
    .action(async (o: SynthCli & { train?: number; val?: number }) => {
      if (o.task === 'detect' && o.kind === 'cells') throw new Error('--kind cells is a segmentation set: add --task segment');
      if (o.depth === 16 && (o.task !== 'segment' || o.kind !== 'cells')) throw new Error('--depth 16 is for --task segment --kind cells (grey scans)');
      const kind = o.kind ?? 'digits';
      const min = kind === 'digits' ? 48 : 32;
      if (o.imgsz < min) throw new Error(`--imgsz must be at least ${min}${kind === 'digits' ? ' (digits are 14–48 px)' : ''}`);
      const seg = o.task === 'segment';
      const [train, val] = [o.train ?? (seg ? 400 : 800), o.val ?? (seg ? 100 : 200)];
      const common = { out: o.out, train, val, imgsz: o.imgsz, seed: o.seed };
      const yaml = seg
        ? await (await import('../data/synth-segment.js')).synthSegment({ ...common, kind, depth: o.depth })
        : await (await import('../data/synth.js')).synthDetect(common);
      process.stdout.write(`wrote ${train} train and ${val} val canvases → ${yaml}\n`);
    });
  data
    .command('convert')
    .description('convert a detection set between the YOLO layout and COCO JSON, or COCO JSON (polygons, RLE) into segmentation masks (images copied, a data.yaml written)')
    .requiredOption('--data <spec>', 'the set to convert: a data.yaml (YOLO folders or COCO JSON splits) or a folder holding one')
    .addOption(new Option('--to <layout>', 'the layout to write (masks: one PNG per image, 0 background, 255 ignore for crowds; smaller objects on top)').choices(['yolo', 'coco', 'masks']).makeOptionMandatory())
    .requiredOption('--out <dir>', 'a new or empty folder')
    .action(async (o: { data: string; to: 'yolo' | 'coco' | 'masks'; out: string }) => {
      if (o.to === 'masks') {
        const { convertToMasks } = await import('../data/convert-masks.js');
        const r = await convertToMasks(o.data, o.out);
        for (const s of r.skipped) process.stderr.write(`left out ${s.path}: ${s.reason}\n`);
        process.stdout.write(`wrote ${r.images} images and masks of ${r.objects} objects → ${r.yaml}\n`);
        return;
      }
      const { convertDetect } = await import('../data/convert.js');
      const r = await convertDetect(o.data, o.to, o.out);
      for (const s of r.skipped) process.stderr.write(`left out ${s.path}: ${s.reason}\n`);
      process.stdout.write(`wrote ${r.images} images and ${r.boxes} boxes as ${o.to} → ${r.yaml}\n`);
    });
  registerDedup(data);
}
