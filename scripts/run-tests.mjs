// Runs Node's test runner over every compiled test file (dist/test/**/*.test.js): Node 20's
// `--test` does not expand globs. Arguments starting with `-` go to node (--test-name-pattern=…,
// --test-reporter=spec); other arguments keep only the files whose path contains one of them.
// Files run one at a time: each loads libtorch, whose OpenMP pool already uses every core, so
// parallel files would only oversubscribe the CPU and make timings noisy.
// Slow tests check process.env.KESTREL_SLOW (npm run test:slow sets it).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const testDir = join(root, 'dist/test');

function findTests(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return findTests(path);
    return e.isFile() && e.name.endsWith('.test.js') ? [path] : [];
  });
}

const args = process.argv.slice(2);
const flags = args.filter((a) => a.startsWith('-'));
const filters = args.filter((a) => !a.startsWith('-'));

if (!existsSync(testDir)) {
  console.error('run-tests: dist/test does not exist; run `npm run build` first');
  process.exit(1);
}
const files = findTests(testDir)
  .map((f) => relative(root, f))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error(`run-tests: no test files under dist/test${filters.length ? ` matching ${filters.join(', ')}` : ''}`);
  process.exit(1);
}

console.log(`run-tests: ${files.length} file(s)${process.env.KESTREL_SLOW ? '' : ' (slow tests skipped; KESTREL_SLOW=1 runs them)'}`);
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...flags, ...files], { cwd: root, stdio: 'inherit' });
if (r.error) {
  console.error(`run-tests: ${r.error.message}`);
  process.exit(1);
}
process.exit(r.status ?? 1);
