// predictedBoxes, the post-processing the libtorch path, the ONNX Runtime path, the server and the
// browser share: hand-made decoded output (Ultralytics' layout) to the printed boxes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { predictedBoxes } from '../../../src/tasks/detect/postprocess.js';

/** [1, 4 + nc, A] row-major from per-anchor columns [cx, cy, w, h, p0, p1, …]. */
function decoded(cols: number[][]): Float32Array {
  const rows = cols[0]!.length;
  return Float32Array.from({ length: rows * cols.length }, (_, i) => cols[i % cols.length]![Math.floor(i / cols.length)]!);
}

describe('predictedBoxes()', () => {
  // Input 64×64, letterboxed from a 128×64 (w×h) image: scale 0.5, 16 px of padding top and bottom.
  const geometry = { size: [64, 128] as [number, number], scale: [0.5, 0.5] as [number, number], pad: [16, 0] as [number, number] };
  const out = decoded([
    [20, 30, 10, 8, 0.9, 0.1], // class 0, kept
    [21, 30, 10, 8, 0.8, 0.05], // class 0, IoU 0.82 with the first: suppressed
    [21, 30, 10, 8, 0.1, 0.7], // class 1 over the same place: kept (NMS is per class)
    [50, 40, 6, 6, 0.2, 0.24], // best class below conf 0.25: dropped
  ]);

  it('keeps the best class per anchor above conf, suppresses per class, and maps boxes into the image', () => {
    const boxes = predictedBoxes(out, 0, ['cat', 'dog'], 4, geometry, { conf: 0.25, iou: 0.7 });
    assert.deepEqual(boxes, [
      // x: (20 ∓ 5) / 0.5 → 30, 50; y: (30 ∓ 4 − 16) / 0.5 → 20, 36
      { label: 'cat', class: 0, score: 0.9, box: [30, 20, 50, 36] },
      { label: 'dog', class: 1, score: Number(Math.fround(0.7).toFixed(6)), box: [32, 20, 52, 36] },
    ]);
  });

  it('honours maxDet, agnostic NMS and a lower conf', () => {
    assert.equal(predictedBoxes(out, 0, ['cat', 'dog'], 4, geometry, { conf: 0.25, maxDet: 1 }).length, 1);
    assert.deepEqual(predictedBoxes(out, 0, ['cat', 'dog'], 4, geometry, { conf: 0.25, agnostic: true }).map((b) => b.label), ['cat']);
    const low = predictedBoxes(out, 0, ['cat', 'dog'], 4, geometry, { conf: 0.2 });
    assert.deepEqual(low.map((b) => [b.label, b.box]), [['cat', [30, 20, 50, 36]], ['dog', [32, 20, 52, 36]], ['dog', [94, 42, 106, 54]]]);
  });
});
