import tseslint from 'typescript-eslint';

// Layering (docs/architecture.md): the folders of src/, lowest first. A layer may import the layers
// listed before it and none after it; `may` narrows that where a layer needs less than everything
// below, `not` leaves out a peer, `why` adds to the error. Files at the root of src/ are layers of
// their own: task.ts and paths.ts are leaves, index.ts (the package entry) is the top. Only static
// imports are checked: a dynamic import() of an upper layer stays allowed (the CLI and the server
// load the libtorch back end that way).
const LAYERS = [
  { name: 'task.ts', may: [] },
  { name: 'paths.ts', may: [] },
  { name: 'native' },
  { name: 'tensor' },
  { name: 'checkpoint' },
  // Hub names, downloads and the cache: plain files and HTTP, no tensors.
  { name: 'hub', may: ['paths.ts'] },
  { name: 'data', may: ['task.ts', 'tensor', 'checkpoint'] },
  { name: 'onnx' },
  { name: 'nn' },
  { name: 'optim' },
  { name: 'metrics', may: ['task.ts', 'tensor'] },
  { name: 'plot' },
  { name: 'models' },
  { name: 'engine' },
  { name: 'export' },
  // Deploy-only: ONNX Runtime sessions over the IR and the transforms; libtorch is ruled out below too.
  { name: 'runtime', may: ['task.ts', 'data', 'onnx'] },
  // TF.js models → ONNX files through the IR; no libtorch, so an import runs where the addon does not.
  { name: 'tfjs', may: ['task.ts', 'paths.ts', 'checkpoint', 'data', 'onnx'] },
  { name: 'tasks' },
  // What serve/ and ui/ share (errors, auth, the Host guard); they are peers and never import each other.
  { name: 'http' },
  { name: 'serve', why: 'what serve/ and ui/ share lives in http/' },
  { name: 'ui', not: ['serve'], why: 'what serve/ and ui/ share lives in http/' },
  { name: 'cli' },
  { name: 'index.ts' },
];

const isFile = (name) => name.endsWith('.ts');
const FOLDERS = LAYERS.map((l) => l.name).filter((n) => !isFile(n));

function forbidden(layer) {
  const below = LAYERS.slice(0, LAYERS.indexOf(layer)).map((l) => l.name);
  const allowed = (layer.may ?? below).filter((n) => !(layer.not ?? []).includes(n));
  return FOLDERS.filter((f) => f !== layer.name && !allowed.includes(f));
}

function layerPatterns(layer) {
  // A leaf at the root imports nothing from src/; `./*` covers every folder and file beside it.
  if (isFile(layer.name) && layer.may?.length === 0) {
    return [{ group: ['./*'], message: `src/${layer.name} is a leaf: it imports nothing from src/ (docs/architecture.md)` }];
  }
  const banned = forbidden(layer);
  if (banned.length === 0) return [];
  return [{
    group: banned.map((f) => `**/${f}/*`),
    message: `${isFile(layer.name) ? `src/${layer.name}` : `${layer.name}/`} must not import ${banned.map((f) => `${f}/`).join(', ')}: imports point down the layers${layer.why ? `; ${layer.why}` : ''} (docs/architecture.md)`,
  }];
}

const filesOf = (name) => (isFile(name) ? [`src/${name}`] : [`src/${name}/**/*.ts`]);
const layerOf = (path) => {
  const first = path.replace(/^src\//, '').split('/')[0];
  return LAYERS.find((l) => l.name === first);
};

// The deploy-only path (ONNX Runtime prediction and serving) never reaches libtorch: `kestrel
// predict` and `kestrel serve` (with its web UI) on an .onnx file must run where the addon is
// missing. Dynamic import() of the libtorch back end is allowed.
const DEPLOY_ONLY = [
  'src/runtime/**/*.ts', 'src/http/**/*.ts', 'src/serve/**/*.ts', 'src/cli/serve.ts', 'src/ui/**/*.ts', 'src/cli/ui.ts', 'src/cli/listen.ts',
  'src/data/stream.ts', 'src/data/batch.ts', 'src/data/image.ts',
  'src/tasks/classify/predict.ts', 'src/tasks/classify/predict-onnx.ts', 'src/tasks/classify/predict-common.ts',
  'src/tasks/detect/predict.ts', 'src/tasks/detect/predict-onnx.ts', 'src/tasks/detect/postprocess.ts', 'src/metrics/nms.ts', 'src/metrics/boxes.ts',
  'src/data/targets.ts', 'src/plot/boxes.ts',
  'src/engine/predictor.ts', 'src/engine/validator.ts', 'src/engine/run-dir.ts', 'src/task.ts',
  'src/engine/fitness.ts', 'src/tasks/classify/fitness.ts',
];
const NO_LIBTORCH = {
  group: ['**/native/*', '**/tensor/*', '**/nn/*', '**/models/*', '**/optim/*', '**/engine/checkpoint.js', '**/data/loader.js', '**/checkpoint/index.js', '**/checkpoint/safetensors.js', '**/export/*'],
  message: 'deploy-only code must not load libtorch (import it dynamically from the libtorch back end instead)',
};

const restrict = (patterns) => ({ 'no-restricted-imports': ['error', { patterns }] });

export default tseslint.config(
  { ignores: ['dist/', 'build/', 'node_modules/', 'runs/', 'scripts/', 'test/fixtures/'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-imports': ['error', { patterns: [] }],
    },
  },
  ...LAYERS.map((layer) => ({ files: filesOf(layer.name), rules: restrict(layerPatterns(layer)) })),
  // A later config's options replace an earlier one's for the same rule, so each deploy-only glob
  // carries its layer's patterns as well as the libtorch ban.
  ...DEPLOY_ONLY.map((glob) => ({ files: [glob], rules: restrict([...layerPatterns(layerOf(glob)), NO_LIBTORCH]) })),
);
