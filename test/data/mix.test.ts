import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cutmix, cutmixBox, mixup } from '../../src/data/mix.js';
import { Rng } from '../../src/data/rng.js';
import { manualSeed, memory, rand, tensor, tidy } from '../../src/tensor/index.js';

const B = 4;
const [C, H, W] = [2, 5, 6];
const labelList = [0, 1, 2, 1];

function setup(): { x: number[]; xs: ReturnType<typeof rand>; ys: ReturnType<typeof tensor> } {
  manualSeed(0);
  const xs = rand([B, C, H, W]);
  return { x: xs.toArray(), xs, ys: tensor(BigInt64Array.from(labelList, BigInt), { shape: [B] }) };
}

const plane = C * H * W;

function checkTargets(t: number[], lam: number): void {
  for (let i = 0; i < B; i++) {
    const row = t.slice(i * 3, i * 3 + 3);
    assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-6, `row ${i} sums to 1`);
    const want = [0, 0, 0];
    want[labelList[i]!] += lam;
    want[labelList[B - 1 - i]!] += 1 - lam;
    row.forEach((v, k) => assert.ok(Math.abs(v - want[k]!) < 1e-6, `row ${i} class ${k}: ${v} vs ${want[k]}`));
  }
}

describe('mixup', () => {
  it('images are lam·x + (1 − lam)·x[reversed]; targets mix one-hot rows and sum to 1', () => {
    tidy(() => {
      const { x, xs, ys } = setup();
      const { images, targets, lam } = mixup(xs, ys, 3, 0.4, new Rng(5));
      assert.ok(lam > 0 && lam < 1);
      assert.deepEqual(targets.shape, [B, 3]);
      const m = images.toArray();
      for (let i = 0; i < B; i++) {
        for (let k = 0; k < plane; k++) {
          const want = lam * x[i * plane + k]! + (1 - lam) * x[(B - 1 - i) * plane + k]!;
          assert.ok(Math.abs(m[i * plane + k]! - want) < 1e-5);
        }
      }
      checkTargets(targets.toArray(), lam);
    });
  });

  it('accepts a plain uniform function and frees its temporaries', () => {
    const before = memory().tensors;
    tidy(() => {
      const { xs, ys } = setup();
      let s = 0.1;
      const out = mixup(xs, ys, 3, 1, () => (s = (s * 7.31) % 1));
      assert.equal(memory().tensors, before + 4, 'inputs and two outputs only');
      return out.images;
    }).dispose();
    assert.equal(memory().tensors, before);
  });
});

describe('cutmix', () => {
  it('pastes the partner\'s box; lam is the kept area; targets sum to 1', () => {
    tidy(() => {
      const { x, xs, ys } = setup();
      for (let seed = 0; seed < 10; seed++) {
        const { images, targets, lam } = cutmix(xs, ys, 3, 1, new Rng(seed));
        const m = images.toArray();
        for (let i = 0; i < B; i++) {
          let fromPartner = 0;
          for (let k = 0; k < plane; k++) {
            const own = x[i * plane + k]!;
            const other = x[(B - 1 - i) * plane + k]!;
            const v = m[i * plane + k]!;
            assert.ok(v === own || v === other, 'each pixel is its own or the partner\'s');
            if (v === other && v !== own) fromPartner++;
          }
          if (i !== B - 1 - i) assert.equal(fromPartner, Math.round((1 - lam) * plane), `box area, seed ${seed}`);
        }
        checkTargets(targets.toArray(), lam);
      }
    });
  });

  it('cutmixBox stays inside the image', () => {
    const rng = new Rng(1);
    for (let k = 0; k < 1000; k++) {
      const b = cutmixBox(32, 24, rng.next(), rng);
      assert.ok(b.top >= 0 && b.left >= 0 && b.top + b.height <= 32 && b.left + b.width <= 24 && b.height >= 0 && b.width >= 0);
    }
  });
});
