/** `kestrel serve`: the HTTP service for a classifier, detector or segmentation model (.onnx, or a checkpoint exported in memory), with graceful shutdown on SIGTERM/SIGINT. */
import { Option, type Command } from 'commander';
import { DEFAULT_LIMITS } from '../serve/options.js';
import { ALLOWED_HOSTS_HELP, allowedHostsOf, listen, tokenOf } from './listen.js';
import { nonNegativeInt, positiveInt, positiveNumber } from './options.js';
import { uiOptions, type UiFlags } from './ui.js';

interface ServeArgs extends UiFlags {
  weights: string;
  host: string;
  port: number;
  token?: string;
  allowedHosts?: string;
  maxBatch: number;
  maxWaitMs: number;
  maxConcurrency: number;
  maxQueue: number;
  maxImages: number;
  maxUploadMb: number;
  maxPixels: number;
  timeoutMs: number;
  workers?: number;
  threads?: number;
  provider?: string;
  preprocess?: string;
  logLevel: string;
  /** --no-ui sets it false. */
  ui: boolean;
}

const port = (v: string): number => {
  const n = nonNegativeInt(v);
  if (n > 65535) throw new Error('expected a port number (0–65535).');
  return n;
};

export function registerServe(program: Command): void {
  const d = DEFAULT_LIMITS;
  program
    .command('serve')
    .description('serve a classifier, detector or segmentation model over HTTP on ONNX Runtime: POST /v1/predict (multipart files or an image/* body; a detector answers boxes, a segmentation model each image\'s mask as a base64 PNG and its class shares), GET /v1/models, GET /v1/models/default/model.onnx, GET /healthz, GET /metrics (Prometheus), GET /openapi.json. Stops gracefully on SIGTERM or Ctrl-C')
    .requiredOption('--weights <file>', 'an .onnx model (its Kestrel metadata gives the preprocessing; else --preprocess), or a .safetensors checkpoint from kestrel train, exported to ONNX in memory at start')
    .option('--host <addr>', 'address to listen on (0.0.0.0 for every interface)', '127.0.0.1')
    .option('--port <n>', 'port (0 picks a free one)', port, 8080)
    .option('--token <secret>', 'require Authorization: Bearer <secret> on every route but /healthz and the web UI pages (default: $KESTREL_TOKEN)')
    .option('--allowed-hosts <list>', ALLOWED_HOSTS_HELP)
    .option('--max-batch <n>', 'images per ONNX Runtime batch at most; 1 turns micro-batching off', positiveInt, d.maxBatch)
    .option('--max-wait-ms <ms>', 'how long the first waiting image waits for others before its batch runs', nonNegativeInt, d.maxWaitMs)
    .option('--max-concurrency <n>', 'batches running at once', positiveInt, d.maxConcurrency)
    .option('--max-queue <n>', 'images admitted at once (decoding, waiting or running); beyond it requests get 503 with Retry-After', positiveInt, d.maxQueue)
    .option('--max-images <n>', 'images per request (413 beyond)', positiveInt, d.maxImages)
    .option('--max-upload-mb <mb>', 'upload size per request in MiB (413 beyond)', positiveNumber, d.maxUploadBytes / 2 ** 20)
    .option('--max-pixels <n>', 'pixels per image, width × height, read from the header before decoding (413 beyond)', positiveInt, d.maxPixels)
    .option('--timeout-ms <ms>', 'a predict request not answered within this gets 503 with Retry-After', positiveInt, d.timeoutMs)
    .option('--workers <n>', 'threads that decode and transform uploads (and turn segmentation logits into masks), 0 for the main thread (default: min(4, cores))', nonNegativeInt)
    .option('--threads <n>', 'ONNX Runtime intra-op threads (default: the number of cores)', positiveInt)
    .option('--provider <name>', 'ONNX Runtime execution provider, cpu (default) or cuda where installed')
    .option('--preprocess <yaml>', '.onnx: preprocessing for a model without Kestrel metadata (the keys of `kestrel predict --preprocess`)')
    .option('--no-ui', 'do not serve the web UI (pages at /ui/)')
    .option('--project <dir>', 'web UI: a folder of training runs for the runs page (default: none)')
    .option('--label <dir>', 'web UI: an ImageFolder to label (images in <dir>/unlabelled/)')
    .option('--classes <list>', 'with --label: the class names, comma-separated (default: its class folders)')
    .addOption(new Option('--log-level <level>', 'server log level (JSON lines on stdout)').choices(['fatal', 'error', 'warn', 'info', 'debug']).default('warn'))
    .action(async (o: ServeArgs) => {
      const { createServer } = await import('../serve/index.js');
      const ui = uiOptions(o);
      if (!o.ui && (ui.project !== undefined || ui.label !== undefined)) throw new Error('--project and --label are web UI options: leave out --no-ui');
      const { uiExtension } = await import('../ui/plugin.js');
      const token = tokenOf(o.token);
      const app = await createServer({
        weights: o.weights,
        ...(token === undefined ? {} : { token }),
        allowedHosts: allowedHostsOf(o.allowedHosts, o.host),
        maxBatch: o.maxBatch,
        maxWaitMs: o.maxWaitMs,
        maxConcurrency: o.maxConcurrency,
        maxQueue: o.maxQueue,
        maxImages: o.maxImages,
        maxUploadBytes: Math.round(o.maxUploadMb * 2 ** 20),
        maxPixels: o.maxPixels,
        timeoutMs: o.timeoutMs,
        ...(o.workers === undefined ? {} : { workers: o.workers }),
        ...(o.threads === undefined ? {} : { threads: o.threads }),
        ...(o.provider === undefined ? {} : { provider: o.provider }),
        ...(o.preprocess === undefined ? {} : { preprocessFile: o.preprocess }),
        logger: { level: o.logLevel },
        extensions: o.ui ? [uiExtension(ui)] : [],
      });
      const address = await listen(app, o.host, o.port);
      process.stderr.write(`kestrel: serving ${o.weights} at ${address}${token === undefined ? '' : ' (bearer token required)'}; POST ${address}/v1/predict${o.ui ? `; web UI at ${address}/ui/` : ''}\n`);
      await new Promise<void>((resolve) => {
        let stopping = false;
        const stop = (signal: NodeJS.Signals): void => {
          if (stopping) {
            process.stderr.write(`kestrel: ${signal} again, exiting now\n`);
            process.exit(1);
          }
          stopping = true;
          process.stderr.write(`kestrel: ${signal}: finishing requests in flight, then exiting\n`);
          app.close().then(resolve, (e: unknown) => {
            process.stderr.write(`kestrel: error while closing: ${(e as Error).message}\n`);
            process.exitCode = 1;
            resolve();
          });
        };
        process.on('SIGTERM', stop);
        process.on('SIGINT', stop);
      });
    });
}
