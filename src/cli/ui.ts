/** `kestrel ui`: the web UI (runs, labelling, prediction pages) on a local HTTP server. */
import type { Command } from 'commander';
import { nonNegativeInt } from './options.js';

interface UiArgs {
  project: string;
  label?: string;
  classes?: string;
  host: string;
  port: number;
}

/** Starts the server; resolves with its address once listening, and closes it on SIGINT/SIGTERM. */
export async function startUi(o: UiArgs): Promise<string> {
  const [{ default: Fastify }, { uiPlugin }] = await Promise.all([import('fastify'), import('../ui/plugin.js')]);
  const classes = o.classes?.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  const app = Fastify({ logger: false });
  await app.register(uiPlugin, {
    project: o.project,
    ...(o.label === undefined ? {} : { label: { root: o.label, ...(classes === undefined ? {} : { classes }) } }),
  });
  const address = await app.listen({ host: o.host, port: o.port });
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
    .description('serve the web UI: training runs (curves, confusion matrix, misclassified images), a labelling page for an ImageFolder, and the predict page')
    .option('--project <dir>', 'folder of training runs (searched three levels down)', 'runs')
    .option('--label <dir>', 'an ImageFolder to label: images in <dir>/unlabelled/, classes from its class folders')
    .option('--classes <list>', 'with --label: the class names, comma-separated (default: the class folders)')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <n>', 'port (0 picks a free one)', nonNegativeInt, 8080)
    .action(async (o: UiArgs) => {
      if (o.classes !== undefined && o.label === undefined) throw new Error('--classes needs --label <imagefolder>');
      const address = await startUi(o);
      process.stdout.write(`kestrel ui: ${address}/ui/\n`);
    });
}
