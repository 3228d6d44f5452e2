// Exact resume: a run stopped after epoch 2 and resumed ends bit-for-bit where an uninterrupted
// run ends; Ctrl-C saves `last` and exits cleanly.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import { loadSafetensors } from '../../src/checkpoint/index.js';
import { train } from '../../src/tasks/classify/train.js';
import { writeShapesFolder } from './shapes.js';

let root: string;
before(async () => {
  root = mkdtempSync(join(tmpdir(), 'kestrel-resume-'));
  await writeShapesFolder(join(root, 'data'), { train: 12, val: 4 });
});
after(() => rmSync(root, { recursive: true, force: true }));

const quiet = { quiet: true, log: (): void => {} };
const rows = (dir: string): Record<string, string>[] =>
  (parse(readFileSync(join(dir, 'results.csv'), 'utf8'), { columns: true }) as Record<string, string>[]).map(({ seconds: _s, ...r }) => r);

describe('resume', () => {
  it('stop after epoch 2 + resume = an uninterrupted run, bit for bit', async () => {
    const base = { data: join(root, 'data'), model: 'smallcnn', imgsz: 32, epochs: 3, batch: 8, augment: 'light' as const, workers: 0, project: join(root, 'runs') };
    const full = await train({ ...base, name: 'full' }, quiet);
    const part = await train({ ...base, name: 'part' }, { ...quiet, onEpoch: (r) => r.epoch < 2 });
    assert.equal(part.epochs, 2);
    const resumed = await train({ resume: part.dir }, quiet);
    assert.equal(resumed.dir, part.dir);
    assert.deepEqual(rows(part.dir), rows(full.dir));
    const a = loadSafetensors(join(full.dir, 'weights/last.safetensors')).tensors;
    const b = loadSafetensors(join(part.dir, 'weights/last.safetensors')).tensors;
    assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
    for (const [k, t] of a) assert.deepEqual(t.toArray(), b.get(k)!.toArray(), k);
    for (const t of [...a.values(), ...b.values()]) t.dispose();
  });

  it('a stop in the middle of an epoch (with EMA and MixUp) resumes exactly too', async () => {
    const base = { data: join(root, 'data'), model: 'smallcnn', imgsz: 32, epochs: 2, batch: 8, augment: 'light' as const, workers: 0, ema: true, mixup: 0.2, project: join(root, 'runs') };
    const full = await train({ ...base, name: 'full-mid' }, quiet);
    const part = await train({ ...base, name: 'part-mid' }, { ...quiet, onStep: (e, s) => !(e === 2 && s === 2) });
    assert.equal(part.interrupted, true);
    assert.equal(part.epochs, 1);
    await train({ resume: part.dir }, quiet);
    assert.deepEqual(rows(part.dir), rows(full.dir));
    const a = loadSafetensors(join(full.dir, 'weights/last.safetensors')).tensors;
    const b = loadSafetensors(join(part.dir, 'weights/last.safetensors')).tensors;
    for (const [k, t] of a) assert.deepEqual(t.toArray(), b.get(k)!.toArray(), k);
    for (const t of [...a.values(), ...b.values()]) t.dispose();
  });

  it('Ctrl-C saves last and exits 130; --resume picks the run up', async () => {
    const cli = join(process.cwd(), 'dist/src/cli/main.js');
    const args = ['train', '--data', join(root, 'data'), '--model', 'smallcnn', '--imgsz', '32', '--epochs', '40', '--batch', '4', '--workers', '0', '--project', join(root, 'runs'), '--name', 'sig'];
    const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const code = await new Promise<number | null>((resolve) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (/^epoch 1: /m.test(out) && !child.killed) child.kill('SIGINT');
      });
      child.on('exit', (c) => resolve(c));
    });
    assert.equal(code, 130, out);
    assert.match(out, /interrupted (in|after) epoch \d+/);
    const dir = join(root, 'runs/sig');
    assert.ok(existsSync(join(dir, 'weights/last.safetensors')));
    const resumed = spawn(process.execPath, [cli, 'train', '--resume', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out2 = '';
    await new Promise<void>((resolve) => {
      resumed.stdout.on('data', (d: Buffer) => {
        out2 += d.toString();
        if (/resuming .* from epoch \d+/.test(out2)) resumed.kill('SIGKILL');
      });
      resumed.on('exit', () => resolve());
    });
    assert.match(out2, /resuming .*sig from epoch \d+/);
  });
});
