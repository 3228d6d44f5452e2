/**
 * The torchvision weights of the import acceptance tests (~140 MB, not committed): written by
 * test/fixtures/gen_pretrained.py with Debian's torch when they are missing and it is installed,
 * so CI on a machine with python3-torch runs those tests; elsewhere they are skipped, saying so.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES } from './helpers.js';

export const IMAGENET_WEIGHTS = join(FIXTURES, 'imagenet', 'weights');
let ready: string | null | undefined;

/** null when the weights are there (or were just written); otherwise why not, for t.skip(). */
export function imagenetWeightsMissing(): string | null {
  if (ready !== undefined) return ready;
  const all = ['resnet50', 'mobilenet_v2', 'efficientnet_b0'].flatMap((m) => ['zip', 'legacy'].map((l) => join(IMAGENET_WEIGHTS, `${m}_${l}.pth`)));
  if (!all.every((f) => existsSync(f))) {
    const r = spawnSync('/usr/bin/python3', [join(FIXTURES, 'gen_pretrained.py'), '--weights-only'], { encoding: 'utf8', timeout: 300_000 });
    if (r.status !== 0) return (ready = `torchvision weights not generated (/usr/bin/python3 test/fixtures/gen_pretrained.py needs Debian's python3-torch: ${(r.error?.message ?? r.stderr.trim().split('\n').at(-1) ?? '').slice(0, 120)})`);
  }
  return (ready = all.every((f) => existsSync(f)) ? null : 'torchvision weights missing after gen_pretrained.py');
}
