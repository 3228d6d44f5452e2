import type { OnnxGraph, OnnxValue } from '../onnx/graph.js';
import type { Tensor } from '../tensor/tensor.js';
import { Module } from './module.js';

type AnyModule = Module<never, unknown>;
type Layer = Module<[Tensor], Tensor>;

/** Runs its children in order; they are named "0", "1", … as in PyTorch. */
export class Sequential extends Module {
  readonly layers: Layer[];

  constructor(...layers: Layer[]) {
    super();
    this.layers = layers;
    layers.forEach((m, i) => this.registerModule(String(i), m));
  }

  at(i: number): Layer {
    const m = this.layers[i < 0 ? this.layers.length + i : i];
    if (!m) throw new RangeError(`Sequential has ${this.layers.length} layers, no index ${i}`);
    return m;
  }

  forward(x: Tensor): Tensor {
    let y = x;
    for (const m of this.layers) y = m.forward(y);
    return y;
  }

  protected override onnx(g: OnnxGraph, x: OnnxValue): OnnxValue {
    let y = x;
    for (const m of this.layers) y = m.toOnnx(g, y);
    return y;
  }
}

/** Holds modules under "0", "1", …; the owner decides how to call them. */
export class ModuleList<M extends AnyModule = AnyModule> extends Module<[], never> {
  readonly items: M[] = [];

  constructor(modules: Iterable<M> = []) {
    super();
    for (const m of modules) this.push(m);
  }

  push(m: M): this {
    this.registerModule(String(this.items.length), m);
    this.items.push(m);
    return this;
  }

  get length(): number {
    return this.items.length;
  }

  [Symbol.iterator](): Iterator<M> {
    return this.items[Symbol.iterator]();
  }

  forward(): never {
    throw new Error('ModuleList has no forward(); iterate over its modules');
  }
}
