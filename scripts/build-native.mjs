// npm's install hook: builds the native addons. The JPEG addon (native/jpeg: the lean decode path
// on the system's libjpeg-turbo) needs only libjpeg-turbo's headers; without them JPEGs decode
// through sharp, so its failure is a notice. The libtorch addon needs libtorch: a deploy-only
// machine (ONNX Runtime alone) has none, so a missing libtorch is a notice here, not a failure.
//   node scripts/build-native.mjs [--force] [--jpeg]   (--force: rebuild; --jpeg: the JPEG addon only)
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findLibtorch, INSTALL_HINT } from './libtorch.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const force = process.argv.includes('--force');
const jpegOnly = process.argv.includes('--jpeg');
const gyp = createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');
// Without a nodedir node-gyp downloads Node's headers; the running Node's own serve when it has them.
const ownHeaders = join(dirname(dirname(process.execPath)), 'include/node');
const env = { ...process.env };
if (!env.npm_config_nodedir && existsSync(join(ownHeaders, 'node_api.h'))) env.npm_config_nodedir = dirname(dirname(ownHeaders));
const nodeGyp = (cwd, stdio) => spawnSync(process.execPath, [gyp, 'rebuild', '-j', 'max'], { cwd, stdio, env });

const jpegDir = join(root, 'native/jpeg');
if (force || !existsSync(join(jpegDir, 'build/Release/kestrel_jpeg.node'))) {
  console.log('kestrel: building the JPEG addon against the system libjpeg-turbo…');
  const r = nodeGyp(jpegDir, ['ignore', 'ignore', 'pipe']);
  if (r.status !== 0) {
    const err = String(r.stderr);
    const why = /jpeglib\.h/.test(err) ? 'libjpeg-turbo headers not found' : (err.split('\n').find((l) => /error/i.test(l) && !/^gyp ERR! (node|cwd|command|System|not ok)/.test(l)) ?? 'node-gyp failed').trim();
    console.warn(`kestrel: the JPEG addon was not built (${why}); JPEGs decode through sharp, ~2× slower. Install libjpeg62-turbo-dev (Debian) or libjpeg-turbo8-dev (Ubuntu) and run \`node scripts/build-native.mjs --jpeg\`.`);
    if (jpegOnly) process.exit(1);
  }
}
if (jpegOnly) process.exit(0);

const built = join(root, 'build/Release/kestrel.node');
const torch = findLibtorch();
if (!torch) {
  console.warn(`kestrel: training needs libtorch. ${INSTALL_HINT}`);
  process.exit(force ? 1 : 0);
}
if (!force && existsSync(built)) process.exit(0);

console.log(`kestrel: building the libtorch addon against ${torch.root} (${torch.source})…`);
const r = nodeGyp(root, 'inherit');
process.exit(r.status ?? 1);
