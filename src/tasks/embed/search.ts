/**
 * Similar images: embeds each query image with the model that made an embeddings file and
 * streams its k nearest images from the file's index (index-cache.ts), best first.
 *
 * @example
 * for await (const r of search({ index: 'photos.safetensors', query: 'cat.jpg', k: 5 })) console.log(r);
 * // { source: 'cat.jpg', neighbours: [{ path: '/…/photos/cat.jpg', similarity: 1 }, …] }
 */
import { existsSync } from 'node:fs';
import type { PredictLine } from '../../engine/predictor.js';
import { isHubName } from '../../hub/index.js';
import { embedImages, type EmbedOptions } from './embed.js';
import { openIndex } from './index-cache.js';

export interface SearchOptions extends Omit<EmbedOptions, 'source' | 'weights'> {
  /** An embeddings file written by `kestrel embed`. */
  index: string;
  /** An image, a folder or a glob: one result line per image. */
  query: string;
  k?: number;
  /** The checkpoint to embed the queries with; default the one the file names. */
  weights?: string;
  /** Told whether the index was built now or loaded from the cache beside the file. */
  onIndex?: (built: boolean, path: string) => void;
}

export interface SearchResult {
  neighbours: { path: string; similarity: number }[];
}

const round = (v: number): number => Number(v.toFixed(6));

export async function* search(o: SearchOptions): AsyncGenerator<PredictLine<SearchResult>> {
  const k = o.k ?? 5;
  if (!(Number.isInteger(k) && k > 0)) throw new RangeError(`k must be a positive integer, got ${k}`);
  const index = openIndex(o.index);
  o.onIndex?.(index.built, `${o.index}.usearch`);
  const { meta } = index.embeddings;
  const weights = o.weights ?? meta.model.weights;
  if (o.weights === undefined && !isHubName(weights) && !existsSync(weights)) {
    throw new Error(`${o.index} was made with ${weights}, which is not there any more: give the same checkpoint with --model`);
  }
  const { index: _i, query, k: _k, weights: _w, onIndex: _o, ...rest } = o;
  const lines = embedImages({ ...rest, weights, source: query }, (m) => {
    if (m.dim !== index.embeddings.dim || m.name !== meta.model.name) {
      throw new Error(`${weights} (${m.name}, ${m.dim} values) is not the model that made ${o.index} (${meta.model.name}, ${meta.dim} values)`);
    }
  });
  for await (const line of lines) {
    if ('error' in line) yield line;
    else yield { source: line.source, neighbours: index.search(line.vector, k).map((n) => ({ path: n.path, similarity: round(n.similarity) })) };
  }
}
