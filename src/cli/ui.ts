/** `kestrel ui`: the web UI (runs, labelling, prediction pages) on a local HTTP server. */
import type { Command } from 'commander';
import type { FastifyInstance } from 'fastify';
import type { UiOptions } from '../ui/plugin.js';
import { ALLOWED_HOSTS_HELP, allowedHostsOf, listen, tokenOf } from './listen.js';
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
  token?: string;
  allowedHosts?: string;
}

/** The UI alone, or with --weights the prediction service with the UI as its extension; both under the same token and Host checks. */
async function build(o: UiArgs): Promise<{ app: FastifyInstance; token: string | undefined }> {
  const opts = uiOptions(o);
  const token = tokenOf(o.token);
  const policy = { ...(token === undefined ? {} : { token }), allowedHosts: allowedHostsOf(o.allowedHosts, o.host), logger: { level: 'warn' } };
  if (o.weights !== undefined) {
    const [{ createServer }, { uiExtension }] = await Promise.all([import('../serve/index.js'), import('../ui/plugin.js')]);
    return { app: await createServer({ weights: o.weights, ...policy, extensions: [uiExtension(opts)] }), token };
  }
  const { createUiServer } = await import('../ui/server.js');
  return { app: await createUiServer({ ...opts, ...policy }), token };
}

/** Starts the server; resolves with what to print once listening, and closes it on SIGINT/SIGTERM. */
export async function startUi(o: UiArgs): Promise<string> {
  const { app, token } = await build(o);
  const address = await listen(app, o.host, o.port);
  const stop = (): void => {
    void app.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return `${address}/ui/${token === undefined ? '' : ' (bearer token required: the page asks for it once)'}`;
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
    .option('--token <secret>', 'require Authorization: Bearer <secret> on every /v1 route (default: $KESTREL_TOKEN). The pages stay public: on a 401 they ask for the token once and keep it in this browser\'s localStorage, then send it with every request')
    .option('--allowed-hosts <list>', ALLOWED_HOSTS_HELP)
    .action(async (o: UiArgs) => {
      process.stdout.write(`kestrel ui: ${await startUi(o)}\n`);
    });
}
