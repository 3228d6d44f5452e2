#!/usr/bin/env bash
# Makes this checkout ready to train and test: libtorch, npm dependencies, the native addon, dist/.
# Idempotent; quick when everything is already in place. Run from anywhere: bash scripts/setup.sh
#   KESTREL_WITH_PYTORCH=1  also installs Debian python3-torch (test fixtures and benchmarks need it; tests do not).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: %s\n' "$*" >&2; exit 1; }
is_root() { [ "$(id -u)" -eq 0 ]; }
can_apt() { is_root && command -v apt-get >/dev/null 2>&1; }

APT_UPDATED=0
apt_install() {
  if [ "$APT_UPDATED" -eq 0 ]; then
    say "apt-get update"
    apt-get update -qq
    APT_UPDATED=1
  fi
  say "apt-get install -y $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# Node ≥ 20
command -v node >/dev/null 2>&1 || die "Node.js ≥ 20 is needed (https://nodejs.org, or Debian/NodeSource packages)"
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || die "Node.js ≥ 20 is needed; this is $(node --version)"
say "node $(node --version)"

# node-gyp builds against the running Node's own headers when npm names no nodedir: CI reaches
# the npm registry only, so it cannot download them.
nodedir=$(npm config get nodedir 2>/dev/null || true)
if [ -z "${npm_config_nodedir:-}" ] && { [ -z "$nodedir" ] || [ "$nodedir" = "undefined" ] || [ "$nodedir" = "null" ]; }; then
  node_prefix=$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")
  if [ -f "$node_prefix/include/node/node_api.h" ]; then
    export npm_config_nodedir="$node_prefix"
  fi
fi

# libtorch: $LIBTORCH, else Debian's libtorch-dev (the same search binding.gyp uses)
if ! node scripts/libtorch.mjs >/dev/null 2>&1; then
  if [ -n "${LIBTORCH:-}" ]; then
    die "LIBTORCH=$LIBTORCH holds no libtorch (needs include/torch and lib/libtorch_cpu.so); fix it, or unset LIBTORCH to use Debian's libtorch-dev"
  elif can_apt; then
    apt_install libtorch-dev
    node scripts/libtorch.mjs >/dev/null || die "libtorch-dev was installed but libtorch is still not found"
  else
    printf 'setup: libtorch was not found. Install it with:\n  sudo apt-get install -y libtorch-dev\nor point LIBTORCH at a libtorch folder (official zip, or a pip torch/ folder):\n  export LIBTORCH=/path/to/libtorch\nthen run this script again.\n' >&2
    exit 1
  fi
fi
say "libtorch $(node -e 'import("./scripts/libtorch.mjs").then((m) => { const t = m.findLibtorch(); console.log(`${t.root} (${t.source})`); })')"

# A fast BLAS: libtorch1.13 only Recommends OpenBLAS, so an apt without recommends (Debian
# containers) leaves libblas.so.3 on the netlib reference BLAS, where a ViT's matrix multiplies run
# 10-50x slower (one 4160x192 by 192x576 product: 200 ms vs 15 ms). The OpenMP build shares
# libtorch's OpenMP threads (KESTREL_THREADS). Only when nothing faster is selected.
blas=$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 2>/dev/null || true)
if [ -z "$blas" ] || [ "$blas" = "/usr/lib/x86_64-linux-gnu/blas/libblas.so.3" ]; then
  if can_apt && [ -z "${LIBTORCH:-}" ]; then
    apt_install libopenblas0-openmp
  elif [ -z "${LIBTORCH:-}" ]; then
    say "matrix multiplies use the slow reference BLAS: sudo apt-get install -y libopenblas0-openmp"
  fi
fi

# node-gyp's toolchain for the addon (a minimal Debian image may lack it)
missing=()
for tool in python3 make g++; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
if [ "${#missing[@]}" -gt 0 ]; then
  if can_apt; then
    apt_install "${missing[@]}"
  else
    die "building the addon needs ${missing[*]}: sudo apt-get install -y ${missing[*]}"
  fi
fi

