// The shared Predictor: one line per image found, in order, whatever fails; image-like files that
// Kestrel refuses (SVG) are listed so they get their own error line rather than vanishing.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import sharp from 'sharp';
import { expandSource, runPredictor, type PredictBackend } from '../../src/engine/predictor.js';

const dir = mkdtempSync(join(tmpdir(), 'kestrel-predictor-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A back end that answers each image's mean input value (the pipeline is just toTensor). */
const meanBackend = (): PredictBackend<{ mean: number }> & { calls: number[] } => {
  const calls: number[] = [];
  return {
    calls, transforms: [{ op: 'toTensor' }], channels: 1,
    async run(data, n, [c, h, w]) {
      calls.push(n);
      return Array.from({ length: n }, (_, i) => ({ mean: data.subarray(i * c * h * w, (i + 1) * c * h * w).reduce((a, b) => a + b, 0) / (c * h * w) }));
    },
    async dispose() {},
  };
};

describe('Predictor', () => {
  it('lists images and refused image-like files, and gives each its own line', async () => {
    mkdirSync(join(dir, 'imgs/sub'), { recursive: true });
    const grey = (v: number): Promise<Buffer> => sharp({ create: { width: 4, height: 4, channels: 3, background: { r: v, g: v, b: v } } }).png().toBuffer();
    writeFileSync(join(dir, 'imgs/a.png'), await grey(51));
    writeFileSync(join(dir, 'imgs/sub/b.png'), await grey(204));
    writeFileSync(join(dir, 'imgs/c.svg'), '<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>');
    writeFileSync(join(dir, 'imgs/d.png'), 'not a png');
    writeFileSync(join(dir, 'imgs/notes.txt'), 'ignored');
    const paths = await expandSource(join(dir, 'imgs'));
    assert.deepEqual(paths.map((p) => p.slice(dir.length + 6)), ['a.png', 'c.svg', 'd.png', 'sub/b.png']);
    const b = meanBackend();
    const lines = [];
    for await (const r of runPredictor(b, paths, { batch: 8, workers: 0 })) lines.push(r);
    assert.equal(lines.length, 4);
    const by = new Map(lines.map((l) => [l.source.slice(dir.length + 6), l]));
    assert.ok(Math.abs((by.get('a.png') as { mean: number }).mean - 0.2) < 1e-6);
    assert.ok(Math.abs((by.get('sub/b.png') as { mean: number }).mean - 0.8) < 1e-6);
    assert.match((by.get('c.svg') as { error: string }).error, /svg images are not accepted/);
    assert.match((by.get('d.png') as { error: string }).error, /not an image/);
    assert.deepEqual(b.calls, [2]);
  });
});
