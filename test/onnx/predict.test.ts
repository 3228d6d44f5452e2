// predict() on .onnx files (ONNX Runtime): scores against a plain-JS forward pass, batching,
// third-party models with preprocessing from options or YAML, and the one-line errors.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { availableProviders } from '../../src/runtime/session.js';
import { predict, type Prediction, type PredictOptions } from '../../src/tasks/classify/predict.js';
import { modelOf, normalise, softmax, tinyClassifier, valueInfo, writePng, type Tiny } from './models.js';

const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];
let dir: string;
const pixels = new Map<string, Uint8Array>();
let tiny: Tiny;

const at = (f: string): string => join(dir, f);

async function all(o: PredictOptions): Promise<Prediction[]> {
  const out: Prediction[] = [];
  for await (const r of predict({ threads: 1, workers: 0, ...o })) out.push(r);
  return out;
}

async function failure(o: PredictOptions): Promise<string> {
  try {
    await all(o);
  } catch (e) {
    const msg = (e as Error).message;
    assert.ok(!msg.includes('\n'), `one line: ${msg}`);
    return msg;
  }
  assert.fail('expected an error');
}

/** The expected top-k of an image after the given crop, computed without ONNX Runtime. */
function expected(model: Tiny, file: string, width: number, crop: [number, number, number, number], names: string[], k: number): { label: string; score: number }[] {
  const chw = normalise(pixels.get(file)!, width, MEAN, STD, ...crop);
  const p = softmax(model.reference(chw, crop[2], crop[3]));
  return p.map((score, i) => ({ label: names[i]!, score })).sort((a, b) => b.score - a.score).slice(0, k);
}

function assertTop(actual: Prediction, want: { label: string; score: number }[]): void {
  assert.ok('top' in actual, JSON.stringify(actual));
  assert.deepEqual(actual.top.map((t) => t.label), want.map((t) => t.label));
  actual.top.forEach((t, i) => assert.ok(Math.abs(t.score - want[i]!.score) < 2e-6, `score ${t.score} vs ${want[i]!.score}`));
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kestrel-onnx-'));
  for (let i = 0; i < 10; i++) pixels.set(`img/${i}.png`, await writePng(at(`img/${i}.png`), 8, 8, i));
  for (let i = 0; i < 3; i++) pixels.set(`wide/${i}.png`, await writePng(at(`wide/${i}.png`), 12, 8, 20 + i));
  tiny = tinyClassifier();
  writeFileSync(at('tiny.onnx'), tiny.bytes);
  writeFileSync(at('third-party.onnx'), tinyClassifier({ contract: null }).bytes);
});

after(() => rmSync(dir, { recursive: true, force: true }));

