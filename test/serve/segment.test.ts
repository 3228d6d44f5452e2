// Serving a segmentation model: POST /v1/predict on a segmentation .onnx (or its checkpoint,
// exported in memory) answers each image's mask as a base64 PNG at the image's own size and every
// class's pixel share, the same mask pixel for pixel as `kestrel predict --save` writes for the
// same file and the same shares as its JSON line (same ONNX Runtime graph, same post-processing;
// the server letterboxes in its own code, on a non-square image too).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, it } from 'node:test';
import sharp from 'sharp';
import { decodeMask } from '../../src/data/image.js';
import { synthSegment } from '../../src/data/synth-segment.js';
import { runTraining } from '../../src/engine/trainer.js';
import { exportCheckpoint } from '../../src/export/export.js';
import type { SampleGeometry } from '../../src/data/targets.js';
import type { Preprocessing } from '../../src/runtime/preprocess.js';
import { PreprocessPool } from '../../src/serve/preprocess-pool.js';
import { maskFromLogits, type ClassShare } from '../../src/tasks/segment/postprocess.js';
import { segmentTask } from '../../src/tasks/segment/task.js';
import { call, form, start } from './helpers.js';

const CLI = join(process.cwd(), 'dist/src/cli/main.js');
const CELLS = ['background', 'nucleus', 'elongated', 'dividing'];
let dir: string;
let ckpt: string;
let onnx: string;
let images: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kestrel-serve-segment-'));
  const yaml = await synthSegment({ out: join(dir, 'cells'), kind: 'cells', train: 8, val: 3, imgsz: 64, seed: 11 });
  images = join(dir, 'cells', 'images', 'val');
  // Not square and not the input size: the letterbox pads it and the mask must come back at 90×60.
  await sharp(join(images, readdirSync(images).sort()[0]!)).resize(90, 60, { fit: 'fill' }).png().toFile(join(images, 'wide.png'));
  // Two short epochs: a model that gives every class somewhere, so masks and shares are not all one class.
  const r = await runTraining(segmentTask, {
    data: yaml, imgsz: 64, depth: 2, width: 8, batch: 4, epochs: 2, warmupEpochs: 0, lr: 3e-3, degrees: 0, translate: 0, scale: 0, hsvH: 0, hsvS: 0, hsvV: 0, workers: 0, project: join(dir, 'runs'), name: 't',
  }, { quiet: true, log: () => {} });
  ckpt = r.last;
  onnx = (await exportCheckpoint(ckpt, { output: join(dir, 'seg.onnx'), dynamicBatch: true })).path;
});
after(() => rmSync(dir, { recursive: true, force: true }));

type Answer = { predictions: { source: string; mask: { png: string; width: number; height: number }; shares: ClassShare[] }[] };
type Line = { source: string; mask: string; classes: Record<string, number> };

/** `kestrel predict --save` on the images folder: its JSON lines by file name. */
function predictLines(weights: string, name: string): Map<string, Line> {
  const r = spawnSync(process.execPath, [CLI, 'predict', '--weights', weights, '--source', images, '--save', '--project', join(dir, 'runs'), '--name', name, '--workers', '0'], { encoding: 'utf8', cwd: dir });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Line);
  return new Map(lines.map((l) => [l.source.slice(images.length + 1), l]));
}

async function assertSameAsPredict(got: Answer['predictions'], want: Map<string, Line>): Promise<void> {
  assert.deepEqual(got.map((p) => p.source).sort(), [...want.keys()].sort());
  let coloured = 0;
  for (const p of got) {
    const w = want.get(p.source)!;
    const png = Buffer.from(p.mask.png, 'base64');
    const meta = await sharp(png).metadata();
    assert.deepEqual([meta.format, meta.channels, meta.depth], ['png', 1, 'uchar'], `${p.source}: an 8-bit grey PNG`);
    const [a, b] = [await decodeMask(png), await decodeMask(resolve(dir, w.mask))];
    assert.deepEqual([a.width, a.height, p.mask.width, p.mask.height], [b.width, b.height, b.width, b.height], p.source);
    let differ = 0;
    for (let i = 0; i < a.data.length; i++) differ += a.data[i] === b.data[i] ? 0 : 1;
    assert.equal(differ, 0, `${p.source}: ${differ} pixels differ from kestrel predict's mask`);
    // Every class, largest share first, each the share of the JSON line.
    assert.deepEqual(p.shares.map((s) => s.label).sort(), [...CELLS].sort());
    p.shares.forEach((s) => assert.equal(s.share, w.classes[s.label], `${p.source}: ${s.label}`));
    p.shares.forEach((s) => assert.equal(s.label, CELLS[s.class]));
    for (let i = 1; i < p.shares.length; i++) assert.ok(p.shares[i - 1]!.share >= p.shares[i]!.share, `${p.source}: sorted by share`);
    const counts = CELLS.map((_, k) => a.data.filter((v) => v === k).length / a.data.length);
    p.shares.forEach((s) => assert.ok(Math.abs(s.share - counts[s.class]!) < 1e-6, `${p.source}: ${s.label}'s share is its pixels'`));
    coloured += p.shares.filter((s) => s.share > 0).length;
  }
  assert.ok(coloured > got.length, 'some image has more than one class');
}

