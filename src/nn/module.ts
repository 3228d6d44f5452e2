/**
 * Module: named parameters, buffers and children, with PyTorch's state-dict names. Parameters are
 * registered under explicit names (`registerParameter('weight', …)`), never taken from JS fields,
 * so `stateDict()` keys match PyTorch's (`layer1.0.conv1.weight`, `bn1.running_mean`).
 */
import type { OnnxGraph, OnnxValue } from '../onnx/graph.js';
import type { Device } from '../tensor/device.js';
import type { DType } from '../tensor/dtype.js';
import { noGrad } from '../tensor/runtime.js';
import { keep } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';

export interface LoadResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

export abstract class Module<In extends unknown[] = [Tensor], Out = Tensor> {
  training = true;
  readonly #params = new Map<string, Tensor | null>();
  readonly #buffers = new Map<string, { tensor: Tensor | null; persistent: boolean }>();
  readonly #children = new Map<string, Module<never[], unknown>>();

  abstract forward(...args: In): Out;

  /**
   * Emits this module's eval-mode computation into an ONNX graph and returns its output: the
   * export counterpart of forward(), which parents call on their children the way forward() does
   * (dropout and stochastic depth vanish, batch norm uses its running statistics). Parameters become
   * initializers under their state-dict names. Layers implement `onnx()`; this wrapper scopes node
   * names and errors to the module's path.
   *
   * @example
   * const g = new OnnxGraph({ names: new Map([...model.stateDict()].map(([k, t]) => [t, k])) });
   * g.output(model.toOnnx(g, g.input('images', ['N', 3, 32, 32])), 'logits');
   */
  toOnnx(g: OnnxGraph, ...inputs: OnnxValue[]): OnnxValue {
    return g.scoped(this, () => this.onnx(g, ...inputs));
  }

  /** The emitter behind toOnnx(); every exportable module overrides it. */
  protected onnx(_g: OnnxGraph, ..._inputs: OnnxValue[]): OnnxValue {
    throw new Error(`${this.constructor.name} has no ONNX export: implement its onnx(g, x) method (see Module.toOnnx)`);
  }

  /** Registers a parameter (a leaf that requires grad) under `name`; it outlives any scope. */
  protected registerParameter<T extends Tensor | null>(name: string, t: T): T {
    this.#checkName(name);
    if (t !== null) keep(t.requiresGrad_(true));
    this.#params.set(name, t);
    return t;
  }

  /** Registers a buffer (running statistics, counters); non-persistent ones stay out of stateDict. */
  protected registerBuffer<T extends Tensor | null>(name: string, t: T, persistent = true): T {
    this.#checkName(name);
    if (t !== null) keep(t);
    this.#buffers.set(name, { tensor: t, persistent });
    return t;
  }

  /** Registers a child module; its parameters appear under `name.`. */
  registerModule<M extends Module<never, unknown>>(name: string, m: M): M {
    this.#checkName(name);
    this.#children.set(name, m as unknown as Module<never[], unknown>);
    return m;
  }

