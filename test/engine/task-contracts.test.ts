// Checkpoints and ONNX contracts name their task: a file of one task is refused, in one line,
// where another task's is needed, and the model table lists models by task.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { formatOf, loadCheckpoint, readCheckpointMeta, saveCheckpoint, type CheckpointMeta } from '../../src/engine/checkpoint.js';
import { createModel } from '../../src/models/index.js';
import { contractProps, readContract } from '../../src/onnx/contract.js';
import { OnnxClassifier } from '../../src/runtime/classifier.js';
import { decodeOnnx } from '../../src/runtime/session.js';
import { memory } from '../../src/tensor/index.js';
import { tinyClassifier } from '../onnx/models.js';

const dir = mkdtempSync(join(tmpdir(), 'kestrel-task-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function checkpointOf(task: 'classify' | 'detect', format: string = formatOf(task)): string {
  const model = createModel('smallcnn', { numClasses: 3, inChannels: 1, imgSize: 28 });
  const meta = { format, task, model: model.config, classes: ['a', 'b', 'c'], epoch: 1, createdAt: 'now', preprocess: { imgsz: 28, channels: 1, mean: [0.5], std: [0.5], transforms: [] } } as unknown as CheckpointMeta;
  const path = join(dir, `${task}-${format.replace(/\W/g, '_')}.safetensors`);
  saveCheckpoint(path, model, meta);
  model.dispose();
  return path;
}

describe('task of a checkpoint', () => {
  it('formats name their task', () => {
    assert.equal(formatOf('classify'), 'kestrel.classify/1');
    assert.equal(formatOf('detect'), 'kestrel.detect/1');
  });

  it('a checkpoint of another task is refused in one line, before any model is built', () => {
    const path = checkpointOf('detect');
    const before = memory().tensors;
    assert.throws(() => loadCheckpoint(path, { task: 'classify' }), (e: Error) => /is a detect checkpoint; this needs a classify one$/.test(e.message) && !e.message.includes('\n'));
    assert.equal(memory().tensors, before, 'nothing left allocated');
    assert.equal(readCheckpointMeta(path).task, 'detect');
    const any = loadCheckpoint(path);
    assert.equal(any.meta.task, 'detect');
    any.model.dispose();
  });

  it('a format that does not match its task is refused', () => {
    const path = checkpointOf('classify', 'kestrel.detect/1');
    assert.throws(() => loadCheckpoint(path), /unsupported checkpoint format 'kestrel\.detect\/1'/);
  });
});

describe('task of an ONNX contract', () => {
  const props = (task: string): { key: string; value: string }[] => contractProps({ task: 'classify', names: ['a'], imgsz: [8, 8], channels: 3, mean: [0, 0, 0], std: [1, 1, 1], transforms: [], output: 'logits', precision: 'fp32' })
    .map((p) => (p.key === 'task' ? { key: 'task', value: task } : p));

  it('reads every task and refuses an unknown one', () => {
    for (const task of ['classify', 'detect', 'segment']) assert.equal(readContract(props(task))!.task, task);
    assert.throws(() => readContract(props('caption')), /metadata "task"/);
  });

  it('the ONNX classifier refuses a detect model in one line', async () => {
    const tiny = tinyClassifier({ contract: { task: 'detect' } as never });
    await assert.rejects(OnnxClassifier.load(decodeOnnx('det.onnx', tiny.bytes)), /det\.onnx: is a detect model; this needs a classify one/);
  });
});
