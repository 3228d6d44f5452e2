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
);
