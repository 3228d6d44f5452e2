import tseslint from 'typescript-eslint';

const DEPLOY_ONLY = [
  'src/runtime/**/*.ts', 'src/http/**/*.ts', 'src/serve/**/*.ts', 'src/cli/serve.ts', 'src/ui/**/*.ts', 'src/cli/ui.ts', 'src/cli/listen.ts',
  'src/data/stream.ts', 'src/data/batch.ts', 'src/data/image.ts',
  'src/tasks/classify/predict.ts', 'src/tasks/classify/predict-onnx.ts', 'src/tasks/classify/predict-common.ts',
  'src/engine/predictor.ts', 'src/engine/validator.ts', 'src/engine/run-dir.ts', 'src/task.ts',
];
const NO_LIBTORCH = {
  group: ['**/native/*', '**/tensor/*', '**/nn/*', '**/models/*', '**/optim/*', '**/engine/checkpoint.js', '**/data/loader.js', '**/checkpoint/index.js', '**/checkpoint/safetensors.js', '**/export/*'],
  message: 'deploy-only code must not load libtorch (import it dynamically from the libtorch back end instead)',
};

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
  {
    // Layering: the core never imports the layers built on it.
    files: ['src/tensor/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: ['../nn/*', '../optim/*', '../cli/*', '../checkpoint/*'] }] },
  },
  {
    files: ['src/nn/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: ['../optim/*', '../cli/*'] }] },
  },
  // The deploy-only path (ONNX Runtime prediction and serving) never reaches libtorch: `kestrel
  // predict` and `kestrel serve` (with its web UI) on an .onnx file must run where the addon is
  // missing. Dynamic import() of the libtorch back end is allowed.
  {
    files: DEPLOY_ONLY,
    rules: { 'no-restricted-imports': ['error', { patterns: [NO_LIBTORCH] }] },
  },
  // The HTTP surfaces: serve/ and ui/ share src/http/ and never import each other; src/http/ imports neither.
  // (A later block replaces the rule's options for its files, so each repeats NO_LIBTORCH.)
  {
    files: ['src/http/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [NO_LIBTORCH, { group: ['**/serve/*', '**/ui/*', '**/cli/*'], message: 'src/http is shared by serve/ and ui/: it imports neither (nor the CLI)' }] }] },
  },
  {
    files: ['src/serve/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [NO_LIBTORCH, { group: ['**/ui/*'], message: 'serve/ does not import ui/: what both need lives in src/http' }] }] },
  },
  {
    files: ['src/ui/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [NO_LIBTORCH, { group: ['**/serve/*'], message: 'ui/ does not import serve/: what both need lives in src/http' }] }] },
  },
);
