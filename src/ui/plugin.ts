/**
 * The web UI as a Fastify plugin: the built pages (dist/ui, served at /ui/ with the cross-origin
 * isolation headers onnxruntime-web's threads need) and the JSON routes the runs and labelling
 * pages use. `kestrel ui` serves it alone; `kestrel serve` adds it beside the prediction API.
 */
import { createReadStream, existsSync } from 'node:fs';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply } from 'fastify';
import { z } from 'zod';
import { packageRoot } from '../paths.js';
import { handleError, HttpError, parseBody } from '../http/index.js';
import type { LabelProject } from './label.js';
import { listRuns, readRun, runFile } from './runs.js';

export interface UiOptions {
  /** Folder of training runs for the runs page (`runs/` or `runs/classify/`). */
  project?: string;
  /** An ImageFolder with an `unlabelled/` folder, for the labelling page. */
  label?: { root: string; classes?: string[]; db?: string };
  /** The built pages; default `<package>/dist/ui`. */
  uiDir?: string;
}

/** Headers that make the pages cross-origin isolated (SharedArrayBuffer, so ONNX Runtime Web may use threads). */
export const ISOLATION_HEADERS = {
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
  'cross-origin-resource-policy': 'same-origin',
} as const;

const IMAGE_TYPES: Record<string, string> = { '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.webp': 'image/webp', '.gif': 'image/gif', '.tif': 'image/tiff', '.tiff': 'image/tiff' };

const sendFile = (reply: FastifyReply, path: string, type: string): FastifyReply =>
  reply.type(type).header('cache-control', 'no-cache').send(createReadStream(path));

function registerPages(app: FastifyInstance, uiDir: string): void {
  if (!existsSync(join(uiDir, 'index.html'))) {
    const missing = (_: unknown, reply: FastifyReply): FastifyReply =>
      reply.code(503).type('text/plain; charset=utf-8').send(`The web UI is not built (no ${uiDir}/index.html): run npm run build.\n`);
    app.get('/ui', missing);
    app.get('/ui/*', missing);
    return;
  }
  void app.register(fastifyStatic, {
    root: uiDir,
    prefix: '/ui/',
    decorateReply: false,
    redirect: true,
    // Hashed bundles never change; index.html and the ONNX Runtime files are checked each time.
    setHeaders: (res, path) => res.setHeader('cache-control', path.includes(`${join(uiDir, 'assets')}`) ? 'public, max-age=31536000, immutable' : 'no-cache'),
    cacheControl: false,
  });
}

function registerRuns(app: FastifyInstance, project: string | undefined): void {
  const need = (): string => {
    if (project === undefined) throw new HttpError('no_project', 'no runs folder: start kestrel ui with --project runs/');
    return project;
  };
  app.get('/v1/runs', async () => ({ project: project ?? null, runs: project === undefined ? [] : listRuns(project) }));
  app.get<{ Params: { id: string } }>('/v1/runs/:id', async (req) => readRun(need(), req.params.id));
  app.get<{ Params: { id: string; '*': string } }>('/v1/runs/:id/files/*', async (req, reply) => {
    const f = runFile(need(), req.params.id, req.params['*']);
    return sendFile(reply, f.path, f.type);
  });
}

const labelBody = z.object({ image: z.string().min(1), class: z.string().min(1) });
const applyBody = z.object({ mode: z.enum(['move', 'copy']) });

function registerLabel(app: FastifyInstance, project: LabelProject | null): void {
  const need = (): LabelProject => {
    if (project === null) throw new HttpError('no_label_project', 'no labelling project: start kestrel ui with --label <imagefolder>');
    return project;
  };
  const state = (p: LabelProject, after?: string): { image: string | null; progress: ReturnType<LabelProject['progress']> } => ({ image: p.next(after), progress: p.progress() });

  app.get('/v1/label', async () => {
    const p = need();
    return { root: p.root, classes: p.classes, progress: p.progress() };
  });
  app.get<{ Querystring: { after?: string } }>('/v1/label/next', async (req) => state(need(), req.query.after));
  app.get('/v1/label/progress', async () => need().progress());
  app.get<{ Params: { name: string } }>('/v1/label/images/:name', async (req, reply) => {
    const path = need().imagePath(req.params.name);
    const ext = req.params.name.slice(req.params.name.lastIndexOf('.')).toLowerCase();
    return sendFile(reply, path, IMAGE_TYPES[ext] ?? 'application/octet-stream');
  });
  app.post('/v1/label', async (req) => {
    const p = need();
    const { image, class: cls } = parseBody(labelBody, req.body);
    const decision = p.label(image, cls);
    return { decision, ...state(p, image) };
  });
  app.post('/v1/label/undo', async () => {
    const p = need();
    const undone = p.undo();
    return { undone, progress: p.progress() };
  });
  app.post('/v1/label/apply', async (req) => {
    const p = need();
    const { mode } = parseBody(applyBody, req.body);
    return { ...p.apply(mode), progress: p.progress() };
  });
  app.get('/v1/label/export.csv', async (_req, reply) =>
    reply.type('text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="labels.csv"').send(need().csv()));
}

/**
 * Registers the pages at /ui/ (and / redirecting there when nothing else has it) and the JSON
 * routes: `/v1/ui`, `/v1/runs…`, `/v1/label…`. Errors are `{ "error": { "code", "message" } }`.
 *
 * `createUiServer` wraps it with the token and the Host/Origin checks, as `kestrel ui` serves it.
 *
 * @example
 * const app = Fastify();
 * await app.register(uiPlugin, { project: 'runs', label: { root: 'photos' } });
 * await app.listen({ port: 8080 });
 */
export const uiPlugin: FastifyPluginAsync<UiOptions> = async (app, opts) => {
  // The pages themselves hold nothing secret: under the bearer token (kestrel serve or kestrel ui
  // --token) they stay public (route config auth: false) so a browser can load them and then send the token.
  app.addHook('onRoute', (route) => {
    if (route.url === '/' || route.url === '/ui' || route.url.startsWith('/ui/')) route.config = { ...(route.config as object), auth: false } as never;
  });
  // better-sqlite3 (a native module) loads only for a labelling project.
  const label = opts.label ? (await import('./label.js')).LabelProject.open(opts.label) : null;
  app.addHook('onClose', async () => label?.close());
  // The shared handler again: the plugin may be registered on an app that has not installed it.
  app.setErrorHandler(handleError);
  app.addHook('onSend', async (_req, reply) => {
    for (const [k, v] of Object.entries(ISOLATION_HEADERS)) reply.header(k, v);
  });

  registerPages(app, opts.uiDir ?? join(packageRoot(), 'dist', 'ui'));
  if (!app.hasRoute({ method: 'GET', url: '/' })) app.get('/', (_req, reply) => reply.redirect('/ui/'));
  app.get('/v1/ui', async () => ({ project: opts.project ?? null, label: label ? { root: label.root, classes: label.classes } : null }));
  registerRuns(app, opts.project);
  registerLabel(app, label);
};

/**
 * The plugin as a `kestrel serve` extension (`createServer({ extensions: [uiExtension(opts)] })`):
 * the pages beside the prediction API, under its bearer token.
 */
export const uiExtension = (opts: UiOptions) => async (app: FastifyInstance): Promise<void> => {
  await app.register(uiPlugin, opts);
};