describe('predict on an .onnx model with Kestrel metadata', () => {
  it('gives the top-k and softmax scores of an independent forward pass', async () => {
    const r = await all({ weights: at('tiny.onnx'), source: at('img'), topk: 3 });
    assert.equal(r.length, 10);
    for (const [i, p] of r.entries()) {
      assert.equal(p.source, at(`img/${i}.png`));
      assertTop(p, expected(tiny, `img/${i}.png`, 8, [0, 0, 8, 8], tiny.contract!.names, 3));
    }
    const labels = new Set(r.map((p) => ('top' in p ? p.top[0]!.label : '')));
    assert.ok(labels.size > 1, 'the images are told apart');
  });

  it('gives the same results with batch 1, 4 and 32', async () => {
    const [b1, b4, b32] = await Promise.all([1, 4, 32].map((batch) => all({ weights: at('tiny.onnx'), source: at('img'), batch })));
    assert.deepEqual(b4, b1);
    assert.deepEqual(b32, b1);
  });

  it('runs a model with a fixed batch size in chunks of it (1, and 3 with padding)', async () => {
    const free = await all({ weights: at('tiny.onnx'), source: at('img'), batch: 4 });
    for (const n of [1, 3]) {
      const path = at(`batch${n}.onnx`);
      writeFileSync(path, tinyClassifier({ batch: n }).bytes);
      assert.deepEqual(await all({ weights: path, source: at('img'), batch: 4 }), free, `fixed batch ${n}`);
    }
  });

  it('reports an unreadable image as {source, error} and goes on', async () => {
    const mixed = at('mixed');
    await writePng(join(mixed, 'a.png'), 8, 8, 0);
    writeFileSync(join(mixed, 'b.png'), Buffer.from('not a png'));
    const r = await all({ weights: at('tiny.onnx'), source: mixed });
    // As on libtorch: a batch's failures come before its results.
    assert.equal(r.length, 2);
    assert.ok('error' in r[0]! && r[0].source === join(mixed, 'b.png'));
    assert.match((r[0] as { error: string }).error, /^decode failed: /);
    assert.ok('top' in r[1]! && r[1].source === join(mixed, 'a.png'));
  });

  it('runs a graph that declares no output shape, and still checks the class count', async () => {
    const path = at('noshape.onnx');
    writeFileSync(path, tinyClassifier({ outputShape: null }).bytes);
    assert.deepEqual(await all({ weights: path, source: at('img') }), await all({ weights: at('tiny.onnx'), source: at('img') }));
    const msg = await failure({ weights: path, source: at('img'), preprocess: { names: ['a', 'b'] } });
    // ONNX Runtime infers the shape ([N,4]) and reports it; had it not, the check runs on the first batch.
    assert.match(msg, /noshape\.onnx: (2 class names for a model with 4 outputs|the model gave 4 scores per image for 2 class names)$/);
  });

  it('a model whose class count is free: the names give it, checked on the first batch', async () => {
    // Flatten of a free-size image: the "logits" are the normalised pixels themselves (3·8·8 of them).
    const path = at('flatten.onnx');
    writeFileSync(path, modelOf([{ opType: 'Flatten', input: ['images'], output: ['logits'] }], [], valueInfo('images', ['N', 3, 'h', 'w']), valueInfo('logits', ['N', 'k'])));
    const pre = { imgsz: 8, resize: [8, 8] as [number, number], mean: MEAN, std: STD };
    const names = Array.from({ length: 192 }, (_, i) => `p${i}`);
    const [p] = await all({ weights: path, source: at('img/3.png'), topk: 5, preprocess: { ...pre, names } });
    const scores = softmax(Array.from(normalise(pixels.get('img/3.png')!, 8, MEAN, STD, 0, 0, 8, 8)));
    assertTop(p!, scores.map((score, i) => ({ label: names[i]!, score })).sort((x, y) => y.score - x.score).slice(0, 5));
    const msg = await failure({ weights: path, source: at('img'), preprocess: { ...pre, names: ['a', 'b'] } });
    assert.match(msg, /flatten\.onnx: the model gave 192 scores per image for 2 class names$/);
    assert.match(await failure({ weights: path, source: at('img'), preprocess: pre }), /number of classes is not fixed: give the class names with --names/);
  });

  it('takes probabilities as they are when the contract says output probs', async () => {
    const path = at('probs.onnx');
    writeFileSync(path, tinyClassifier({ contract: { output: 'probs' } }).bytes);
    const [p] = await all({ weights: path, source: at('img/0.png'), topk: 4 });
    const chw = normalise(pixels.get('img/0.png')!, 8, MEAN, STD, 0, 0, 8, 8);
    const raw = tiny.reference(chw, 8, 8);
    assert.ok(p && 'top' in p);
    const want = raw.map((v, i) => ({ label: `class${i}`, score: v })).sort((a, b) => b.score - a.score);
    assertTop(p, want);
  });

  it('lets options override the metadata (names)', async () => {
    const [p] = await all({ weights: at('tiny.onnx'), source: at('img/1.png'), topk: 1, preprocess: { names: ['a', 'b', 'c', 'd'] } });
    const want = expected(tiny, 'img/1.png', 8, [0, 0, 8, 8], ['a', 'b', 'c', 'd'], 1);
    assertTop(p!, want);
  });
});

describe('predict on a third-party .onnx model (no metadata)', () => {
  const thirdParty = (): Tiny => tinyClassifier({ contract: null });

  it('uses the preprocessing from options: resize the shorter side, centre crop, normalise', async () => {
    const r = await all({ weights: at('third-party.onnx'), source: at('wide'), topk: 2, preprocess: { mean: MEAN, std: STD, resize: 8, crop: 8, names: ['w', 'x', 'y', 'z'] } });
    assert.equal(r.length, 3);
    // 12×8 images: resizing the shorter side to 8 keeps them; the centre crop takes columns 2…9.
    r.forEach((p, i) => assertTop(p, expected(thirdParty(), `wide/${i}.png`, 12, [0, 2, 8, 8], ['w', 'x', 'y', 'z'], 2)));
  });

  it('reads the preprocessing from YAML, with names from a text file beside it', async () => {
    writeFileSync(at('names.txt'), 'tench\ngoldfish\n\nshark\nray\n');
    writeFileSync(at('pre.yaml'), 'mean: [0.485, 0.456, 0.406]\nstd: [0.229, 0.224, 0.225]\nresize: 8\ncrop: 8\nnames: names.txt\noutput: logits\n');
    const r = await all({ weights: at('third-party.onnx'), source: at('wide'), topk: 4, preprocessFile: at('pre.yaml') });
    r.forEach((p, i) => assertTop(p, expected(thirdParty(), `wide/${i}.png`, 12, [0, 2, 8, 8], ['tench', 'goldfish', 'shark', 'ray'], 4)));
  });

  it('options override the YAML file', async () => {
    const r = await all({ weights: at('third-party.onnx'), source: at('wide/0.png'), topk: 1, preprocessFile: at('pre.yaml'), preprocess: { names: ['p', 'q', 'r', 's'] } });
    assertTop(r[0]!, expected(thirdParty(), 'wide/0.png', 12, [0, 2, 8, 8], ['p', 'q', 'r', 's'], 1));
  });

  it('labels by class index when no names are given', async () => {
    const r = await all({ weights: at('third-party.onnx'), source: at('img/2.png'), topk: 4, preprocess: { mean: MEAN, std: STD } });
    assertTop(r[0]!, expected(thirdParty(), 'img/2.png', 8, [0, 0, 8, 8], ['0', '1', '2', '3'], 4));
  });
});

