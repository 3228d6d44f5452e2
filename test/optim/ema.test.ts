// ModelEMA against the Ultralytics formula re-implemented in test/fixtures/gen_optim.py.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BatchNorm2d, Linear, Sequential } from '../../src/nn/index.js';
import { ModelEMA } from '../../src/optim/index.js';
import { memory, tidy, type Tensor } from '../../src/tensor/index.js';
import { assertBitwise, assertClose, dec, fixture, type Enc } from './fixture.js';

const { decay, tau, initial, states, ema: expected } = fixture.ema;

function load(model: Sequential, state: Record<string, Enc>): void {
  tidy(() => void model.loadStateDict(new Map(Object.entries(state).map(([k, e]) => [k, dec(e)]))));
}

const model = (): Sequential => new Sequential(new Linear(3, 2), new BatchNorm2d(2));

test('ModelEMA follows the Ultralytics update (warm-up, floats averaged, ints copied)', () => {
  const m = model();
  load(m, initial);
  const ema = new ModelEMA(m, { decay, tau });
  assert.equal(ema.decayAt(1), decay * (1 - Math.exp(-1 / tau)));
  states.forEach((state, k) => {
    load(m, state);
    ema.update(m);
    assert.equal(ema.updates, k + 1);
    for (const [name, e] of Object.entries(expected[k]!)) {
      const t = ema.state.get(name)!;
      if (e.dtype === 'int64') assert.deepEqual(t.toArray(), e.data, name);
      else assertClose(t, e, 1e-6, `update ${k + 1} ${name}`);
    }
  });
  // The EMA holds copies: changing the model does not move it; applyTo copies the averages in.
  const other = model();
  ema.applyTo(other);
  for (const [name, t] of other.stateDict()) assertBitwise(t, ema.state.get(name)!, name);
  ema.dispose();
  ema.dispose();
  m.dispose();
  other.dispose();
});

test('ModelEMA state dict resumes exactly, with the update count', () => {
  const m = model();
  load(m, initial);
  const a = new ModelEMA(m, { decay, tau });
  const b = new ModelEMA(m, { decay, tau });
  for (const s of states.slice(0, 2)) {
    load(m, s);
    a.update(m);
  }
  const saved = a.stateDict();
  const copies = new Map<string, Tensor>([...saved.state].map(([k, t]) => [k, t.clone()]));
  b.loadStateDict({ state: copies, meta: JSON.parse(JSON.stringify(saved.meta)) });
  copies.forEach((t) => t.dispose());
  assert.equal(b.updates, 2);
  for (const s of states.slice(2)) {
    load(m, s);
    a.update(m);
    b.update(m);
  }
  for (const [name, t] of a.state) assertBitwise(b.state.get(name)!, t, name);
  const before = memory().tensors;
  for (let i = 0; i < 50; i++) a.update(m);
  assert.equal(memory().tensors, before, 'update leaks no tensors');
  const flat = new ModelEMA(m, { tau: 0, decay: 0.5 });
  assert.equal(flat.decayAt(1), 0.5);
  flat.dispose();
  a.dispose();
  b.dispose();
  m.dispose();
});
