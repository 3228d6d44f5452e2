// Ownership of native memory: tidy scopes, keep(), `using`, dispose(); asserted on the live
// handle count (memory().tensors), which is what a leak would raise.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { keep, memory, ones, randn, scopeDepth, tensor, tidy, zeros, type Tensor } from '../../src/tensor/index.js';

const live = (): number => memory().tensors;

describe('tidy', () => {
  it('frees every temporary: the live count returns to its baseline', () => {
    const before = live();
    tidy(() => {
      const x = randn([64, 64]);
      for (let i = 0; i < 10; i++) x.matmul(x).relu().sum();
      assert.ok(live() > before + 10, 'temporaries are alive inside the scope');
    });
    assert.equal(live(), before);
  });

  it('the returned tensor survives, usable, and is the only one left', () => {
    const before = live();
    const y = tidy(() => ones([3]).mul(2).add(1));
    assert.equal(live(), before + 1);
    assert.deepEqual(y.toArray(), [3, 3, 3]);
    y.dispose();
    assert.equal(live(), before);
  });

  it('returns arrays, objects and maps of tensors intact', () => {
    const before = live();
    const r = tidy(() => ({ a: ones([1]), list: [zeros([1]), ones([2])], m: new Map([['k', ones([3])]]), n: 5 }));
    assert.equal(live(), before + 4);
    assert.equal(r.n, 5);
    for (const t of [r.a, ...r.list, r.m.get('k')!]) {
      assert.equal(t.isDisposed, false);
      t.dispose();
    }
    assert.equal(live(), before);
  });

  it('nests: an inner result moves to the outer scope and is freed with it', () => {
    const before = live();
    let inner: Tensor | undefined;
    const outer = tidy(() => {
      assert.equal(scopeDepth(), 1);
      inner = tidy(() => {
        assert.equal(scopeDepth(), 2);
        ones([2]).add(1);
        return ones([2]).mul(3);
      });
      assert.equal(inner.isDisposed, false, 'inner result alive in the outer scope');
      return inner.add(1);
    });
    assert.equal(scopeDepth(), 0);
    assert.equal(inner!.isDisposed, true, 'inner result freed when the outer scope ended');
    assert.deepEqual(outer.toArray(), [4, 4]);
    outer.dispose();
    assert.equal(live(), before);
  });

  it('keep() takes a tensor out of every scope: it outlives tidy until disposed', () => {
    const before = live();
    let kept: Tensor | undefined;
    tidy(() => tidy(() => { kept = keep(ones([4])); zeros([4]); }));
    assert.equal(kept!.isDisposed, false);
    assert.equal(live(), before + 1);
    kept!.dispose();
    assert.equal(live(), before);
  });

  it('a thrown error still frees the temporaries, and the scope stack unwinds', () => {
    const before = live();
    assert.throws(() => tidy(() => {
      randn([8, 8]).exp();
      tidy(() => { ones([2]); throw new Error('boom'); });
    }), /boom/);
    assert.equal(scopeDepth(), 0);
    assert.equal(live(), before);
  });

  it('a native error inside tidy frees the temporaries too', () => {
    const before = live();
    assert.throws(() => tidy(() => ones([2, 3]).matmul(ones([4, 5]))), /cannot be multiplied/);
    assert.equal(live(), before);
  });

  it('rejects a promise result: a scope must not span an await', () => {
    const before = live();
    assert.throws(() => tidy(() => Promise.resolve(ones([1]))), /must not span an await/);
    assert.equal(live(), before);
  });

  it('grad tensors read inside tidy are freed with it; the leaf keeps its gradient', () => {
    const w = tensor([1, 2], { requiresGrad: true });
    const before = live();
    tidy(() => {
      w.mul(w).sum().backward();
      assert.deepEqual(w.grad!.toArray(), [2, 4]);
    });
    assert.equal(live(), before);
    tidy(() => assert.deepEqual(w.grad!.toArray(), [2, 4]));
    w.dispose();
  });
});

describe('dispose and using', () => {
  it('`using` disposes at the end of the block', () => {
    const before = live();
    let seen: Tensor;
    {
      using t = ones([5]);
      seen = t;
      assert.equal(live(), before + 1);
    }
    assert.equal(seen.isDisposed, true);
    assert.equal(live(), before);
  });

  it('dispose() is idempotent and counts the handle once', () => {
    const before = live();
    const t = ones([3]);
    t.dispose();
    t.dispose();
    t[Symbol.dispose]();
    assert.equal(live(), before);
  });

  it('a disposed tensor inside a scope does not break the scope', () => {
    const before = live();
    tidy(() => { const t = ones([2]); t.dispose(); ones([1]); });
    assert.equal(live(), before);
  });

  it('memory().bytes tracks the storage of live handles', () => {
    const before = memory().bytes;
    const t = zeros([256], { dtype: 'float64' });
    assert.equal(memory().bytes - before, 256 * 8);
    t.dispose();
    assert.equal(memory().bytes, before);
  });

  it('a loop of tidy steps does not grow the live count', () => {
    const w = randn([16, 16], { requiresGrad: true });
    const counts: number[] = [];
    for (let i = 0; i < 20; i++) {
      tidy(() => { w.matmul(w).tanh().sum().backward(); w.grad = null; });
      counts.push(live());
    }
    assert.equal(new Set(counts).size, 1, `live counts ${counts.join(',')}`);
    w.dispose();
  });
});