it('answers kestrel predict --save\'s masks and shares for a segmentation .onnx, and documents them', async () => {
  const s = await start({ weights: onnx, maxBatch: 4, maxWaitMs: 20 });
  try {
    const info = (await call(`${s.url}/v1/models`)).body as { models: { task: string; names: string[]; output: string; imgsz: number[]; channels: number }[] };
    const m = info.models[0]!;
    assert.deepEqual([m.task, m.names, m.output, m.imgsz, m.channels], ['segment', CELLS, 'logits', [64, 64], 1]);
    const files = readdirSync(images).sort();
    const a = await call(`${s.url}/v1/predict`, { method: 'POST', body: form(Object.fromEntries(files.map((f) => [f, readFileSync(join(images, f))])), 'images') });
    assert.equal(a.status, 200, a.text);
    const got = (a.body as Answer).predictions;
    assert.deepEqual(got.map((p) => p.source), files, 'in the order sent');
    assert.deepEqual([got.find((p) => p.source === 'wide.png')!.mask.width, got.find((p) => p.source === 'wide.png')!.mask.height], [90, 60]);
    await assertSameAsPredict(got, predictLines(onnx, 'p-onnx'));

    // A raw image body gives the same answer as the multipart part.
    const one = await call(`${s.url}/v1/predict`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: readFileSync(join(images, 'wide.png')) });
    assert.deepEqual((one.body as Answer).predictions[0], { ...got.find((p) => p.source === 'wide.png')!, source: 'body' });

    const doc = (await call(`${s.url}/openapi.json`)).body as { info: { title: string }; paths: Record<string, { post?: { summary: string; responses: Record<string, { content: Record<string, { schema: { properties: { predictions: { items: { required: string[]; properties: Record<string, { properties?: Record<string, unknown> }> } } } } }> }> } }> };
    assert.equal(doc.info.title, 'Kestrel semantic segmentation');
    const post = doc.paths['/v1/predict']!.post!;
    assert.match(post.summary, /segmentation/);
    const item = post.responses['200']!.content['application/json']!.schema.properties.predictions.items;
    assert.deepEqual(item.required, ['source', 'mask', 'shares']);
    assert.deepEqual(Object.keys(item.properties.mask!.properties!), ['png', 'width', 'height']);
  } finally {
    await s.app.close();
  }
});

it('serves the checkpoint itself (exported in memory) with the masks kestrel predict gives from its .onnx, with no worker threads too', async () => {
  // workers: 0 post-processes on the main thread; the test above did it on the pool's thread.
  const s = await start({ weights: ckpt, maxBatch: 2, maxWaitMs: 5, workers: 0 });
  try {
    const files = readdirSync(images).sort();
    const a = await call(`${s.url}/v1/predict`, { method: 'POST', body: form(Object.fromEntries(files.map((f) => [f, readFileSync(join(images, f))])), 'images') });
    assert.equal(a.status, 200, a.text);
    await assertSameAsPredict((a.body as Answer).predictions, predictLines(onnx, 'p-ckpt'));
  } finally {
    await s.app.close();
  }
});

it('the preprocessing pool post-processes masks on its threads, with the main thread\'s answer', async () => {
  // A 21-class model's logits for a 4-megapixel photo: work the event loop should not do.
  const [C, h, w] = [21, 64, 64];
  const logits = Float32Array.from({ length: C * h * w }, (_, i) => Math.sin(i * 0.37) * 3 + ((i * 7919) % 13) / 13);
  const geometry: SampleGeometry = { size: [1500, 2600], scale: [64 / 2600, 64 / 2600], pad: [(64 - 1500 * (64 / 2600)) / 2, 0] };
  const names = Array.from({ length: C }, (_, k) => `class${k}`);
  const pre = { names, imgsz: [64, 64], channels: 3, mean: [0, 0, 0], std: [1, 1, 1], transforms: [], output: 'logits' } as Preprocessing;
  const [threaded, inline] = [new PreprocessPool(1, pre, 40e6, true), new PreprocessPool(0, pre, 40e6, true)];
  // The pool's threads never keep a process alive (a server's socket does): this timer does here.
  const alive = setInterval(() => {}, 1000);
  try {
    const want = await inline.segment(logits.slice(), C, [h, w], geometry);
    const sent = logits.slice();
    const job = threaded.segment(sent, C, [h, w], geometry);
    assert.equal(threaded.pending, 1, 'the job is on the thread');
    assert.equal(sent.byteLength, 0, 'the logits were moved to the thread, not copied');
    const got = await job;
    assert.equal(threaded.pending, 0);
    assert.deepEqual(got, want);
    assert.deepEqual([got.mask.width, got.mask.height], [2600, 1500]);
    assert.equal(got.shares.length, C);
    const mask = await decodeMask(Buffer.from(got.mask.png, 'base64'));
    assert.deepEqual(mask.data, maskFromLogits(logits, C, [h, w], geometry).mask);
  } finally {
    clearInterval(alive);
    await Promise.all([threaded.close(), inline.close()]);
  }
});
