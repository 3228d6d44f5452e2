// npm's install hook: builds the libtorch addon when libtorch is present. A deploy-only machine
// (ONNX Runtime alone) has no libtorch, so a missing libtorch is a notice here, not a failure.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findLibtorch, INSTALL_HINT } from './libtorch.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const force = process.argv.includes('--force');
const built = join(root, 'build/Release/kestrel.node');

const torch = findLibtorch();
if (!torch) {
  console.warn(`kestrel: training needs libtorch. ${INSTALL_HINT}`);
  process.exit(force ? 1 : 0);
}
if (!force && existsSync(built)) process.exit(0);

const gyp = createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');
console.log(`kestrel: building the libtorch addon against ${torch.root} (${torch.source})…`);
const r = spawnSync(process.execPath, [gyp, 'rebuild', `-j`, 'max'], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
