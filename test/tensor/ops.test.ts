// Tensor methods against PyTorch: forward values and gradients from test/fixtures/tensor_ops.json
// (written by test/fixtures/gen_tensor.py). Every fixture case has exactly one entry below.
import { describe, it } from 'node:test';
import { cat, stack, where, type Tensor } from '../../src/tensor/index.js';
import { assertCovers, checkCase, loadFixture, type Outputs } from '../helpers.js';

type T = Record<string, Tensor>;
const fx = loadFixture('tensor_ops');

const arithmetic: Record<string, (t: T) => Outputs> = {
  add: ({ a, b }) => a!.add(b!),
  add_alpha: ({ a, b }) => a!.add(b!, 2.5),
  add_scalar: ({ a }) => a!.add(1.5),
  sub: ({ a, b }) => a!.sub(b!),
  mul: ({ a, b }) => a!.mul(b!),
  mul_scalar: ({ a }) => a!.mul(-0.75),
  div: ({ a, b }) => a!.div(b!),
  div_scalar: ({ a }) => a!.div(4),
  pow_scalar: ({ x }) => x!.pow(2.5),
  pow_tensor: ({ x, e }) => x!.pow(e!),
  neg: ({ x }) => x!.neg(),
  matmul: ({ a, b }) => a!.matmul(b!),
  matmul_vec: ({ a, b }) => a!.matmul(b!),
  mm: ({ a, b }) => a!.mm(b!),
  bmm: ({ a, b }) => a!.bmm(b!),
  exp: ({ x }) => x!.exp(),
  log: ({ x }) => x!.log(),
  sqrt: ({ x }) => x!.sqrt(),
  abs: ({ x }) => x!.abs(),
  clamp: ({ x }) => x!.clamp(-0.5, 0.7),
  clamp_min: ({ x }) => x!.clamp(0.1),
  clamp_max: ({ x }) => x!.clamp(null, -0.2),
  sigmoid: ({ x }) => x!.sigmoid(),
  tanh: ({ x }) => x!.tanh(),
  softmax: ({ x }) => x!.softmax(1),
  softmax_dim0: ({ x }) => x!.softmax(0),
  log_softmax: ({ x }) => x!.logSoftmax(-1),
  maximum: ({ a, b }) => a!.maximum(b!),
  minimum: ({ a, b }) => a!.minimum(b!),
};

const reductions: Record<string, (t: T) => Outputs> = {
  sum_all: ({ x }) => x!.sum(),
  sum_dims_keepdim: ({ x }) => x!.sum([0, 2], true),
  sum_dim: ({ x }) => x!.sum(1),
  mean_all: ({ x }) => x!.mean(),
  mean_dim: ({ x }) => x!.mean(-1),
  mean_dims_keepdim: ({ x }) => x!.mean([1, 2], true),
  max_all: ({ x }) => x!.max(),
  min_all: ({ x }) => x!.min(),
  max_dim: ({ x }) => x!.maxDim(1),
  min_dim_keepdim: ({ x }) => x!.minDim(0, true),
  argmax_dim: ({ x }) => x!.argmax(1),
  argmax_all: ({ x }) => x!.argmax(),
  argmin_dim_keepdim: ({ x }) => x!.argmin(0, true),
  topk: ({ x }) => x!.topk(3),
  topk_smallest_dim0: ({ x }) => x!.topk(2, 0, false),
  sort: ({ x }) => x!.sort(1),
  sort_desc_dim0: ({ x }) => x!.sort(0, true),
  argsort: ({ x }) => x!.argsort(1),
  cumsum: ({ x }) => x!.cumsum(1),
  cumsum_dim0: ({ x }) => x!.cumsum(0),
  prod_dim: ({ x }) => x!.prod(1),
  norm: ({ x }) => x!.norm(),
};
for (const c of [0, 1]) {
  reductions[`var_all_c${c}`] = ({ x }) => x!.var(undefined, { correction: c });
  reductions[`var_dim_c${c}`] = ({ x }) => x!.var(1, { correction: c });
  reductions[`std_all_c${c}`] = ({ x }) => x!.std(undefined, { correction: c });
  reductions[`std_dims_keepdim_c${c}`] = ({ x }) => x!.std([0, 2], { correction: c, keepdim: true });
}

