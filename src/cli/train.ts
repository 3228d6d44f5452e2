/** `kestrel train --task classify|detect|segment …`: the CLI face of the shared Trainer and each task's hooks. */
import { Option, type Command } from 'commander';
import { DEFAULT_MAX_PIXELS } from '../data/limits.js';
import { defined, nonNegativeInt, nonNegativeNumber, positiveInt, positiveNumber } from './options.js';

export function registerTrain(program: Command): void {
  program
    .command('train')
    .description('train an image classifier (a data set name, an ImageFolder, or a CSV manifest), a detector (a YOLO-layout data.yaml) or a segmentation model (a data.yaml with masks/ beside images/, or Pascal VOC)')
    .addOption(new Option('--task <task>', 'what to train').choices(['classify', 'detect', 'segment']).default('classify'))
    .option('--data <spec>', 'classify: mnist | fashion-mnist | a folder (root/{train,val,test}/<class>/*.jpg or root/<class>/*) | a CSV (path,label); detect: a data.yaml (YOLO layout or COCO JSON splits); segment: a data.yaml with masks (or a VOC folder)')
    .option('--model <name>', 'a model from `kestrel models --task <task>` (classify default: smallcnn for small images — one size, at most 32 px — else resnet18, or the --pretrained weights\' model; detect: yolov8n; segment: unet)')
    .option('--epochs <n>', 'passes over the training set (default 5; 50 segment)', positiveInt)
    .option('--time <minutes>', 'train for this many minutes instead of --epochs (the schedule is fitted to it)', positiveNumber)
    .option('--batch <n>', 'batch size (default 64 classify, 16 detect, 8 segment; lowered for a set smaller than 4 batches)', positiveInt)
    .option('--imgsz <px>', 'input size (default: classify, small images\' own, else the model\'s; detect 640; segment the model\'s: 128 unet, 520 the others)', positiveInt)
    .addOption(new Option('--optimizer <name>', 'optimizer').choices(['adamw', 'adam', 'sgd']).default('adamw'))
    .option('--lr <x>', 'peak learning rate (default 1e-3 for Adam(W), 2e-3 to detect or segment, 0.01 for SGD)', positiveNumber)
    .option('--weight-decay <x>', 'weight decay (default: classify and segment 0.05 AdamW, 5e-4 SGD, 0 Adam; detect 5e-4 with any optimizer, on conv and linear weights only)', nonNegativeNumber)
    .option('--warmup-epochs <n>', 'linear warm-up before the cosine schedule, in epochs, at most a fifth of a run of known length (default 1; 3 detect, 0.3 segment)', nonNegativeNumber)
    .option('--label-smoothing <x>', 'classify: label smoothing', nonNegativeNumber, 0.1)
    .option('--mixup <alpha>', 'classify: MixUp alpha (0 = off)', nonNegativeNumber, 0)
    .option('--cutmix <alpha>', 'classify: CutMix alpha (0 = off)', nonNegativeNumber, 0)
    .addOption(new Option('--augment <level>', 'classify: augmentation (auto: light for small images, else standard)').choices(['auto', 'none', 'light', 'standard', 'strong']).default('auto'))
    .option('--hflip', 'classify: random horizontal flips (default: on from 64 px, off below, where digits must not mirror)')
    .option('--no-hflip', 'never flip')
    .option('--ema', 'validate and save an exponential moving average of the weights (default: on for detect, off otherwise)')
    .option('--no-ema', 'train and save the weights themselves')
    .option('--patience <n>', 'stop after N epochs without improvement (0 = never)', nonNegativeInt, 0)
    .option('--clip-grad <norm>', 'clip gradients to this global norm', positiveNumber)
    .option('--seed <n>', 'random seed (data order, augmentation, init)', nonNegativeInt, 0)
    .option('--device <dev>', 'cpu, cuda or cuda:N', 'cpu')
    .option('--channels-last', 'channels-last (NHWC) weights and batches (default: on for CNNs, off for the ViT)')
    .option('--no-channels-last', 'keep the default NCHW layout')
    .option('--workers <n>', 'data-loading worker threads (0 = main thread)', nonNegativeInt)
    .option('--max-pixels <n>', `pixels per image, width × height, read from the header (larger images are skipped; default ${DEFAULT_MAX_PIXELS})`, positiveInt)
    .option('--project <dir>', 'parent folder of runs (default runs/<task>)')
    .option('--name <name>', 'run name (a number is appended when taken)', 'train')
    .option('--exist-ok', 'reuse runs/<project>/<name> if it exists')
    .option('--resume [run]', 'continue a run from its last checkpoint (run folder or last.safetensors)')
    .option('--strict', 'stop before training if any image is unreadable')
    .option('--pretrained <weights>', 'start from these weights: a .pth/.safetensors file, a hub name (torchvision:resnet18.IMAGENET1K_V1, timm:resnet18.a1_in1k) or a Kestrel checkpoint; the head is re-initialised when the classes differ. detect (yolov8) and segment (deeplabv3, lraspp, the torchvision models): a classifier of the backbone\'s CNN starts the backbone; the data is normalised as the weights were trained')
    .option('--freeze <what>', "keep pretrained layers fixed: 'backbone' (classify: all but the head; detect: the zoo CNN or YOLOv8's model.0-9; segment: the CNN, or U-Net's encoder) or N (the first N layers); their batch-norm statistics stay as pretrained")
    .option('--backbone-lr <x>', "the backbone's learning rate as a fraction of the rest's, e.g. 0.1 (default 1)", positiveNumber)
    .option('--mosaic <p>', 'detect: probability of a 4-image mosaic per sample (default 1; 0 = off)', nonNegativeNumber)
    .option('--close-mosaic <n>', 'detect: train the last N epochs without mosaic (default 10)', nonNegativeInt)
    .option('--fliplr <p>', 'detect, segment: probability of a horizontal flip (default 0: mirrored digits, text and signs are other shapes; 0.5 for natural objects)', nonNegativeNumber)
    .option('--degrees <d>', 'detect, segment: random rotation range in degrees (default 0 detect, 10 segment)', nonNegativeNumber)
    .option('--translate <f>', 'detect, segment: random translation, a fraction of the size (default 0.1)', nonNegativeNumber)
    .option('--scale <f>', 'detect, segment: random scale gain (default 0.5 detect, 0.25 segment)', nonNegativeNumber)
    .option('--depth <n>', 'segment, unet: poolings (default 4)', positiveInt)
    .option('--width <n>', 'segment, unet: channels at full resolution (default 16)', positiveInt)
    .option('--backbone <name>', 'detect, yolov8; segment, deeplabv3 and lraspp: the zoo CNN under the neck or head (default resnet18 for yolov8 and deeplabv3, mobilenet_v3_small for lraspp, or the --pretrained classifier\'s CNN)')
    .option('--ce <w>', 'segment: weight of cross-entropy in the loss (default 1)', nonNegativeNumber)
    .option('--dice <w>', 'segment: weight of soft Dice in the loss (default 1)', nonNegativeNumber)
    .option('--focal <w>', 'segment: weight of focal loss in the loss (default 0)', nonNegativeNumber)
    .option('--aux <w>', 'segment, unet: weight of deep supervision, class heads on the two coarsest levels (default 5; 0: none)', nonNegativeNumber)
    .addOption(new Option('--class-weights <kind>', 'segment: class weights of the loss (default median: median-frequency balancing, clipped to [0.1, 10])').choices(['median', 'none']))
    .option('--val-fraction <x>', 'classify: share held out for validation when there is no val/ (default 0.1; mnist and fashion-mnist validate on their test split unless given)', positiveNumber)
    .action(async (o: Record<string, unknown>, cmd: Command) => {
      if (o.task === 'detect') return trainDetect(o, cmd);
      if (o.task === 'segment') return trainSegment(o, cmd);
      const given = Object.keys(o).filter((k) => cmd.getOptionValueSource(k) === 'cli');
      const foreign = given.filter((k) => NOT_CLASSIFY.includes(k));
      if (foreign.length > 0) throw new Error(`${flags(foreign)} ${foreign.length > 1 ? 'apply' : 'applies'} to --task ${foreign.every((k) => DETECT_ONLY.includes(k)) ? 'detect' : foreign.every((k) => SEGMENT_ONLY.includes(k)) ? 'segment' : 'detect or segment'} only`);
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

const DETECT_ONLY = ['mosaic', 'closeMosaic'];
const SEGMENT_ONLY = ['depth', 'width', 'ce', 'dice', 'focal', 'aux', 'classWeights'];
const NOT_CLASSIFY = [...DETECT_ONLY, ...SEGMENT_ONLY, 'backbone', 'fliplr', 'degrees', 'translate', 'scale'];
const flags = (keys: string[]): string => keys.map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(', ');

/**
 * Detection and segmentation take only what the user gave (their own defaults differ from the
 * classification defaults commander fills in: batch 16, warm-up 3, runs/<task>) and refuse flags of
 * the other tasks, naming the task they belong to.
 */
async function givenSettings(o: Record<string, unknown>, cmd: Command, allowed: Set<string>, task: string): Promise<Record<string, unknown>> {
  const given = Object.keys(o).filter((k) => k !== 'task' && cmd.getOptionValueSource(k) === 'cli');
  const foreign = given.filter((k) => !allowed.has(k));
  if (foreign.length > 0) {
    const owner = foreign.every((k) => DETECT_ONLY.includes(k)) ? 'detect' : foreign.every((k) => SEGMENT_ONLY.includes(k)) ? 'segment' : 'classify';
    throw new Error(`${flags(foreign)} ${foreign.length > 1 ? 'apply' : 'applies'} to --task ${owner} only`);
  }
  if (o.resume === true) throw new Error(`--resume needs the run to continue: --resume runs/${task}/train`);
  const input = Object.fromEntries(given.map((k) => [k, o[k]]));
  if (o.resume !== undefined) {
    const ignored = given.filter((k) => !['resume', 'workers'].includes(k));
    if (ignored.length > 0) process.stderr.write(`kestrel: --resume keeps the run's own settings; ignoring ${flags(ignored)}\n`);
    for (const k of ignored) delete input[k];
  }
  return input;
}

async function trainDetect(o: Record<string, unknown>, cmd: Command): Promise<void> {
  const [{ DetectTrainArgs }, { detectTask }, { runTraining }] = await Promise.all([import('../tasks/detect/config.js'), import('../tasks/detect/task.js'), import('../engine/trainer.js')]);
  const r = await runTraining(detectTask, await givenSettings(o, cmd, new Set(Object.keys(DetectTrainArgs.shape)), 'detect'));
  const row = r.best?.row;
  if (r.best && row) process.stdout.write(`best epoch ${r.best.epoch}: mAP50 ${Number(row.mAP50).toFixed(3)}, mAP50-95 ${Number(row['mAP50-95']).toFixed(3)} · weights ${r.best.path}\n`);
  else process.stdout.write(`no epoch completed; resume with --resume ${r.dir}\n`);
  if (r.interrupted) process.exitCode = 130;
}

async function trainSegment(o: Record<string, unknown>, cmd: Command): Promise<void> {
  const [{ SegmentTrainArgs }, { segmentTask }, { runTraining }] = await Promise.all([import('../tasks/segment/config.js'), import('../tasks/segment/task.js'), import('../engine/trainer.js')]);
  const r = await runTraining(segmentTask, await givenSettings(o, cmd, new Set(Object.keys(SegmentTrainArgs.shape)), 'segment'));
  const row = r.best?.row;
  if (r.best && row) process.stdout.write(`best epoch ${r.best.epoch}: mIoU ${Number(row.mIoU).toFixed(4)}, pixel accuracy ${Number(row.pixel_accuracy).toFixed(4)} · weights ${r.best.path}\n`);
  else process.stdout.write(`no epoch completed; resume with --resume ${r.dir}\n`);
  if (r.interrupted) process.exitCode = 130;
}
