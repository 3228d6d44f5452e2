// A model whose contract has no fixed-size transform (an MNIST export: just normalize) served:
// images of any size are resized to its imgsz (200, the scores of the same model with the resize
// written out), and every image it cannot take is a 4xx in our words, never a 500.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tinyClassifier } from '../onnx/models.js';
import { bombPng, call, errorOf, form, photo, start, type Answer, type Running } from './helpers.js';

let dir: string;
let bare: Running;
let explicit: Running;

const post = (s: Running, files: Record<string, Uint8Array>): Promise<Answer> => call(`${s.url}/v1/predict?topk=4`, { method: 'POST', body: form(files) });
type Top = { label: string; score: number }[];
const tops = (a: Answer): Top[] => (a.body as { predictions: { top: Top }[] }).predictions.map((p) => p.top);

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kestrel-serve-robust-'));
  writeFileSync(join(dir, 'bare.onnx'), tinyClassifier({ seed: 5 }).bytes);
  writeFileSync(join(dir, 'explicit.onnx'), tinyClassifier({ seed: 5, contract: { transforms: [{ op: 'resize', size: [8, 8] }] } }).bytes);
  [bare, explicit] = await Promise.all([start({ weights: join(dir, 'bare.onnx') }), start({ weights: join(dir, 'explicit.onnx') })]);
});

after(async () => {
  await Promise.all([bare.app.close(), explicit.app.close()]);
  rmSync(dir, { recursive: true, force: true });
});

describe('serving a model whose transforms have no fixed size', () => {
  it('describes its pipeline ending at imgsz, and answers images of other sizes with the resized scores', async () => {
    const info = (await call(`${bare.url}/v1/models`)).body as { models: { transforms: unknown[] }[] };
    assert.deepEqual(info.models[0]!.transforms[0], { op: 'resize', size: [8, 8] });
    const images = { 'native.png': await photo(8, 8, 1), 'wide.png': await photo(40, 12, 2), 'tall.jpg': await photo(9, 31, 3, 'jpeg') };
    const [a, b] = await Promise.all([post(bare, images), post(explicit, images)]);
    assert.equal(a.status, 200, a.text);
    assert.equal(b.status, 200, b.text);
    assert.deepEqual(tops(a), tops(b));
    assert.equal(tops(a).length, 3);
  });

  it('answers each image it cannot take with a 4xx in our words', async () => {
    const jpeg = await photo(64, 48, 4, 'jpeg');
    const cases: [string, Uint8Array, number, RegExp][] = [
      ['cut.jpg', jpeg.subarray(0, jpeg.length >> 1), 400, /^cut\.jpg: truncated file \(the image data ends early\)$/],
      ['empty.png', new Uint8Array(0), 400, /^empty\.png: the file is empty$/],
      ['passwd.png', readFileSync('/etc/passwd'), 415, /^passwd\.png: not an image; send jpeg, png/],
      ['bomb.png', bombPng(8000, 5001), 413, /^bomb\.png: too many pixels: 8000×5001 is 40008000 pixels, over the limit of 40000000/],
    ];
    for (const [name, bytes, status, message] of cases) {
      const a = await post(bare, { [name]: bytes });
      assert.equal(a.status, status, `${name}: ${a.text}`);
      assert.match(errorOf(a).message, message);
    }
  });
});
