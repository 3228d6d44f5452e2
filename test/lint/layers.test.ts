// The layering rules of eslint.config.js, run through ESLint's own API on one-line files placed in
// each folder of src/: an import of the layer just above must fail with no-restricted-imports, an
// import of a layer below must lint clean. The expected order is written out here, independently of
// the config, so a rule that stops biting (or starts refusing a legitimate import) fails the test.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ESLint, type Linter } from 'eslint';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

interface LayerCase {
  /** A file that would live in the layer (it need not exist). */
  file: string;
  /** An import the layer must not make: the nearest layer above it, where there is one. */
  up?: string;
  /** An import the layer may make. */
  down: string;
}

const LAYERS: Record<string, LayerCase> = {
  'task.ts': { file: 'src/task.ts', up: './tensor/index.js', down: 'node:fs' },
  'paths.ts': { file: 'src/paths.ts', up: './cli/main.js', down: 'node:path' },
  native: { file: 'src/native/probe.ts', up: '../tensor/index.js', down: '../task.js' },
  tensor: { file: 'src/tensor/probe.ts', up: '../checkpoint/index.js', down: '../native/index.js' },
  checkpoint: { file: 'src/checkpoint/probe.ts', up: '../data/index.js', down: '../tensor/index.js' },
  hub: { file: 'src/hub/probe.ts', up: '../data/index.js', down: '../paths.js' },
  data: { file: 'src/data/probe.ts', up: '../onnx/graph.js', down: '../tensor/index.js' },
  onnx: { file: 'src/onnx/probe.ts', up: '../nn/module.js', down: '../data/transform-schema.js' },
  nn: { file: 'src/nn/probe.ts', up: '../optim/index.js', down: '../onnx/graph.js' },
  optim: { file: 'src/optim/probe.ts', up: '../metrics/classify.js', down: '../nn/module.js' },
  metrics: { file: 'src/metrics/probe.ts', up: '../plot/png.js', down: '../tensor/index.js' },
  plot: { file: 'src/plot/probe.ts', up: '../models/index.js', down: '../checkpoint/atomic.js' },
  models: { file: 'src/models/probe.ts', up: '../engine/trainer.js', down: '../nn/index.js' },
  engine: { file: 'src/engine/probe.ts', up: '../export/export.js', down: '../models/index.js' },
  export: { file: 'src/export/probe.ts', up: '../runtime/session.js', down: '../engine/checkpoint.js' },
  runtime: { file: 'src/runtime/probe.ts', up: '../tasks/classify/predict.js', down: '../onnx/contract.js' },
  tfjs: { file: 'src/tfjs/probe.ts', up: '../tasks/classify/predict.js', down: '../onnx/graph.js' },
  tasks: { file: 'src/tasks/classify/probe.ts', up: '../../http/index.js', down: '../../runtime/session.js' },
  http: { file: 'src/http/probe.ts', up: '../serve/index.js', down: '../tasks/classify/predict-common.js' },
  serve: { file: 'src/serve/probe.ts', up: '../ui/plugin.js', down: '../http/index.js' },
  ui: { file: 'src/ui/probe.ts', up: '../cli/main.js', down: '../engine/run-dir.js' },
  cli: { file: 'src/cli/probe.ts', down: '../serve/index.js' },
  'index.ts': { file: 'src/index.ts', down: './cli/main.js' },
};

/** Imports a layer's position alone would allow but its own narrower rule refuses. */
const NARROWER: [file: string, spec: string][] = [
  ['src/data/probe.ts', '../nn/module.js'],
  ['src/hub/probe.ts', '../checkpoint/index.js'],
  ['src/metrics/probe.ts', '../data/index.js'],
  ['src/runtime/probe.ts', '../engine/run-dir.js'],
  ['src/tfjs/probe.ts', '../engine/run-dir.js'],
  ['src/ui/probe.ts', '../serve/index.js'],
  ['src/tasks/classify/probe.ts', '../../cli/main.js'],
];

let eslint: ESLint;

async function lint(file: string, code: string): Promise<Linter.LintMessage[]> {
  const [result] = await eslint.lintText(code, { filePath: join(ROOT, file) });
  assert.ok(result, `no lint result for ${file}`);
  return result.messages;
}

function restricted(messages: Linter.LintMessage[]): string[] {
  return messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

before(() => {
  eslint = new ESLint({ cwd: ROOT });
});

describe('layer rules', () => {
  it('cover every folder and root file of src/', () => {
    const entries = readdirSync(join(ROOT, 'src'), { withFileTypes: true })
      .filter((e) => e.isDirectory() || e.name.endsWith('.ts'))
      .map((e) => e.name)
      .sort();
    assert.deepEqual(entries, Object.keys(LAYERS).sort());
  });

  for (const [name, c] of Object.entries(LAYERS)) {
    if (c.up) {
      it(`${name}: an upward import is an error`, async () => {
        // A deploy-only file may also get the libtorch message; the layer message must be there.
        const got = restricted(await lint(c.file, `import '${c.up}';\n`));
        assert.ok(got.some((m) => m.includes(`${c.up}' import is restricted`) && m.includes('docs/architecture.md')), `${c.file} importing ${c.up}: ${JSON.stringify(got)}`);
      });
    }
    it(`${name}: a downward import passes`, async () => {
      assert.deepEqual(await lint(c.file, `import '${c.down}';\n`), []);
    });
  }

  it('narrower layers refuse imports their position alone would allow', async () => {
    for (const [file, spec] of NARROWER) {
      assert.equal(restricted(await lint(file, `import '${spec}';\n`)).length, 1, `${file} importing ${spec}`);
    }
  });

  it('a type-only upward import counts; a dynamic import() does not', async () => {
    assert.equal(restricted(await lint('src/nn/probe.ts', `import type { ClassifierModel } from '../models/model.js';\nexport type M = ClassifierModel;\n`)).length, 1);
    assert.deepEqual(await lint('src/serve/probe.ts', `export const load = () => import('../export/export.js');\n`), []);
  });
});

describe('deploy-only rule', () => {
  it('keeps libtorch out of deploy-only files, alongside their layer rule', async () => {
    // serve/ sits above nn/ and export/, so only the deploy rule can refuse these.
    for (const spec of ['../nn/index.js', '../export/fp16.js', '../engine/checkpoint.js', '../data/loader.js']) {
      const got = restricted(await lint('src/serve/probe.ts', `import '${spec}';\n`));
      assert.equal(got.length, 1, `serve importing ${spec}`);
      assert.match(got[0]!, /must not load libtorch/);
    }
    const predictor = restricted(await lint('src/engine/predictor.ts', `import '../tensor/index.js';\n`));
    assert.equal(predictor.length, 1);
    assert.match(predictor[0]!, /must not load libtorch/);
    // The deploy config replaces the layer config for its files, so it must carry the layer patterns.
    const upward = restricted(await lint('src/engine/predictor.ts', `import '../tasks/classify/task.js';\n`));
    assert.equal(upward.length, 1);
    assert.match(upward[0]!, /engine\/ must not import .*tasks\//);
    // The same file outside the deploy list may load libtorch.
    assert.deepEqual(await lint('src/engine/probe.ts', `import '../tensor/index.js';\n`), []);
  });
});
