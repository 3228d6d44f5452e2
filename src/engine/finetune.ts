/**
 * Fine-tuning controls every task shares: which layers are frozen (`--freeze backbone` or
 * `--freeze N`), their batch-norm statistics kept as pretrained, and a smaller learning rate for
 * the backbone than for the head (discriminative learning rates). A task says which module is its
 * head (TaskRun.head); everything else is the backbone.
 */
import type { Module } from '../nn/module.js';
import type { Params } from '../optim/optimizer.js';
import type { Tensor } from '../tensor/tensor.js';

type AnyModule = Module<never[], unknown>;

/** Containers whose numbered children count as layers one by one (torchvision's features, timm's blocks). */
const STAGED = new Set(['features', 'blocks']);

/**
 * The model's layers in forward order, for `--freeze N`: its top-level modules, with the numbered
 * children of `features`/`blocks` counted one by one; modules without parameters are skipped.
 *
 * @example
 * layersOf(createModel('resnet18')).map(([n]) => n);   // conv1, bn1, layer1, layer2, layer3, layer4, fc
 */
export function layersOf(model: Module<never, unknown>): [string, AnyModule][] {
  const out: [string, AnyModule][] = [];
  for (const [name, child] of model.namedChildren()) {
    const parts: [string, AnyModule][] = STAGED.has(name) ? [...child.namedChildren()].map(([k, m]) => [`${name}.${k}`, m]) : [[name, child]];
    for (const part of parts) if (part[1].parameters().length > 0) out.push(part);
  }
  return out;
}

export interface FreezePlan {
  /** Modules kept in eval mode while training (their batch-norm statistics stay as pretrained). */
  frozen: AnyModule[];
  /** One line for the log: what is frozen and how many parameters train. */
  summary: string;
}

const count = (ts: Tensor[]): number => ts.reduce((n, t) => n + t.numel(), 0);
const fmt = (n: number): string => n.toLocaleString('en-US');

/**
 * Freezes what `spec` names ('backbone': everything but `head`; a number N: the first N layers of
 * layersOf) by turning off its parameters' gradients; returns the modules to keep in eval mode.
 */
export function applyFreeze(model: Module<never, unknown>, spec: string | undefined, head: AnyModule | null): FreezePlan {
  const all = model.parameters();
  let frozen: [string, AnyModule][] = [];
  if (spec === 'backbone') {
    if (head === null) throw new Error('--freeze backbone: this task does not say which module is the head; give --freeze N (layers) instead');
    const headParams = new Set(head.parameters());
    frozen = layersOf(model).filter(([, m]) => !m.parameters().some((p) => headParams.has(p)));
  } else if (spec !== undefined) {
    const n = Number(spec);
    const layers = layersOf(model);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--freeze takes 'backbone' or a number of layers (1 to ${layers.length}), got '${spec}'`);
    if (n >= layers.length) throw new Error(`--freeze ${n} would freeze every layer: the model has ${layers.length} (${layers.map(([k]) => k).join(', ')})`);
    frozen = layers.slice(0, n);
  }
  for (const [, m] of frozen) m.requiresGrad_(false);
  const trainable = count(all.filter((p) => p.requiresGrad));
  const what = frozen.length === 0 ? 'nothing frozen' : `froze ${frozen.length} layer${frozen.length === 1 ? '' : 's'} (${frozen.map(([k]) => k).join(', ').replace(/^(.{80}).+$/, '$1…')}; batch-norm statistics kept)`;
  return { frozen: frozen.map(([, m]) => m), summary: `${what}: ${fmt(trainable)} of ${fmt(count(all))} parameters train` };
}

/**
 * The optimizer's parameter groups: only parameters that train; with a backbone multiplier below
 * 1 and a known head, the backbone in its own group at `lr × backboneLr` (schedulers scale each
 * group from its own starting lr, so the ratio holds through warm-up and decay).
 */
export function paramGroups(model: Module<never, unknown>, head: AnyModule | null, lr: number, backboneLr: number): Params<{ lr: number; weightDecay: number }> {
  const trainable = model.parameters().filter((p) => p.requiresGrad);
  if (backboneLr === 1) return trainable;
  if (head === null) throw new Error('--backbone-lr: this task does not say which module is the head');
  const headParams = new Set(head.parameters());
  const backbone = trainable.filter((p) => !headParams.has(p));
  const top = trainable.filter((p) => headParams.has(p));
  return [...(backbone.length > 0 ? [{ params: backbone, lr: lr * backboneLr }] : []), { params: top }];
}
