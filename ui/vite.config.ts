// Builds the web UI (React, TypeScript) into dist/ui/, with ONNX Runtime Web's WebAssembly files
// copied to dist/ui/ort/ so the pages never fetch them from elsewhere.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { defaultClientConditions, defineConfig, type Plugin } from 'vite';

const require = createRequire(import.meta.url);
/** The single-threaded-capable SIMD build: its loader (.mjs) and binary, fetched at run time from ./ort/. */
const ORT_FILES = ['ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.wasm'];

function ortFiles(): Plugin {
  return {
    name: 'kestrel-ort-files',
    apply: 'build',
    generateBundle() {
      for (const f of ORT_FILES) this.emitFile({ type: 'asset', fileName: `ort/${f}`, source: readFileSync(require.resolve(`onnxruntime-web/${f}`)) });
    },
  };
}

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  // The external-wasm build of onnxruntime-web: the .wasm is fetched from env.wasm.wasmPaths instead of being inlined.
  resolve: { conditions: ['onnxruntime-web-use-extern-wasm', ...defaultClientConditions] },
  build: {
    outDir: fileURLToPath(new URL('../dist/ui', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    reportCompressedSize: false,
  },
  plugins: [ortFiles()],
});
