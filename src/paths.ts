/**
 * Where the package's own files are, whether running from dist/ or from a source checkout. A leaf
 * (it imports nothing from src/), so the CLI and the web UI plugin both find dist/ui and scripts/.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

/** The folder holding Kestrel's package.json and scripts/. */
export function packageRoot(): string {
  if (root !== undefined) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'scripts/libtorch.mjs'))) return (root = dir);
    const up = dirname(dir);
    if (up === dir) throw new Error(`cannot find Kestrel's package root above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

/** Kestrel's version from its package.json. */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version?: string };
  return pkg.version ?? '0.0.0';
}
