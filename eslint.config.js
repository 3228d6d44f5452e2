import tseslint from 'typescript-eslint';

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
  {
    // The deploy-only path (ONNX Runtime prediction and serving) never reaches libtorch: `kestrel
    // predict` and `kestrel serve` (with its web UI) on an .onnx file must run where the addon is missing. Dynamic
    // import() of the libtorch back end is allowed.
    files: ['src/runtime/**/*.ts', 'src/serve/**/*.ts', 'src/cli/serve.ts', 'src/ui/**/*.ts', 'src/cli/ui.ts', 'src/data/stream.ts', 'src/data/batch.ts', 'src/tasks/classify/predict.ts', 'src/tasks/classify/predict-onnx.ts', 'src/tasks/classify/predict-common.ts', 'src/engine/predictor.ts', 'src/engine/validator.ts', 'src/engine/run-dir.ts', 'src/task.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{
          group: ['**/native/*', '**/tensor/*', '**/nn/*', '**/models/*', '**/optim/*', '**/engine/checkpoint.js', '**/data/loader.js', '**/checkpoint/index.js', '**/checkpoint/safetensors.js', '**/onnx/export.js'],
          message: 'deploy-only code must not load libtorch (import it dynamically from the libtorch back end instead)',
        }],
      }],
    },
  },
);
