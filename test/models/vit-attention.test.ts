// The ViT's head-by-head attention (src/models/vit.ts) against timm's formulation, written out here
// with the same weights: qkv reshaped to [3, B, heads, N, headDim], softmax(q·kᵀ/√d)·v, heads
// moved back. Outputs and every gradient must agree; the logits against PyTorch are in
// reference.test.ts (eval mode), this covers the backward pass a training step takes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Attention } from '../../src/models/vit.js';
import { F } from '../../src/nn/index.js';
import { manualSeed, randn, tidy, type Tensor } from '../../src/tensor/index.js';

function timm(m: Attention, x: Tensor): Tensor {
  const [B, N, C] = x.shape as [number, number, number];
  const qkv = F.linear(x, m.qkv.weight, m.qkv.bias).reshape(B, N, 3, m.heads, m.headDim).permute(2, 0, 3, 1, 4);
  const [q, k, v] = qkv.unbind(0) as [Tensor, Tensor, Tensor];
  const attn = q.matmul(k.transpose(-2, -1)).mul(m.headDim ** -0.5).softmax(-1);
  return F.linear(attn.matmul(v).transpose(1, 2).reshape(B, N, C), m.proj.weight, m.proj.bias);
}

const maxDiff = (a: Tensor, b: Tensor): number => tidy(() => a.sub(b).abs().max().item() as number);

test('head-by-head attention equals timm\'s reshape-and-permute attention, forward and backward', () => {
  manualSeed(5);
  const m = new Attention(48, 3);
  const params = [m.qkv.weight, m.qkv.bias!, m.proj.weight, m.proj.bias!];
  tidy(() => {
    const x = randn([4, 7, 48]).requiresGrad_(true);
    const w = randn([4, 7, 48]);
    const run = (fn: (x: Tensor) => Tensor): { out: Tensor; grads: Tensor[] } => {
      const out = fn(x);
      out.mul(w).sum().backward();
      const grads = [x, ...params].map((t) => t.grad!.clone());
      [x, ...params].forEach((t) => (t.grad = null));
      return { out, grads };
    };
    const ours = run((t) => m.forward(t));
    const ref = run((t) => timm(m, t));
    assert.ok(maxDiff(ref.out, ours.out) < 1e-5, `output differs by ${maxDiff(ref.out, ours.out)}`);
    // Attention must be non-trivial for the comparison to mean anything.
    assert.ok((ref.out.abs().max().item() as number) > 0.1);
    ['x', 'qkv.weight', 'qkv.bias', 'proj.weight', 'proj.bias'].forEach((name, i) => {
      const d = maxDiff(ref.grads[i]!, ours.grads[i]!);
      assert.ok(d < 1e-5, `grad of ${name} differs by ${d}`);
      assert.ok((ref.grads[i]!.abs().max().item() as number) > 1e-3, `grad of ${name} is ~0`);
    });
  });
  m.dispose();
});