# libjpeg-turbo's headers for the JPEG addon (native/jpeg), the loader's lean decode path; without
# them JPEGs decode through sharp, about 2x slower. libjpeg-dev is libjpeg62-turbo-dev on Debian,
# libjpeg-turbo8-dev on Ubuntu.
if [ ! -f /usr/include/jpeglib.h ]; then
  if can_apt; then
    apt_install libjpeg-dev
  else
    say "JPEGs will decode through sharp, about 2x slower: sudo apt-get install -y libjpeg-dev"
  fi
fi

# Data and fonts: Fashion-MNIST by name (`--data fashion-mnist`; its test is skipped without it)
# and DejaVu for text in plots; python3-onnx for ONNX's own checker in the export tests (skipped
# without it); python3-sklearn for the segmentation test that recomputes val's metrics from the
# mask PNGs it wrote (skipped without it); Chromium for the web UI's browser tests (skipped without /usr/bin/chromium).
# Installed when missing and apt can run; otherwise a hint, not a stop.
extras=()
dpkg -s dataset-fashion-mnist >/dev/null 2>&1 || [ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || extras+=(dataset-fashion-mnist)
dpkg -s fonts-dejavu-core >/dev/null 2>&1 || [ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || extras+=(fonts-dejavu-core)
/usr/bin/python3 -c 'import onnx' >/dev/null 2>&1 || extras+=(python3-onnx)
/usr/bin/python3 -c 'import sklearn' >/dev/null 2>&1 || extras+=(python3-sklearn)
[ -x /usr/bin/chromium ] || extras+=(chromium)
if [ "${#extras[@]}" -gt 0 ]; then
  if can_apt; then
    apt_install "${extras[@]}"
  else
    say "optional packages missing: sudo apt-get install -y ${extras[*]} (Fashion-MNIST by name; fonts for plots; the ONNX checker; scikit-learn for the segmentation metrics check; Chromium for the web UI tests)"
  fi
fi

# Python PyTorch, only for regenerating fixtures and for benchmarks
if [ "${KESTREL_WITH_PYTORCH:-0}" = "1" ]; then
  if /usr/bin/python3 -c 'import torch' >/dev/null 2>&1; then
    say "python3-torch present"
  elif can_apt; then
    apt_install python3-torch
  else
    die "KESTREL_WITH_PYTORCH=1 needs Debian python3-torch: sudo apt-get install -y python3-torch"
  fi
fi

# npm dependencies (the package's install script builds the addon). npm writes
# node_modules/.package-lock.json on every install; newer than the manifests means up to date.
if [ -f node_modules/.package-lock.json ] && [ node_modules/.package-lock.json -nt package.json ] \
   && { [ ! -f package-lock.json ] || [ node_modules/.package-lock.json -nt package-lock.json ]; }; then
  say "npm dependencies up to date"
elif [ -f package-lock.json ]; then
  say "npm ci"
  npm ci --no-fund --no-audit
else
  say "npm install"
  npm install --no-fund --no-audit
fi

# The addon: build it when missing, rebuild it when its sources are newer
addon=build/Release/kestrel.node
if [ ! -f "$addon" ]; then
  say "building the native addon"
  npm run --silent build:native
elif [ -n "$(find native/src binding.gyp scripts/libtorch.mjs -newer "$addon" -print -quit)" ]; then
  say "native sources changed: rebuilding the addon"
  npm run --silent build:native
else
  say "native addon up to date"
fi

# The JPEG addon: built by the install hook when the headers were there; (re)built here when
# missing or older than its sources, and a failure with the headers present is a stop.
jpeg_addon=native/jpeg/build/Release/kestrel_jpeg.node
if [ ! -f "$jpeg_addon" ] || [ -n "$(find native/jpeg/jpeg.cc native/jpeg/binding.gyp -newer "$jpeg_addon" -print -quit)" ]; then
  if [ -f /usr/include/jpeglib.h ]; then
    node scripts/build-native.mjs --jpeg --force || die "the JPEG addon (native/jpeg) failed to build"
  fi
else
  say "JPEG addon up to date"
fi

say "npm run build"
npm run --silent build
say "done: try 'npm run demo', 'npm test' or 'node dist/src/cli/main.js doctor'"
