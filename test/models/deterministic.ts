/**
 * The deterministic weights and input of the model fixtures (gen_models.py's fill() and
 * det_input(), which gen_yolo.py reuses): libtorch's generator draws the same numbers here as in
 * PyTorch, so both sides build the same values without storing them.
 */
import assert from 'node:assert/strict';
import type { Module } from '../../src/nn/index.js';
import { arange, empty, manualSeed, noGrad, tidy, type DType, type Tensor } from '../../src/tensor/index.js';

/**
 * fill()'s value of state-dict entry `i` (`key`, `shape`): u ~ U(-1, 1) drawn after manualSeed(i),
 * then weights (≥ 2 dims) u·√(3·gain/fan_in), running_var 1/2 + |u|, other 1-D weights 1 + u/10,
 * 1-D biases and means u/10.
 */
export function deterministicEntry(key: string, shape: readonly number[], i: number, gain: number, dtype: DType = 'float32'): Tensor {
  manualSeed(i);
  return tidy(() => {
    const u = empty(shape, { dtype }).uniform_(-1, 1);
    if (shape.length >= 2) return u.mul(Math.sqrt((3 * gain) / (u.numel() / shape[0]!)));
    if (key.endsWith('running_var')) return u.abs().add(0.5);
    if (key.endsWith('weight')) return u.mul(0.1).add(1);
    return u.mul(0.1);
  });
}

/** fill() in place over a model's state dict (integer buffers untouched). */
export function fillDeterministic(model: Module<never, unknown>, gain: number): void {
  noGrad(() => {
    [...model.stateDict()].forEach(([key, t], i) => {
      if (!t.dtype.startsWith('float')) return;
      tidy(() => t.copy_(deterministicEntry(key, t.shape, i, gain, t.dtype)));
    });
  });
}

/** det_input(): sin(0.37·k) in float64, then float32. */
export const detInput = (shape: number[]): Tensor =>
  tidy(() => arange(0, shape.reduce((a, b) => a * b, 1), 1, { dtype: 'float64' }).mul(0.37).sin().reshape(shape).float());

/**
 * Asserts that each floating state-dict entry has the [sum, sum of squares] the fixture recorded
 * right after PyTorch built the same model from manual_seed(0) (relative 1e-6).
 */
export function assertSeededInit(model: Module<never, unknown>, keys: readonly [string, number[]][], init: readonly ([number, number] | null)[]): void {
  const tensors = [...model.stateDict().values()];
  init.forEach((stats, i) => {
    if (stats === null) return;
    const [sum, sq] = tidy(() => {
      const d = tensors[i]!.to('float64');
      return [d.sum().item(), d.pow(2).sum().item()];
    });
    const key = keys[i]![0];
    assert.ok(Math.abs(sum - stats[0]) <= 1e-6 * Math.max(1, Math.sqrt(stats[1])), `${key}: sum ${sum} vs ${stats[0]}`);
    assert.ok(Math.abs(sq - stats[1]) <= 1e-6 * Math.max(1, stats[1]), `${key}: sum of squares ${sq} vs ${stats[1]}`);
  });
}
