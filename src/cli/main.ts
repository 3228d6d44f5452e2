#!/usr/bin/env node
/** The `kestrel` command line: wiring only; each command lives in its own module. */
import { Command } from 'commander';
import { registerData } from './data.js';
import { registerDemo } from './demo.js';
import { registerDoctor } from './doctor.js';
import { registerEmbed } from './embed.js';
import { registerExport } from './export.js';
import { registerImport } from './import.js';
import { registerModels } from './models.js';
import { registerPredict } from './predict.js';
import { registerServe } from './serve.js';
import { registerTrain } from './train.js';
import { registerUi } from './ui.js';
import { registerVal } from './val.js';
import { reportError, wantsVerbose } from './errors.js';
import { packageVersion } from '../paths.js';

function program(): Command {
  const p = new Command('kestrel')
    .description('Deep-learning image recognition in TypeScript on libtorch')
    .version(packageVersion())
    .option('--verbose', 'print the stack trace with an error')
    // Errors are thrown to main() and printed there on one line; subcommands inherit both settings.
    .exitOverride()
    .configureOutput({ outputError: () => {} });
  registerTrain(p);
  registerVal(p);
  registerPredict(p);
  registerServe(p);
  registerExport(p);
  registerImport(p);
  registerEmbed(p);
  registerModels(p);
  registerData(p);
  registerDoctor(p);
  registerDemo(p);
  registerUi(p);
  return p;
}

async function main(argv: string[]): Promise<number> {
  const p = program();
  try {
    await p.parseAsync(argv);
    return 0;
  } catch (e) {
    return reportError(e, wantsVerbose(argv, p.opts<{ verbose?: boolean }>().verbose));
  }
}

const code = await main(process.argv);
if (code !== 0) process.exitCode = code;
