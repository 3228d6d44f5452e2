// Device moves: cpu always; cuda when the linked libtorch has it (skipped on CPU-only builds).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { F, Linear } from '../../src/nn/index.js';
import { cudaAvailable, manualSeed, randn, tensor, tidy } from '../../src/tensor/index.js';

describe('devices', () => {
  it('to("cpu") keeps values and device, and modules move in place', () => tidy(() => {
    const x = tensor([[1, 2], [3, 4]]);
    const y = x.to('cpu');
    assert.equal(y.device, 'cpu');
    assert.deepEqual(y.toArray(), [1, 2, 3, 4]);
    manualSeed(0);
    const layer = new Linear(2, 3);
    const w = layer.weight;
    layer.to('cpu');
    assert.equal(layer.weight, w, 'the parameter object survives the move');
    assert.equal(layer.weight.device, 'cpu');
    layer.dispose();
  }));

  it('round-trips through cuda with the same values and gradients', { skip: !cudaAvailable() && 'no CUDA in this libtorch' }, () => tidy(() => {
    manualSeed(0);
    const x = randn([4, 3]);
    const layer = new Linear(3, 2);
    const cpuOut = layer.forward(x).toArray();
    layer.to('cuda');
    const xg = x.to('cuda');
    assert.equal(xg.device, 'cuda:0');
    const out = layer.forward(xg);
    assert.equal(out.device, 'cuda:0');
    out.toArray().forEach((v, i) => assert.ok(Math.abs(v - cpuOut[i]!) < 1e-5));
    F.mseLoss(out, out.detach().mul(0)).backward();
    assert.equal(layer.weight.grad!.device, 'cuda:0');
    layer.dispose();
  }));
});
