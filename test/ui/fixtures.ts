/** Small projects for the web UI tests: a runs folder with a train and a val run, and a labelling ImageFolder. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { toCsv } from '../../src/engine/run-dir.js';
import { uiPlugin, type UiOptions } from '../../src/ui/index.js';
import { writeImage } from '../data/make-images.js';

export const RESULTS = [
  { epoch: 1, train_loss: 1.2, val_loss: 0.9, val_accuracy: 0.5, lr: 0.001, seconds: 3.5 },
  { epoch: 2, train_loss: 0.8, val_loss: 0.6, val_accuracy: 0.75, lr: 0.0008, seconds: 3.25 },
  { epoch: 3, train_loss: 0.6, val_loss: 0.7, val_accuracy: 0.7, lr: 0.0002, seconds: 3 },
];
export const MATRIX = [[3, 1], [1, 3]];

/**
 * `<root>/runs/classify/train1` (3 of 5 epochs, confusion matrix, two wrong images, a link to a file
 * outside), `<root>/runs/classify/val1` (a val run) and `<root>/secret.txt` outside the project.
 * The train run is the most recent.
 */
export async function makeRunsProject(root: string): Promise<{ project: string; train: string; val: string }> {
  const project = join(root, 'runs');
  const train = join(project, 'classify', 'train1');
  const val = join(project, 'classify', 'val1');
  mkdirSync(join(train, 'weights'), { recursive: true });
  mkdirSync(val, { recursive: true });
  mkdirSync(join(project, 'empty', 'nothing'), { recursive: true });
  writeFileSync(join(root, 'secret.txt'), 'top secret\n');
  writeFileSync(join(train, 'args.yaml'), 'task: classify\ndata: shapes\nmodel: smallcnn\nepochs: 5\nbatch: 8\nclasses:\n  - cat\n  - dog\n');
  writeFileSync(join(train, 'results.csv'), toCsv(RESULTS));
  writeFileSync(join(train, 'confusion_matrix.json'), JSON.stringify({ epoch: 2, classes: ['cat', 'dog'], matrix: MATRIX }));
  writeFileSync(join(train, 'weights', 'best.safetensors'), 'not really weights');
  await writeImage(join(train, 'results.png'), 40, 20, 1, 'png');
  await writeImage(join(train, 'val_errors', 'e2-0.png'), 16, 16, 2, 'png');
  await writeImage(join(train, 'val_errors', 'e2-1.png'), 16, 16, 3, 'png');
  writeFileSync(join(train, 'val_errors', 'index.json'), JSON.stringify({
    epoch: 2, wrong: 2, total: 8, classes: ['cat', 'dog'],
    items: [
      { file: 'e2-0.png', index: 5, id: 'val/dog/5.png', true: 'dog', pred: 'cat', score: 0.91, source: 'val/dog/5.png' },
      { file: 'e2-1.png', index: 1, id: 'val/cat/1.png', true: 'cat', pred: 'dog', score: 0.62, source: 'val/cat/1.png' },
    ],
  }));
  symlinkSync(join(root, 'secret.txt'), join(train, 'link.txt'));
  writeFileSync(join(train, '.hidden.json'), '{}');
  writeFileSync(join(val, 'metrics.json'), JSON.stringify({
    weights: 'runs/classify/train1/weights/best.safetensors', data: 'shapes', split: 'val', count: 8, loss: 0.6, accuracy: 0.75, top5: null,
    perClass: [{ class: 'cat' }, { class: 'dog' }], confusionMatrix: MATRIX,
  }));
  const old = new Date('2026-01-01T00:00:00Z');
  utimesSync(join(val, 'metrics.json'), old, old);
  utimesSync(val, old, old);
  return { project, train, val };
}

export const LABEL_CLASSES = ['cat', 'dog'];

/** `<root>/cat/old.png`, `<root>/dog/`, and `<root>/unlabelled/img1.png … imgN.png` plus a text file and a dot-file. */
export async function makeLabelProject(root: string, n = 5): Promise<string[]> {
  mkdirSync(join(root, 'dog'), { recursive: true });
  await writeImage(join(root, 'cat', 'old.png'), 12, 12, 0, 'png');
  const names = Array.from({ length: n }, (_, i) => `img${i + 1}.png`);
  await Promise.all(names.map((f, i) => writeImage(join(root, 'unlabelled', f), 20 + i, 16, i + 1, 'png')));
  writeFileSync(join(root, 'unlabelled', 'notes.txt'), 'not an image');
  writeFileSync(join(root, 'unlabelled', '.DS_Store'), '');
  return names;
}

/** A Fastify server with the UI plugin, listening on loopback; returns its base URL. */
export async function serveUi(opts: UiOptions): Promise<{ app: FastifyInstance; url: string }> {
  const app = Fastify({ logger: false });
  await app.register(uiPlugin, opts);
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, url };
}

/** JSON.parse's own result type (any): the tests read fields freely. */
type Parsed = ReturnType<typeof JSON.parse>;

/** fetch + JSON, returning the status too. */
export async function json(url: string, init?: RequestInit): Promise<{ status: number; body: Parsed; headers: Headers }> {
  const r = await fetch(url, init);
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null, headers: r.headers };
}

export const post = (body: unknown): RequestInit => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

/** The compiled CLI. */
export const KESTREL = join(process.cwd(), 'dist/src/cli/main.js');

/** Starts `kestrel <args> --port 0` and resolves with its base URL once it prints it (ui on stdout, serve on stderr). */
export function startCli(args: string[], children: ChildProcess[], env: NodeJS.ProcessEnv = process.env): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [KESTREL, ...args, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'], env });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`kestrel ${args[0]} did not start: ${out}`)), 30_000);
    const read = (d: Buffer): void => {
      out += d;
      const m = /(http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1]! });
      }
    };
    child.stdout!.on('data', read);
    child.stderr!.on('data', read);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`kestrel ${args[0]} exited with ${code}: ${out}`));
    });
  });
}

/** Resolves when the process has exited (at once if it already has). */
export const killed = (c: ChildProcess): Promise<void> => new Promise((resolve) => (c.exitCode !== null || c.signalCode !== null ? resolve() : c.once('exit', () => resolve())));
