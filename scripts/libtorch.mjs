// Locates libtorch for the native build and for `kestrel doctor`.
// Order: $LIBTORCH (official zip layout or a pip install's torch/ folder), then Debian's libtorch-dev.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const DEBIAN = {
  root: '/usr',
  include: ['/usr/include', '/usr/include/torch/csrc/api/include'],
  lib: '/usr/lib/x86_64-linux-gnu',
};

/** @returns {{root: string, include: string[], lib: string, source: string, cuda: boolean, cxx11Abi: number | null} | null} */
export function findLibtorch(env = process.env) {
  if (env.LIBTORCH) {
    const root = env.LIBTORCH;
    const include = [join(root, 'include'), join(root, 'include/torch/csrc/api/include')];
    const lib = join(root, 'lib');
    if (!existsSync(join(include[0], 'torch')) || !hasLib(lib, 'libtorch_cpu')) return null;
    return { root, include, lib, source: 'LIBTORCH', cuda: hasLib(lib, 'libtorch_cuda'), cxx11Abi: abiOf(root, env) };
  }
  if (existsSync('/usr/include/torch/torch.h') || existsSync('/usr/include/torch/csrc/api/include/torch/torch.h')) {
    if (hasLib(DEBIAN.lib, 'libtorch_cpu')) {
      return { ...DEBIAN, source: 'debian', cuda: hasLib(DEBIAN.lib, 'libtorch_cuda'), cxx11Abi: 1 };
    }
  }
  return null;
}

function hasLib(dir, name) {
  try {
    return readdirSync(dir).some((f) => f.startsWith(`${name}.so`));
  } catch {
    return false;
  }
}

// pip wheels before 2.7 and the "pre-cxx11" zips use the old libstdc++ ABI; TorchConfig.cmake says which.
function abiOf(root, env) {
  if (env.LIBTORCH_CXX11_ABI === '0' || env.LIBTORCH_CXX11_ABI === '1') return Number(env.LIBTORCH_CXX11_ABI);
  for (const cfg of ['share/cmake/Torch/TorchConfig.cmake']) {
    const path = join(root, cfg);
    if (!existsSync(path)) continue;
    const m = /_GLIBCXX_USE_CXX11_ABI=([01])/.exec(readFileSync(path, 'utf8'));
    if (m) return Number(m[1]);
  }
  return null;
}

export const INSTALL_HINT = [
  'libtorch was not found. Either:',
  '  apt-get install -y libtorch-dev            (Debian 12: libtorch 1.13, CPU)',
  'or point LIBTORCH at a libtorch folder and rebuild (npm run build:native):',
  '  export LIBTORCH=/opt/libtorch               (official zip layout: include/, lib/)',
  "  export LIBTORCH=$(python3 -c 'import torch,os;print(os.path.dirname(torch.__file__))')   (pip PyTorch)",
].join('\n');

// binding.gyp asks for single values through the command line.
if (import.meta.url === `file://${process.argv[1]}`) {
  const t = findLibtorch();
  const what = process.argv[2];
  if (!t) {
    process.stderr.write(`${INSTALL_HINT}\n`);
    process.exit(1);
  }
  if (what === 'include') process.stdout.write(t.include.join(' '));
  else if (what === 'lib') process.stdout.write(t.lib);
  else if (what === 'libs') process.stdout.write(t.cuda ? '-Wl,--no-as-needed -ltorch_cuda -Wl,--as-needed' : '');
  else if (what === 'abi') process.stdout.write(t.cxx11Abi === null ? '' : `_GLIBCXX_USE_CXX11_ABI=${t.cxx11Abi}`);
  else process.stdout.write(JSON.stringify(t, null, 2) + '\n');
}
