/** `kestrel predict`: JSON lines of top-k labels for images, from a checkpoint (libtorch) or an .onnx model (ONNX Runtime). */
import { Option, type Command } from 'commander';
import { DEFAULT_MAX_PIXELS } from '../data/limits.js';
import { taskOf } from './task-of.js';
import { defined, nonNegativeInt, numberList, positiveInt, positiveNumber, sizeArg } from './options.js';

interface PredictArgs {
  weights: string;
  source: string;
  topk?: number;
  conf?: number;
  iou?: number;
  maxDet?: number;
  batch: number;
  workers?: number;
  maxPixels: number;
  save?: boolean;
  project?: string;
  name: string;
  threads?: number;
  provider?: string;
  preprocess?: string;
  names?: string;
  imgsz?: number | [number, number];
  channels?: string;
  mean?: number[];
  std?: number[];
  resize?: number | [number, number];
  crop?: number | [number, number];
  interpolation?: 'bilinear' | 'bicubic';
  rounding?: 'pil';
  output?: 'logits' | 'probs';
  probs?: boolean;
}

const ONNX_ONLY = ['provider', 'preprocess', 'names', 'imgsz', 'channels', 'mean', 'std', 'resize', 'crop', 'interpolation', 'rounding', 'output'] as const;

export function registerPredict(program: Command): void {
  program
    .command('predict')
    .description('classify images or find objects in them; prints one JSON line per image: a classifier gives {"source", "top": [{"label", "score"}]}, a detector {"source", "boxes": [{"label", "class", "score", "box": [x1, y1, x2, y2]}]} in the image\'s pixels, a segmentation model {"source", "mask": the written mask PNG (class per pixel, the image\'s size), "classes": {name: pixel share}}; an unreadable image gets {"source", "error"} and makes the exit code 1. A .safetensors checkpoint runs on libtorch, an .onnx model on ONNX Runtime (its Kestrel metadata, or for a classifier the preprocessing options below, say how to prepare the images)')
    .requiredOption('--weights <file>', 'a .safetensors checkpoint written by kestrel train, or an .onnx model')
    .requiredOption('--source <path>', 'an image, a folder (searched recursively) or a glob in quotes')
    .option('--topk <k>', 'classify: labels per image (default 5)', positiveInt)
    .option('--conf <x>', 'detect: confidence threshold (default 0.25)', positiveNumber)
    .option('--iou <x>', 'detect: NMS IoU threshold (default 0.7)', positiveNumber)
    .option('--max-det <n>', 'detect: boxes per image (default 300)', positiveInt)
    .option('--batch <n>', 'batch size (an .onnx model with a fixed batch size runs in chunks of it)', positiveInt, 32)
    .option('--workers <n>', 'decoding worker threads', nonNegativeInt)
    .option('--threads <n>', 'intra-op threads of libtorch or ONNX Runtime (default: the number of cores)', positiveInt)
    .option('--max-pixels <n>', 'pixels per image, width × height, read from the header before decoding (an error line beyond)', positiveInt, DEFAULT_MAX_PIXELS)
    .option('--save', 'write labelled copies of the images (boxes drawn for a detector, the mask coloured over it for segmentation) to runs/<task>/predict')
    .option('--probs', 'segment: also write each image\'s class probabilities as float32 .npy [classes, H, W] under probs/')
    .option('--project <dir>', 'parent folder for --save (default runs/<task>)')
    .option('--name <name>', 'run name for --save', 'predict')
    .option('--provider <name>', '.onnx: ONNX Runtime execution provider, cpu (default) or cuda where installed')
    .option('--preprocess <yaml>', '.onnx: a YAML file with the keys below (names may be a list or a text file); the options override it')
    .option('--names <list|file>', '.onnx: class names, comma-separated or a text file with one per line')
    .option('--imgsz <px>', '.onnx: the network input size, N or h,w (default: the model\'s fixed input size)', sizeArg)
    .addOption(new Option('--channels <n>', '.onnx: 3 for RGB, 1 for grey (default: the model\'s)').choices(['1', '3']))
    .option('--mean <list>', '.onnx: per-channel mean on the 0–1 scale, e.g. 0.485,0.456,0.406', numberList)
    .option('--std <list>', '.onnx: per-channel std on the 0–1 scale, e.g. 0.229,0.224,0.225', numberList)
    .option('--resize <px>', '.onnx: resize before the crop: N sets the shorter side, h,w the exact size (default imgsz·256/224 from 64 px up)', sizeArg)
    .option('--crop <px>', '.onnx: centre crop, N or h,w (default: imgsz)', sizeArg)
    .addOption(new Option('--interpolation <mode>', '.onnx: the resize\'s filter, as torchvision\'s Resize (default: bilinear)').choices(['bilinear', 'bicubic']))
    .addOption(new Option('--rounding <mode>', '.onnx: pil resizes in 8 bits as PIL does (torchvision\'s transforms on PIL images); float otherwise').choices(['pil']))
    .addOption(new Option('--output <kind>', '.onnx: what the model outputs; softmax is applied to logits').choices(['logits', 'probs']))
    .action(async (o: PredictArgs) => {
      const { isOnnxPath, predict } = await import('../tasks/classify/predict.js');
      const onnxOnly = ONNX_ONLY.filter((k) => o[k] !== undefined);
      if (!isOnnxPath(o.weights) && onnxOnly.length > 0) {
        throw new Error(`${onnxOnly.map((k) => `--${k}`).join(', ')}: only for .onnx models (${o.weights} is a checkpoint: its own metadata gives the preprocessing)`);
      }
      const task = await taskOf(o.weights);
      if (task === 'segment') return predictSegmentLines(o);
      if (o.probs) throw new Error(`--probs: only for segmentation models (${o.weights} is a ${task} model)`);
      const detect = task === 'detect';
      const misplaced = detect ? (o.topk === undefined ? [] : ['--topk']) : (['conf', 'iou', 'maxDet'] as const).filter((k) => o[k] !== undefined).map((k) => `--${k === 'maxDet' ? 'max-det' : k}`);
      if (misplaced.length > 0) throw new Error(`${misplaced.join(', ')}: only for ${detect ? 'classifiers' : 'detection models'} (${o.weights} is a ${detect ? 'detect' : 'classify'} model)`);
      const preprocessing = detect ? onnxOnly.filter((k) => k !== 'provider') : [];
      if (preprocessing.length > 0) throw new Error(`${preprocessing.map((k) => `--${k}`).join(', ')}: a detection model's own metadata gives its preprocessing (${o.weights})`);
      // preprocess.js is light (no ONNX Runtime): it only reads the names file.
      const { readNames } = await import('../runtime/preprocess.js');
      const { weights, source, topk, conf: _conf, iou: _iou, maxDet: _maxDet, batch, workers, maxPixels, save, project, name, threads, provider, preprocess: preprocessFile, names, channels, ...pre } = o;
      const spec = defined({ ...pre, names: names === undefined ? undefined : readNames(names), channels: channels === undefined ? undefined : (Number(channels) as 1 | 3) });
      let failed = 0;
      let savedTo: string | null = null;
      const onSaveDir = (dir: string): void => {
        savedTo = dir;
      };
      const opts = defined({ weights, source, topk, batch, workers, maxPixels, save: save === true, project, name, threads, provider, preprocessFile, preprocess: Object.keys(spec).length > 0 ? spec : undefined, onSaveDir });
      // `kestrel predict … | head` closes stdout early: stop reading images then (and free the
      // model) instead of dying on EPIPE.
      let closed = false;
      process.stdout.on('error', (e: NodeJS.ErrnoException) => {
        closed = true;
        if (e.code !== 'EPIPE') process.exitCode = 1;
      });
      const { predictDetect } = detect ? await import('../tasks/detect/predict.js') : { predictDetect: null };
      const lines = predictDetect ? predictDetect(defined({ weights, source, batch, workers, maxPixels, threads, provider, save: save === true, project, name, conf: o.conf, iou: o.iou, maxDet: o.maxDet, onSaveDir })) : predict(opts);
      for await (const r of lines) {
        if (closed) break;
        if ('error' in r) failed++;
        process.stdout.write(`${JSON.stringify(r)}\n`);
      }
      // stdout is the JSON lines; where the copies went is for the person reading.
      if (savedTo !== null) process.stderr.write(`labelled copies saved to ${savedTo}\n`);
      if (failed > 0) process.exitCode = 1;
    });
}

