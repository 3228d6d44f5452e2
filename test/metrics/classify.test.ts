import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  classificationReport, confusionMatrix, formatReport, fromConfusionMatrix, topK, type ClassificationMetrics,
} from '../../src/metrics/index.js';

/** One case of test/fixtures/metrics.json (scikit-learn's answers, from gen_metrics.py). */
interface SkCase {
  num_classes: number;
  y_true: number[];
  y_pred: number[];
  scores?: number[][];
  top_k?: Record<string, number>;
  accuracy: number;
  confusion_matrix: number[][];
  per_class: { precision: number[]; recall: number[]; f1: number[]; support: number[] };
  macro: { precision: number; recall: number; f1: number };
  weighted: { precision: number; recall: number; f1: number };
  report?: string;
}

const fixture = JSON.parse(
  readFileSync(fileURLToPath(new URL('../../../test/fixtures/metrics.json', import.meta.url)), 'utf8'),
) as Record<string, SkCase>;

const TOL = 1e-12;
function close(actual: number, expected: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= TOL, `${what}: ${actual} vs sklearn ${expected} (diff ${Math.abs(actual - expected)})`);
}

function checkAgainstSklearn(m: ClassificationMetrics, c: SkCase, name: string): void {
  assert.deepEqual(m.confusionMatrix, c.confusion_matrix, `${name} confusion matrix`);
  close(m.accuracy, c.accuracy, `${name} accuracy`);
  m.perClass.forEach((pc, i) => {
    close(pc.precision, c.per_class.precision[i]!, `${name} precision[${i}]`);
    close(pc.recall, c.per_class.recall[i]!, `${name} recall[${i}]`);
    close(pc.f1, c.per_class.f1[i]!, `${name} f1[${i}]`);
    assert.equal(pc.support, c.per_class.support[i], `${name} support[${i}]`);
  });
  for (const avg of ['macro', 'weighted'] as const) {
    close(m[avg].precision, c[avg].precision, `${name} ${avg} precision`);
    close(m[avg].recall, c[avg].recall, `${name} ${avg} recall`);
    close(m[avg].f1, c[avg].f1, `${name} ${avg} f1`);
    assert.equal(m[avg].support, c.y_true.length);
  }
}

describe('classification metrics agree with scikit-learn (test/fixtures/metrics.json)', () => {
  for (const [name, c] of Object.entries(fixture)) {
    test(name, () => {
      const classes = Array.from({ length: c.num_classes }, (_, i) => `class${i}`);
      const opts = c.scores === undefined ? {} : { scores: c.scores };
      const m = classificationReport(c.y_true, c.y_pred, classes, opts);
      checkAgainstSklearn(m, c, name);
      assert.deepEqual(m.perClass.map((p) => p.class), classes);
      checkAgainstSklearn(fromConfusionMatrix(c.confusion_matrix, classes), c, `${name} (from counts)`);
      if (c.scores !== undefined) {
        for (const [k, expected] of Object.entries(c.top_k!)) close(topK(c.scores, c.y_true, Number(k)), expected, `${name} top-${k}`);
        close(m.top5!, c.top_k!['5']!, `${name} top5`);
      } else {
        assert.equal(m.top5, null);
      }
    });
  }
  test('the fixture covers the zero-division cases it claims to', () => {
    const never = fixture['never_predicted']!;
    assert.ok(never.confusion_matrix.every((row) => row[2] === 0));
    assert.equal(fixture['absent_true']!.per_class.support[3], 0);
    assert.ok(fixture['absent_true']!.confusion_matrix.some((row) => row[3]! > 0));
    assert.ok(Object.values(fixture['random10_ties']!.top_k!).length === 4);
  });
});

describe('confusionMatrix', () => {
  test('rows are true classes, columns predictions', () => {
    assert.deepEqual(confusionMatrix([0, 1, 1, 2], [0, 1, 0, 2], 3), [[1, 0, 0], [1, 1, 0], [0, 0, 1]]);
  });
  test('rejects labels outside [0, n), non-integers and mismatched lengths', () => {
    assert.throws(() => confusionMatrix([0, 3], [0, 1], 3), /yTrue\[1\] = 3/);
    assert.throws(() => confusionMatrix([0, 1], [0, 1.5], 3), /yPred\[1\] = 1.5/);
    assert.throws(() => confusionMatrix([0, 1], [0], 3), /2 samples but yPred has 1/);
    assert.throws(() => confusionMatrix([], [], 0), /positive integer/);
  });
});