const shape: Record<string, (t: T) => Outputs> = {
  reshape: ({ x }) => x!.reshape(3, 8),
  reshape_infer: ({ x }) => x!.reshape([-1, 6]),
  permute: ({ x }) => x!.permute(3, 0, 2, 1),
  transpose: ({ x }) => x!.transpose(0, 2),
  flatten: ({ x }) => x!.flatten(1),
  flatten_all: ({ x }) => x!.flatten(),
  squeeze: ({ x }) => x!.squeeze(),
  squeeze_dim: ({ x }) => x!.squeeze(1),
  unsqueeze: ({ x }) => x!.unsqueeze(-1),
  expand: ({ x }) => x!.expand(2, 5, 3, 4),
  expand_new_dim: ({ x }) => x!.expand([3, 2, 4]),
  t: ({ x }) => x!.t(),
  flip: ({ x }) => x!.flip(0, 1),
  repeat: ({ x }) => x!.repeat(2, 1, 3),
  cat: ({ a, b }) => cat([a!, b!], 1),
  cat_dim0: ({ a, b }) => cat([a!, b!]),
  stack: ({ a, b }) => stack([a!, b!]),
  stack_last: ({ a, b }) => stack([a!, b!], -1),
  split: ({ x }) => x!.split(2, 1),
  split_sizes: ({ x }) => x!.split([1, 4], 1),
  chunk: ({ x }) => x!.chunk(3, 0),
  unbind: ({ x }) => x!.unbind(1),
};

const indexing: Record<string, (t: T) => Outputs> = {
  slice: ({ x }) => x!.slice(1, 1, 5, 2),
  slice_open: ({ x }) => x!.slice(0, 2),
  narrow: ({ x }) => x!.narrow(1, 2, 3),
  select: ({ x }) => x!.select(0, 2),
  index_select: ({ x, i }) => x!.indexSelect(0, i!),
  index_select_dim1: ({ x, i }) => x!.indexSelect(1, i!),
  gather: ({ x, i }) => x!.gather(1, i!),
  scatter: ({ x, i, src }) => x!.scatter(1, i!, src!),
  scatter_value: ({ x, i }) => x!.scatter(1, i!, 2.5),
  scatter_add: ({ x, i, src }) => x!.scatterAdd(1, i!, src!),
  masked_fill: ({ x, m }) => x!.maskedFill(m!, -1.5),
  masked_fill_broadcast: ({ x, m }) => x!.maskedFill(m!, 3),
  masked_select: ({ x, m }) => x!.maskedSelect(m!),
  where: ({ c, a, b }) => where(c!, a!, b!),
  where_scalar: ({ c, a }) => where(c!, a!, 0.5),
  nonzero: ({ x }) => x!.nonzero(),
  nonzero_bool: ({ m }) => m!.nonzero(),
  index_tensor: ({ x, i }) => x!.index([i!]),
  tril: ({ x }) => x!.tril(),
  triu_1: ({ x }) => x!.triu(1),
};

const logic: Record<string, (t: T) => Outputs> = {
  logical_and: ({ p, q }) => p!.logicalAnd(q!),
  logical_or: ({ p, q }) => p!.logicalOr(q!),
  logical_not: ({ p }) => p!.logicalNot(),
};
for (const op of ['eq', 'ne', 'lt', 'le', 'gt', 'ge'] as const) {
  logic[op] = ({ a, b }) => a![op](b!);
  logic[`${op}_scalar`] = ({ a }) => a![op](3);
}

const groups = { arithmetic, reductions, shape, indexing, logic };

describe('tensor ops match PyTorch (tensor_ops.json)', () => {
  it('every fixture case has a test and every test a case', () => {
    assertCovers(fx, Object.assign({}, ...Object.values(groups)) as Record<string, unknown>);
  });
  for (const [group, table] of Object.entries(groups)) {
    describe(group, () => {
      for (const [name, fn] of Object.entries(table)) {
        it(name, () => checkCase(fx[name]!, fn));
      }
    });
  }
});
