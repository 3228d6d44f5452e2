/**
 * Fine-tuning controls every task shares: which layers are frozen (`--freeze backbone` or
 * `--freeze N`), their batch-norm statistics kept as pretrained, and a smaller learning rate for
 * the backbone than for the rest (discriminative learning rates). A task says which module is its
 * head (TaskRun.head) and, where the backbone is not simply everything else (a detector's neck is
 * neither), which modules are its backbone (TaskRun.backbone).
 */
import type { Module } from '../nn/module.js';
import type { Params } from '../optim/optimizer.js';
import type { Tensor } from '../tensor/tensor.js';
import type { DecayGroups } from './optimizer.js';

type AnyModule = Module<never[], unknown>;

/** What fine-tuning needs to know of a model. */
export interface ModelParts {
  /** The module mapping features to the task's outputs (re-initialised when the classes differ), or null. */
  head: AnyModule | null;
  /** The modules --freeze backbone keeps and --backbone-lr scales, by name; absent: everything but the head. */
  backbone?: [string, AnyModule][] | undefined;
}

/**
 * Containers whose numbered children count as layers one by one: torchvision's `features`, timm's
 * `blocks`, Ultralytics' `model` (its freeze counts model.0, model.1, …) and a dense model's
 * `backbone` (`backbone.conv1`, `backbone.layer1`, … or `backbone.0`, … under torchvision's names).
 */
const STAGED = new Set(['features', 'blocks', 'model', 'backbone']);

/**
 * The model's layers in forward order, for `--freeze N`: its top-level modules, with the numbered
 * children of the containers above counted one by one; modules without parameters are skipped.
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

/** The backbone's modules by name: the task's, or every layer that shares no parameter with the head. */
function backboneOf(model: Module<never, unknown>, parts: ModelParts, flag: string): [string, AnyModule][] {
  if (parts.backbone) return parts.backbone;
  if (parts.head === null) throw new Error(`${flag}: this model has no backbone and head to tell apart; give --freeze N (layers) instead`);
  const headParams = new Set(parts.head.parameters());
  return layersOf(model).filter(([, m]) => !m.parameters().some((p) => headParams.has(p)));
}

/** The backbone's parameters, for the optimizer's groups. */
export function backboneParams(model: Module<never, unknown>, parts: ModelParts): Set<Tensor> {
  return new Set(backboneOf(model, parts, '--backbone-lr').flatMap(([, m]) => m.parameters()));
}

/**
 * Freezes what `spec` names ('backbone': the task's backbone, by default everything but the head;
 * a number N: the first N layers of layersOf) by turning off its parameters' gradients; returns
 * the modules to keep in eval mode.
 */
export function applyFreeze(model: Module<never, unknown>, spec: string | undefined, parts: ModelParts): FreezePlan {
  const all = model.parameters();
  let frozen: [string, AnyModule][] = [];
  if (spec === 'backbone') {
    frozen = backboneOf(model, parts, '--freeze backbone');
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

type GroupParams = Params<{ lr: number; weightDecay: number }>;

/**
 * The optimizer's parameter groups: only parameters that train; with a backbone multiplier below
 * 1, the backbone in its own group at `lr × backboneLr` (schedulers scale each group from its own
 * starting lr, so the ratio holds through warm-up and decay).
 */
export function paramGroups(model: Module<never, unknown>, parts: ModelParts, lr: number, backboneLr: number): GroupParams {
  const trainable = model.parameters().filter((p) => p.requiresGrad);
  if (backboneLr === 1) return trainable;
  const backbone = backboneParams(model, parts);
  const body = trainable.filter((p) => backbone.has(p));
  const top = trainable.filter((p) => !backbone.has(p));
  return [...(body.length > 0 ? [{ params: body, lr: lr * backboneLr }] : []), { params: top }];
}

/**
 * Ultralytics' three weight-decay groups (bias, decayed weights, norm weights), and with a backbone
 * multiplier below 1 the same three again for the backbone at `lr × backboneLr`. `biasGroups` are
 * the indices of the bias groups, which the SGD warm-up starts high (warmup.ts).
 */
export function decayParamGroups(g: DecayGroups, backbone: Set<Tensor> | null, lr: number, backboneLr: number): { params: GroupParams; biasGroups: number[] } {
  const three = (keep: (p: Tensor) => boolean, groupLr?: number): { params: Tensor[]; lr?: number; weightDecay?: number }[] => {
    const at = groupLr === undefined ? {} : { lr: groupLr };
    return [{ params: g.bias.filter(keep), weightDecay: 0, ...at }, { params: g.decay.filter(keep), ...at }, { params: g.norm.filter(keep), weightDecay: 0, ...at }];
  };
  if (backbone === null || backboneLr === 1) return { params: three(() => true), biasGroups: [0] };
  return { params: [...three((p) => !backbone.has(p)), ...three((p) => backbone.has(p), lr * backboneLr)], biasGroups: [0, 3] };
}