describe('topK', () => {
  test('counts the true class among the k best; ties rank the higher index first', () => {
    const scores = [[0.1, 0.7, 0.2], [0.5, 0.3, 0.2], [0.4, 0.4, 0.2]];
    assert.equal(topK(scores, [1, 2, 0], 1), 1 / 3);
    assert.equal(topK(scores, [1, 2, 0], 2), 2 / 3);
    // a tie between classes 0 and 1: class 1 ranks first, so class 0 is top-2, not top-1
    assert.equal(topK([[0.4, 0.4, 0.2]], [1], 1), 1);
    assert.equal(topK([[0.4, 0.4, 0.2]], [0], 1), 0);
    assert.equal(topK(scores, [1, 2, 0], 3), 1);
  });
  test('a NaN score for the true class is a miss; no samples give 0', () => {
    assert.equal(topK([[NaN, 0.1, 0.2]], [0], 3), 0);
    assert.equal(topK([], [], 5), 0);
    assert.throws(() => topK([[1, 2]], [0], 0), /k must be/);
  });
});

describe('classificationReport', () => {
  test('zero division gives 0, top5 only with scores and ≥ 5 classes', () => {
    const m = classificationReport([0, 1, 2, 2], [0, 2, 2, 2], ['a', 'b', 'c']);
    assert.equal(m.accuracy, 0.75);
    assert.deepEqual(m.perClass[1], { class: 'b', precision: 0, recall: 0, f1: 0, support: 1 });
    assert.equal(m.top5, null);
    const scores = [[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1]];
    assert.equal(classificationReport([0, 1, 2, 2], [0, 2, 2, 2], ['a', 'b', 'c'], { scores }).top5, null);
    const five = classificationReport([0, 4], [0, 3], ['a', 'b', 'c', 'd', 'e'], { scores: [[5, 4, 3, 2, 1], [5, 4, 3, 2, 1]] });
    assert.equal(five.top5, 1);
    assert.throws(() => classificationReport([0], [0], ['a', 'b'], { scores: [[1]] }), /scores\[0\] has 1 values for 2 classes/);
  });
  test('an empty set gives zeros, not NaN', () => {
    const m = classificationReport([], [], ['a', 'b']);
    assert.equal(m.accuracy, 0);
    assert.deepEqual(m.macro, { precision: 0, recall: 0, f1: 0, support: 0 });
    assert.deepEqual(m.weighted, { precision: 0, recall: 0, f1: 0, support: 0 });
  });
  test('fromConfusionMatrix checks shape and counts', () => {
    assert.throws(() => fromConfusionMatrix([[1, 2]], ['a']), /1×1/);
    assert.throws(() => fromConfusionMatrix([[-1]], ['a']), /not a count/);
  });
});

describe('formatReport', () => {
  test('matches sklearn classification_report(digits=2) character for character', () => {
    const c = fixture['random3']!;
    const m = classificationReport(c.y_true, c.y_pred, ['cat', 'dog', 'a <long> name']);
    assert.equal(`${formatReport(m, { digits: 2 })}\n`, c.report);
  });
  test('adds a top-5 row when known, default 4 digits, rows of equal width', () => {
    const c = fixture['random10']!;
    const names = Array.from({ length: 10 }, (_, i) => String(i));
    const text = formatReport(classificationReport(c.y_true, c.y_pred, names, { scores: c.scores! }));
    const lines = text.split('\n');
    assert.equal(lines[0], '               precision    recall  f1-score   support');
    assert.equal(lines[14], `top5 accuracy ${''.padStart(20)}${c.top_k!['5']!.toFixed(4).padStart(10)}${'400'.padStart(10)}`);
    assert.equal(lines[13], `     accuracy ${''.padStart(20)}    0.6525       400`);
    assert.equal(new Set(lines.filter((l) => l !== '').map((l) => l.length)).size, 1);
  });
});
