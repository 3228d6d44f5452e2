/**
 * The web UI's server side: the Fastify plugin and what it reads (runs, labelling projects).
 *
 * @example
 * import Fastify from 'fastify';
 * import { uiPlugin } from './ui/index.js';
 * const app = Fastify();
 * await app.register(uiPlugin, { project: 'runs/classify' });
 * await app.listen({ port: 8080 });   // http://127.0.0.1:8080/ui/
 */
export { uiExtension, uiPlugin, ISOLATION_HEADERS, type UiOptions } from './plugin.js';
export { LabelProject, LABEL_DB, UNLABELLED, type ApplyResult, type LabelOptions, type Progress } from './label.js';
export { listRuns, readRun, runFile, type RunDetail, type RunSummary } from './runs.js';
export { createUiServer, type UiServerOptions } from './server.js';
export { HttpError } from '../http/index.js';