  #checkName(name: string): void {
    if (name === '' || name.includes('.')) throw new TypeError(`invalid module member name '${name}'`);
    if (this.#params.has(name) || this.#buffers.has(name) || this.#children.has(name)) {
      throw new TypeError(`'${name}' is already registered on ${this.constructor.name}`);
    }
  }

  *namedChildren(): Generator<[string, Module<never[], unknown>]> {
    yield* this.#children;
  }

  /** This module and every descendant, depth first, with dotted names ('' for this one). */
  *namedModules(prefix = ''): Generator<[string, Module<never[], unknown>]> {
    yield [prefix, this as unknown as Module<never[], unknown>];
    for (const [name, child] of this.#children) yield* child.namedModules(prefix ? `${prefix}.${name}` : name);
  }

  *namedParameters(prefix = ''): Generator<[string, Tensor]> {
    for (const [name, m] of this.namedModules(prefix)) {
      for (const [p, t] of m.#params) if (t !== null) yield [name ? `${name}.${p}` : p, t];
    }
  }

  parameters(): Tensor[] {
    return Array.from(this.namedParameters(), ([, t]) => t);
  }

  *namedBuffers(prefix = '', persistentOnly = false): Generator<[string, Tensor]> {
    for (const [name, m] of this.namedModules(prefix)) {
      for (const [b, { tensor, persistent }] of m.#buffers) {
        if (tensor !== null && (persistent || !persistentOnly)) yield [name ? `${name}.${b}` : b, tensor];
      }
    }
  }

  buffers(): Tensor[] {
    return Array.from(this.namedBuffers(), ([, t]) => t);
  }

  /** Number of parameter elements (trainable only, when asked). */
  numParameters(trainableOnly = false): number {
    return this.parameters().reduce((n, p) => n + (trainableOnly && !p.requiresGrad ? 0 : p.numel()), 0);
  }

  /** Sets training mode here and below (dropout, batch-norm statistics). */
  train(on = true): this {
    for (const [, m] of this.namedModules()) m.training = on;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Freezes (false) or unfreezes (true) every parameter of this sub-tree. */
  requiresGrad_(on: boolean): this {
    for (const p of this.parameters()) p.requiresGrad_(on);
    return this;
  }

  /** Drops every parameter's gradient (PyTorch's zero_grad(set_to_none=True)). */
  zeroGrad(): void {
    for (const p of this.parameters()) p.grad = null;
  }

  /**
   * Parameters and persistent buffers by PyTorch name, in PyTorch's order (each module's
   * parameters, then its buffers, then its children's). The tensors are the module's own (not
   * copies): read or save them, do not dispose them.
   */
  stateDict(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const [name, m] of this.namedModules()) {
      const key = (k: string): string => (name ? `${name}.${k}` : k);
      for (const [p, t] of m.#params) if (t !== null) out.set(key(p), t);
      for (const [b, { tensor, persistent }] of m.#buffers) if (tensor !== null && persistent) out.set(key(b), tensor);
    }
    return out;
  }

  /** Copies values into this module's tensors by name; shapes must match. */
  loadStateDict(state: Map<string, Tensor> | Record<string, Tensor>, opts: { strict?: boolean } = {}): LoadResult {
    const source = state instanceof Map ? state : new Map(Object.entries(state));
    const own = this.stateDict();
    const missingKeys = [...own.keys()].filter((k) => !source.has(k));
    const unexpectedKeys = [...source.keys()].filter((k) => !own.has(k));
    if ((opts.strict ?? true) && (missingKeys.length > 0 || unexpectedKeys.length > 0)) {
      const parts = [];
      if (missingKeys.length) parts.push(`missing keys: ${missingKeys.slice(0, 8).join(', ')}${missingKeys.length > 8 ? ', …' : ''}`);
      if (unexpectedKeys.length) parts.push(`unexpected keys: ${unexpectedKeys.slice(0, 8).join(', ')}${unexpectedKeys.length > 8 ? ', …' : ''}`);
      throw new Error(`loadStateDict(): ${parts.join('; ')}`);
    }
    for (const [k, dst] of own) {
      const src = source.get(k);
      if (src === undefined) continue;
      const [a, b] = [dst.shape, src.shape];
      if (a.length !== b.length || a.some((d, i) => d !== b[i])) {
        throw new Error(`loadStateDict(): '${k}' has shape [${b.join(', ')}] but the model expects [${a.join(', ')}]`);
      }
    }
    noGrad(() => {
      for (const [k, dst] of own) {
        const src = source.get(k);
        if (src !== undefined) dst.copy_(src);
      }
    });
    return { missingKeys, unexpectedKeys };
  }

  /** Moves or casts every parameter and buffer in place (float dtypes only are cast). */
  to(target: Device | DType): this {
    noGrad(() => {
      for (const t of [...this.parameters(), ...this.buffers()]) {
        const isFloat = t.dtype.startsWith('float') || t.dtype === 'bfloat16';
        if (!(target === 'cpu' || target.startsWith('cuda')) && !isFloat) continue;
        const moved = t.to(target);
        t.setData(moved);
        moved.dispose();
      }
    });
    return this;
  }

  /**
   * Stores every 4-d parameter and buffer channels-last (NHWC strides; shapes stay NCHW) or back in
   * the default layout, as PyTorch's `model.to(memory_format=torch.channels_last)`. oneDNN runs most
   * convolutions faster on channels-last data; feed such a model channels-last inputs
   * (`x.contiguous(true)`). Saved state is unaffected: checkpoints always hold row-major data.
   */
  memoryFormat(format: 'channelsLast' | 'contiguous'): this {
    noGrad(() => {
      for (const t of [...this.parameters(), ...this.buffers()]) {
        if (t.ndim !== 4) continue;
        const moved = t.contiguous(format === 'channelsLast');
        t.setData(moved);
        moved.dispose();
      }
    });
    return this;
  }

  /** Frees every parameter and buffer of this module and its children. */
  dispose(): void {
    for (const t of [...this.parameters(), ...this.buffers()]) t.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