describe('predict on .onnx: one-line errors naming the problem', () => {
  it('a corrupt, a truncated, an empty and a missing file', async () => {
    writeFileSync(at('corrupt.onnx'), Buffer.from(Array.from({ length: 400 }, (_, i) => (i * 73 + 11) & 255)));
    writeFileSync(at('truncated.onnx'), tiny.bytes.subarray(0, Math.floor(tiny.bytes.length * 0.6)));
    writeFileSync(at('empty.onnx'), '');
    for (const f of ['corrupt.onnx', 'truncated.onnx', 'empty.onnx']) {
      const msg = await failure({ weights: at(f), source: at('img') });
      assert.ok(msg.startsWith(`${at(f)}: not a valid ONNX model (`), msg);
    }
    assert.equal(await failure({ weights: at('nope.onnx'), source: at('img') }), `${at('nope.onnx')}: no such file`);
  });

  it('a model whose input shape does not match the preprocessing', async () => {
    const path = at('mismatch.onnx');
    writeFileSync(path, tinyClassifier({ contract: { imgsz: [16, 16] } }).bytes);
    const msg = await failure({ weights: path, source: at('img') });
    assert.match(msg, /input 'images' is \[N,3,8,8\] but the preprocessing gives \[N,3,16,16\] images/);
    const grey = await failure({ weights: at('tiny.onnx'), source: at('img'), preprocess: { channels: 1, mean: [0.5], std: [0.5] } });
    assert.match(grey, /is \[N,3,8,8\] but the preprocessing gives \[N,1,8,8\]/);
  });

  it('user transforms that end at another size than imgsz are finished with a resize to imgsz', async () => {
    // Free height and width: without the resize the graph would run on 6×6 images its contract does not describe.
    const path = at('free.onnx');
    writeFileSync(path, tinyClassifier({ hw: null }).bytes);
    const fitted = await all({ weights: path, source: at('img'), preprocess: { imgsz: 8, transforms: [{ op: 'centerCrop', size: 6 }] } });
    const explicit = await all({ weights: path, source: at('img'), preprocess: { imgsz: 8, transforms: [{ op: 'centerCrop', size: 6 }, { op: 'resize', size: [8, 8] }] } });
    assert.equal(fitted.length, 10);
    assert.deepEqual(fitted, explicit);
  });

  it('no metadata and no preprocessing says which options and YAML keys to give', async () => {
    const msg = await failure({ weights: at('third-party.onnx'), source: at('img') });
    assert.match(msg, /no Kestrel metadata in the file and no preprocessing given: give --mean and --std .* or --preprocess file\.yaml/);
    const half = await failure({ weights: at('third-party.onnx'), source: at('img'), preprocess: { names: ['a', 'b', 'c', 'd'] } });
    assert.match(half, /give --mean and --std/);
  });

  it('a names count that disagrees with the model output', async () => {
    const msg = await failure({ weights: at('tiny.onnx'), source: at('img'), preprocess: { names: ['a', 'b', 'c'] } });
    assert.match(msg, /3 class names for a model with 4 outputs/);
  });

  it('bad YAML: syntax, an unknown key, a wrong type, a missing names file entry', async () => {
    const cases: [string, RegExp][] = [
      ['mean: [0.5, 0.5\n', /bad\.yaml: not valid YAML/],
      ['mean: [0.5]\nstd: [0.5]\nsize: 8\n', /bad\.yaml: unknown key "size" \(known: names, imgsz/],
      ['mean: 0.5\nstd: [0.5]\n', /bad\.yaml: "mean" expected array, received number/],
      ['mean: [0.5]\nstd: [0.5]\nnames: {0: a, 2: c}\n', /bad\.yaml: "names" has no entry for class 1/],
      ['- 1\n- 2\n', /bad\.yaml: expected a mapping/],
    ];
    for (const [text, re] of cases) {
      writeFileSync(at('bad.yaml'), text);
      assert.match(await failure({ weights: at('third-party.onnx'), source: at('img'), preprocessFile: at('bad.yaml') }), re);
    }
  });

  it('an unknown or uninstalled execution provider lists what is available', async () => {
    const msg = await failure({ weights: at('tiny.onnx'), source: at('img'), provider: 'tpu' });
    assert.equal(msg, `unknown execution provider 'tpu' (Kestrel runs cpu or cuda; available here: ${availableProviders().join(', ')})`);
    assert.ok(availableProviders().includes('cpu'));
    if (!availableProviders().includes('cuda')) {
      assert.match(await failure({ weights: at('tiny.onnx'), source: at('img'), provider: 'cuda' }), /^execution provider 'cuda' is not installed: .*available here: cpu\b/);
    }
  });

  it('ONNX-only options with a checkpoint', async () => {
    const msg = await failure({ weights: at('model.safetensors'), source: at('img'), provider: 'cpu' });
    assert.match(msg, /provider apply to \.onnx models only/);
  });
});