/** Prints a stream of lines as JSON, stopping quietly when stdout closes (`| head`); an error line sets exit code 1. */
async function printLines(lines: AsyncIterable<object>): Promise<void> {
  let closed = false;
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    closed = true;
    if (e.code !== 'EPIPE') process.exitCode = 1;
  });
  let failed = 0;
  for await (const r of lines) {
    if (closed) break;
    if ('error' in r) failed++;
    process.stdout.write(`${JSON.stringify(r)}\n`);
  }
  if (failed > 0) process.exitCode = 1;
}

/** Segmentation: the model's contract gives the preprocessing, so only --provider and --threads apply to an .onnx file. */
async function predictSegmentLines(o: PredictArgs): Promise<void> {
  const foreign = [...(['topk', 'conf', 'iou', 'maxDet'] as const).filter((k) => o[k] !== undefined), ...ONNX_ONLY.filter((k) => k !== 'provider' && o[k] !== undefined)];
  if (foreign.length > 0) throw new Error(`${foreign.map((k) => `--${k === 'maxDet' ? 'max-det' : k}`).join(', ')}: not for segmentation models (${o.weights} is one; its own metadata gives the preprocessing)`);
  const { predictSegment } = await import('../tasks/segment/predict.js');
  const { weights, source, batch, workers, maxPixels, threads, provider, probs, save, project, name } = o;
  let savedTo: string | null = null;
  await printLines(predictSegment(defined({ weights, source, batch, workers, maxPixels, threads, provider, probs: probs === true, save: save === true, project, name, onSaveDir: (dir: string) => { savedTo = dir; } })));
  if (savedTo !== null) process.stderr.write(`overlays saved to ${savedTo}\n`);
}
