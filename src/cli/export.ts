/** `kestrel export`: a checkpoint to one deployable ONNX file. */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { MAX_OPSET, MIN_OPSET } from '../onnx/opset.js';
import { defined, positiveInt } from './options.js';

function opset(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < MIN_OPSET || n > MAX_OPSET) throw new InvalidArgumentError(`expected an opset from ${MIN_OPSET} to ${MAX_OPSET}.`);
  return n;
}

const dims = (s: readonly (number | string)[]): string => `[${s.join(', ')}]`;

export function registerExport(program: Command): void {
  program
    .command('export')
    .description('export a checkpoint to ONNX: one .onnx file that also holds the class names and preprocessing (metadata_props)')
    .requiredOption('--weights <ckpt>', 'a .safetensors checkpoint written by kestrel train')
    .addOption(new Option('--format <format>', 'output format').choices(['onnx']).default('onnx'))
    .option('--opset <n>', `ONNX opset, ${MIN_OPSET} to ${MAX_OPSET}`, opset, MAX_OPSET)
    .option('--dynamic-batch', 'make the batch dimension symbolic (N): any batch size at run time')
    .option('--batch <n>', 'fixed batch size of the input (default 1; not with --dynamic-batch)', positiveInt)
    .option('-o, --output <file>', 'where to write (default: the weights path with .onnx)')
    .option('--fp16', 'half-precision weights (inputs and outputs stay float32): half the file')
    .option('--int8', 'static int8 quantization (QDQ: per-channel int8 weights, uint8 activations calibrated on --calib)')
    .option('--calib <data>', 'calibration images for --int8: a data set name, folder or CSV as train --data takes (default: the data the checkpoint was trained on)')
    .option('--calib-size <n>', 'calibration images to use', positiveInt, 256)
    .addOption(new Option('--calib-method <method>', 'how activation ranges are set from calibration').choices(['minmax', 'percentile', 'entropy']).default('minmax'))
    .action(async (o: { weights: string; format: 'onnx'; opset: number; dynamicBatch?: boolean; batch?: number; output?: string; fp16?: boolean; int8?: boolean; calib?: string; calibSize: number; calibMethod: 'minmax' | 'percentile' | 'entropy' }, cmd: Command) => {
      if (o.dynamicBatch && o.batch !== undefined) throw new Error('--batch and --dynamic-batch exclude each other');
      if (o.fp16 && o.int8) throw new Error('--fp16 and --int8 exclude each other');
      const calibGiven = ['calib', 'calibSize', 'calibMethod'].filter((k) => cmd.getOptionValueSource(k) === 'cli');
      if (!o.int8 && calibGiven.length > 0) throw new Error(`--${calibGiven[0]!.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} applies to --int8 only`);
      const { exportCheckpoint } = await import('../export/export.js');
      const int8 = o.int8 ? defined({ calib: o.calib, calibSize: o.calibSize, method: o.calibMethod }) : undefined;
      const r = await exportCheckpoint(o.weights, defined({ opset: o.opset, dynamicBatch: o.dynamicBatch, batch: o.batch, output: o.output, fp16: o.fp16, int8 }));
      process.stdout.write(`${r.path}: ONNX opset ${r.opset}, ${r.input.name} ${dims(r.input.shape)} → ${r.output.name} ${dims(r.output.shape)}, ${(r.bytes / 1e6).toFixed(1)} MB\n`);
    });
}
