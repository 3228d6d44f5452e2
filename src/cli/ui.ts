/** `kestrel ui`: the web UI (runs, labelling, prediction pages) on a local HTTP server. */
import type { Command } from 'commander';
import type { FastifyInstance } from 'fastify';
import type { UiOptions } from '../ui/plugin.js';
import { listen } from './listen.js';
import { nonNegativeInt } from './options.js';

/** The web UI's flags, shared by `kestrel ui` and `kestrel serve`. */
export interface UiFlags {
  project?: string;
  label?: string;
  classes?: string;
}

/** The plugin's options from the flags; --classes needs --label. */
export function uiOptions(o: UiFlags): UiOptions {
  const classes = o.classes?.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (classes !== undefined && o.label === undefined) throw new Error('--classes needs --label <imagefolder>');
  return {
    ...(o.project === undefined ? {} : { project: o.project }),
    ...(o.label === undefined ? {} : { label: { root: o.label, ...(classes === undefined ? {} : { classes }) } }),
  };
}

interface UiArgs extends UiFlags {
  weights?: string;
  host: string;
  port: number;
}

/** The UI alone, or with --weights the prediction service with the UI as its extension. */
async function build(o: UiArgs): Promise<FastifyInstance> {
  const { uiExtension, uiPlugin } = await import('../ui/plugin.js');
  const opts = uiOptions(o);
  if (o.weights !== undefined) {
    const { createServer } = await import('../serve/index.js');
    return createServer({ weights: o.weights, extensions: [uiExtension(opts)] });
  }
  const { default: Fastify } = await import('fastify');
  const app = Fastify({ logger: false });
  try {
    await app.register(uiPlugin, opts);
    await app.ready();
  } catch (e) {
    await app.close().catch(() => undefined);
    throw e;
  }
  return app;
}

/** Starts the server; resolves with its address once listening, and closes it on SIGINT/SIGTERM. */
export async function startUi(o: UiArgs): Promise<string> {
  const app = await build(o);
  const address = await listen(app, o.host, o.port);
  const stop = (): void => {
    void app.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return address;
}

export function registerUi(program: Command): void {
  program
    .command('ui')
    .description('serve the web UI: training runs (curves, confusion matrix, misclassified images), a labelling page for an ImageFolder, and with --weights the predict page')
    .option('--project <dir>', 'folder of training runs (searched three levels down)', 'runs')
    .option('--label <dir>', 'an ImageFolder to label: images in <dir>/unlabelled/, classes from its class folders')
    .option('--classes <list>', 'with --label: the class names, comma-separated (default: the class folders)')
    .option('--weights <file>', 'a model for the predict page (.onnx, or a .safetensors checkpoint exported at start), served as kestrel serve does')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <n>', 'port (0 picks a free one)', nonNegativeInt, 8080)
    .action(async (o: UiArgs) => {
      const address = await startUi(o);
      process.stdout.write(`kestrel ui: ${address}/ui/\n`);
    });
}
