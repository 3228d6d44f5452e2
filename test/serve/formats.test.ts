// One list of image formats for `kestrel predict` and `kestrel serve`: every format on it gives the
// same top classes through both, and SVG (a document that libvips would render) is refused by
// both, whatever the file is called.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { IMAGE_EXTENSIONS, IMAGE_FORMATS as DATA_FORMATS, sniffFormat } from '../../src/data/image.js';
import { IMAGE_FORMATS } from '../../src/serve/index.js';
import { predict, type Prediction } from '../../src/tasks/classify/predict.js';
import { tinyClassifier } from '../onnx/models.js';
import { call, errorOf, form, photo, start, type Running } from './helpers.js';

const SVG = '\ufeff<?xml version="1.0"?>\n<!-- a drawing -->\n<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect width="8" height="8" fill="red"/></svg>';
let dir: string;
let weights: string;
let s: Running;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kestrel-formats-'));
  weights = join(dir, 'tiny.onnx');
  writeFileSync(weights, tinyClassifier({ seed: 5, contract: { transforms: [{ op: 'resize', size: 8 }, { op: 'centerCrop', size: 8 }] } }).bytes);
  s = await start({ weights, workers: 0 });
});
after(async () => {
  await s.app.close();
  rmSync(dir, { recursive: true, force: true });
});

async function predictFile(file: string): Promise<Prediction> {
  const out: Prediction[] = [];
  for await (const r of predict({ weights, source: file, topk: 3, threads: 1, workers: 0 })) out.push(r);
  assert.equal(out.length, 1);
  return out[0]!;
}

describe('accepted formats', () => {
  it('serve and the data layer share one list, and its extensions are the data layer\'s', () => {
    assert.equal(IMAGE_FORMATS, DATA_FORMATS);
    assert.deepEqual([...IMAGE_FORMATS], ['jpeg', 'png', 'webp', 'gif', 'tiff']);
    assert.deepEqual([...IMAGE_EXTENSIONS], ['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tiff', '.tif']);
  });

  it('every listed format gives kestrel predict\'s top classes through serve', async () => {
    const png = await photo(24, 18, 3);
    for (const format of IMAGE_FORMATS) {
      const bytes = await sharp(png).toFormat(format as keyof sharp.FormatEnum).toBuffer();
      assert.equal(sniffFormat(bytes), format, `${format} is told from its first bytes`);
      const file = join(dir, `img.${format}`);
      writeFileSync(file, bytes);
      const cli = await predictFile(file);
      assert.ok('top' in cli, `${format}: ${JSON.stringify(cli)}`);
      const a = await call(`${s.url}/v1/predict?topk=3`, { method: 'POST', headers: { 'content-type': `image/${format}` }, body: bytes });
      assert.equal(a.status, 200, `${format}: ${a.text}`);
      // Same labels; scores equal to the six decimals both print (a last-digit rounding apart at most).
      const top = (a.body as { predictions: { top: { label: string; score: number }[] }[] }).predictions[0]!.top;
      assert.deepEqual(top.map((t) => t.label), cli.top.map((t) => t.label), format);
      top.forEach((t, i) => assert.ok(Math.abs(t.score - cli.top[i]!.score) <= 1.5e-6, `${format}: ${t.score} vs ${cli.top[i]!.score}`));
    }
  });
});

describe('SVG', () => {
  it('is refused by kestrel predict, named .svg or disguised as .png', async () => {
    for (const name of ['drawing.svg', 'disguised.png']) {
      writeFileSync(join(dir, name), SVG);
      const r = await predictFile(join(dir, name));
      assert.ok('error' in r, `${name}: ${JSON.stringify(r)}`);
      assert.match(r.error, /svg images are not accepted \(a document format that libvips renders, external references included\); send jpeg, png, webp, gif, tiff$/);
    }
  });

  it('is refused by serve with 415, as a body or as a part named .png', async () => {
    const answers = [
      await call(`${s.url}/v1/predict`, { method: 'POST', headers: { 'content-type': 'image/svg+xml' }, body: SVG }),
      await call(`${s.url}/v1/predict`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: SVG }),
      await call(`${s.url}/v1/predict`, { method: 'POST', body: form({ 'disguised.png': Buffer.from(SVG) }) }),
    ];
    for (const a of answers) {
      assert.equal(a.status, 415, a.text);
      assert.equal(errorOf(a).code, 'unsupported_media_type');
      assert.match(errorOf(a).message, /^(body|disguised\.png): svg images are not accepted/);
    }
  });

  it('sniffFormat knows SVG and PDF documents, and nothing else it cannot read', () => {
    assert.equal(sniffFormat(Buffer.from('  \n<svg viewBox="0 0 1 1"></svg>')), 'svg');
    assert.equal(sniffFormat(Buffer.from('%PDF-1.7\n')), 'pdf');
    for (const other of ['<html><body></body></html>', 'just text', '']) assert.equal(sniffFormat(Buffer.from(other)), null, other);
  });
});
