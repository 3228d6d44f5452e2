/** `kestrel val`: metrics of a checkpoint or an `.onnx` file on a data split. */
import { Option, type Command } from 'commander';
import { DEFAULT_MAX_PIXELS } from '../data/limits.js';
import { defined, nonNegativeInt, positiveInt, positiveNumber } from './options.js';
import { taskOf } from './task-of.js';

export function registerVal(program: Command): void {
  program
    .command('val')
    .description('evaluate a checkpoint (libtorch) or an .onnx file from kestrel export (ONNX Runtime). A classifier: metrics.json, predictions.csv, confusion_matrix.png and a table; a detector: metrics.json, predictions.json (COCO results), ground_truth.json, PR/F1 curves, the confusion matrix, Ultralytics\' per-class table and the 12 COCO statistics; a segmentation model: metrics.json (mIoU, Dice, pixel accuracy, per class), the predicted masks as PNGs under masks/, IoU bars and the confusion matrix')
    .requiredOption('--weights <ckpt>', 'a .safetensors checkpoint written by kestrel train, or an .onnx file from kestrel export')
    .requiredOption('--data <spec>', 'the data set, folder or CSV to evaluate on')
    .addOption(new Option('--split <split>', 'which split').choices(['train', 'val', 'test']).default('val'))
    .option('--batch <n>', 'batch size (default 256 for classifiers, 32 for detectors, 16 for segmentation)', positiveInt)
    .option('--workers <n>', 'data-loading worker threads', nonNegativeInt)
    .option('--threads <n>', 'ONNX Runtime threads for .onnx weights (default: all cores)', positiveInt)
    .option('--max-pixels <n>', 'pixels per image, width × height, read from the header before decoding (larger images are skipped)', positiveInt, DEFAULT_MAX_PIXELS)
    .option('--conf <x>', 'detect: NMS confidence threshold (default 0.001)', positiveNumber)
    .option('--iou <x>', 'detect: NMS IoU threshold (default 0.7)', positiveNumber)
    .option('--max-det <n>', 'detect: boxes kept per image (default 300)', positiveInt)
    .option('--project <dir>', 'parent folder of runs (default runs/<task>)')
    .option('--name <name>', 'run name', 'val')
    .action(async (o: { weights: string; data: string; split: 'train' | 'val' | 'test'; batch?: number; workers?: number; threads?: number; maxPixels: number; project?: string; name: string; conf?: number; iou?: number; maxDet?: number }) => {
      const { conf, iou, maxDet, ...common } = o;
      const task = await taskOf(o.weights);
      if (task === 'segment') {
        const given = (['conf', 'iou', 'maxDet'] as const).filter((k) => o[k] !== undefined);
        if (given.length > 0) throw new Error(`${given.map((k) => `--${k === 'maxDet' ? 'max-det' : k}`).join(', ')} apply to detection checkpoints only`);
        const { valSegment } = await import('../tasks/segment/val.js');
        const { threads: _t, maxPixels: _m, ...rest } = common;
        await valSegment(defined(rest));
        return;
      }
      if (task === 'detect') {
        const { valDetect } = await import('../tasks/detect/val.js');
        const { threads: _t, maxPixels: _m, ...rest } = common;
        await valDetect(defined({ ...rest, conf, iou, maxDet }));
        return;
      }
      const given = (['conf', 'iou', 'maxDet'] as const).filter((k) => o[k] !== undefined);
      if (given.length > 0) throw new Error(`${given.map((k) => `--${k === 'maxDet' ? 'max-det' : k}`).join(', ')} apply to detection checkpoints only`);
      const { val } = await import('../tasks/classify/val.js');
      await val(defined(common));
    });
}
