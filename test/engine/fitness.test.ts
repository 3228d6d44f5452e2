// Which epoch is best: one rule for the Trainer and the web UI (a later epoch must be strictly
// fitter), and classification's fitness (accuracy first, then the lower loss) on results.csv rows.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bestRow, isFitter } from '../../src/engine/fitness.js';
import { classifyFitness, classifyRowFitness } from '../../src/tasks/classify/fitness.js';

const row = (epoch: number, val_accuracy: number, val_loss: number): Record<string, number> => ({ epoch, train_loss: 1, val_loss, val_accuracy, lr: 0.001, seconds: 2 });

describe('best epoch', () => {
  it('a later epoch replaces the best only when strictly fitter', () => {
    assert.equal(isFitter(0.5, 0.4), true);
    assert.equal(isFitter(0.5, 0.5), false);
    assert.equal(isFitter(Number.NaN, -Infinity), false);
    assert.equal(isFitter(0, -Infinity), true);
  });

  it('between equal accuracies the lower loss wins, even in a later epoch', () => {
    const rows = [row(5, 0.8, 0.4), row(6, 0.9, 0.3), row(7, 0.85, 0.2), row(10, 0.9, 0.25), row(11, 0.9, 0.26)];
    assert.equal(bestRow(rows, classifyRowFitness)?.epoch, 10);
  });

  it('of epochs equal in accuracy and loss the first stays best', () => {
    assert.equal(bestRow([row(1, 0.5, 0.7), row(2, 0.75, 0.6), row(3, 0.75, 0.6)], classifyRowFitness)?.epoch, 2);
  });

  it('a higher accuracy beats any loss: the loss only breaks ties', () => {
    assert.equal(bestRow([row(1, 0.75, 0.01), row(2, 0.76, 50)], classifyRowFitness)?.epoch, 2);
    assert.equal(classifyFitness(0.75, 0.5), 0.75 - 0.5e-6);
  });

  it('rows without val_accuracy and val_loss are not scored; none scored gives null', () => {
    assert.equal(classifyRowFitness({ epoch: 1, val_accuracy: 0.5, val_loss: '' }), null);
    assert.equal(bestRow([{ epoch: 1, val_accuracy: '', val_loss: 0.3 }, row(2, 0.1, 2)], classifyRowFitness)?.epoch, 2);
    assert.equal(bestRow([{ epoch: 1, val_map50: 0.3 }], classifyRowFitness), null);
    assert.equal(bestRow([], classifyRowFitness), null);
  });
});
