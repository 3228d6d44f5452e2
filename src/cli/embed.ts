/** `kestrel embed` and `kestrel search`: image vectors from a classifier, and the nearest images to a query. */
import type { Command } from 'commander';
import { DEFAULT_MAX_PIXELS } from '../data/limits.js';
import { defined, nonNegativeInt, positiveInt } from './options.js';

interface RunArgs {
  batch: number;
  workers?: number;
  threads?: number;
  maxPixels: number;
}

const runOptions = (c: Command): Command => c
  .option('--batch <n>', 'images per forward pass', positiveInt, 32)
  .option('--workers <n>', 'decoding worker threads', nonNegativeInt)
  .option('--threads <n>', 'intra-op threads of libtorch (default: the number of cores)', positiveInt)
  .option('--max-pixels <n>', 'pixels per image, width × height, read from the header before decoding (an error line beyond)', positiveInt, DEFAULT_MAX_PIXELS);

/** Stops quietly when stdout closes early (`| head`); returns whether it has. */
function watchStdout(): () => boolean {
  let closed = false;
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    closed = true;
    if (e.code !== 'EPIPE') process.exitCode = 1;
  });
  return () => closed;
}

export function registerEmbed(program: Command): void {
  runOptions(program
    .command('embed')
    .description('write one vector per image: the pooled features a classifier computes before its final layer (global average pool for CNNs, the class token for the ViT), L2-normalised, into a .safetensors file (tensor "embeddings" [N, D], the image paths in its metadata); an unreadable image gets a line on stderr and makes the exit code 1')
    .requiredOption('--model <checkpoint>', 'a classification checkpoint (.safetensors) from kestrel train or kestrel import, or a hub name (torchvision:resnet50.IMAGENET1K_V2, timm:resnet18.a1_in1k), imported once into $KESTREL_HOME/checkpoints')
    .requiredOption('--source <path>', 'an image, a folder (searched recursively) or a glob in quotes')
    .requiredOption('-o, --output <file>', 'the embeddings file to write (.safetensors)'))
    .action(async (o: RunArgs & { model: string; source: string; output: string }) => {
      const { embedToFile } = await import('../tasks/embed/embed.js');
      const r = await embedToFile(defined({
        weights: o.model, source: o.source, out: o.output, batch: o.batch, workers: o.workers, threads: o.threads, maxPixels: o.maxPixels,
        onError: (source: string, error: string) => void process.stderr.write(`${source}: ${error}\n`),
      }));
      process.stdout.write(`embedded ${r.count} images (${r.dim} values each) → ${r.out}${r.failed.length > 0 ? `; ${r.failed.length} could not be read` : ''}\n`);
      if (r.failed.length > 0) process.exitCode = 1;
    });

  runOptions(program
    .command('search')
    .description('find the images of an embeddings file nearest to each query image, through a USearch HNSW index (built once, cached beside the file as <file>.usearch); prints one JSON line per query: {"source", "neighbours": [{"path", "similarity"}]}, best first, similarity being the cosine (1 for the same image); an unreadable query gets {"source", "error"} and makes the exit code 1')
    .requiredOption('--index <file>', 'an embeddings file written by kestrel embed')
    .requiredOption('--query <path>', 'an image, a folder or a glob in quotes')
    .option('-k, --k <n>', 'neighbours per query', positiveInt, 5)
    .option('--model <checkpoint>', 'the checkpoint to embed the queries with (default: the one that made the file)'))
    .action(async (o: RunArgs & { index: string; query: string; k: number; model?: string }) => {
      const { search } = await import('../tasks/embed/search.js');
      const closed = watchStdout();
      let failed = 0;
      const lines = search(defined({
        index: o.index, query: o.query, k: o.k, weights: o.model, batch: o.batch, workers: o.workers, threads: o.threads, maxPixels: o.maxPixels,
        onIndex: (built: boolean, path: string) => void process.stderr.write(`${built ? 'built the index' : 'loaded the index'} ${path}\n`),
      }));
      for await (const r of lines) {
        if (closed()) break;
        if ('error' in r) failed++;
        process.stdout.write(`${JSON.stringify(r)}\n`);
      }
      if (failed > 0) process.exitCode = 1;
    });
}

/** `kestrel data dedup`, registered under `kestrel data`. */
export function registerDedup(data: Command): void {
  runOptions(data
    .command('dedup')
    .description('list near-duplicate images of a data set from their embeddings (see kestrel embed): one JSON line per pair, most similar first, {"a", "b", "similarity", "splits": [split of a, split of b], "leak"}; leak is true when the pair spans train, val and test (a leaked image inflates the accuracy measured there)')
    .requiredOption('--model <checkpoint>', 'a classification checkpoint (.safetensors) to embed with, or a hub name (as for kestrel embed)')
    .requiredOption('--data <spec>', 'a classification folder or CSV manifest, or a detection or segmentation data.yaml')
    .option('--threshold <x>', 'cosine similarity from which two images are near-duplicates, in (0, 1]', Number, 0.95)
    .option('--neighbours <n>', 'neighbours looked at per image (a larger group is listed in part)', positiveInt, 10)
    .option('-o, --output <file>', 'also keep the vectors as an embeddings file (kestrel search reads it)'))
    .action(async (o: RunArgs & { model: string; data: string; threshold: number; neighbours: number; output?: string }) => {
      const { dedup } = await import('../tasks/embed/dedup.js');
      const closed = watchStdout();
      const r = await dedup(defined({
        weights: o.model, data: o.data, threshold: o.threshold, neighbours: o.neighbours, out: o.output, batch: o.batch, workers: o.workers, threads: o.threads, maxPixels: o.maxPixels,
        onError: (source: string, error: string) => void process.stderr.write(`${source}: ${error}\n`),
      }));
      for (const p of r.pairs) {
        if (closed()) break;
        process.stdout.write(`${JSON.stringify(p)}\n`);
      }
      const leaks = r.pairs.filter((p) => p.leak).length;
      process.stderr.write(`${r.pairs.length} near-duplicate pairs among ${r.images} images at similarity ≥ ${o.threshold} (${leaks} across splits)${r.failed > 0 ? `; ${r.failed} images could not be read` : ''}\n`);
      if (r.failed > 0) process.exitCode = 1;
    });
}
