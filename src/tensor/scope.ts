/**
 * Ownership of native memory. Every tensor registers on the innermost open scope; `tidy(fn)`
 * disposes all tensors created inside `fn` except those it returns, which move to the outer scope.
 * Tensors made outside any scope belong to the caller (parameters, optimizer state).
 */
export interface Disposable {
  dispose(): void;
  readonly isDisposed: boolean;
}

const scopes: Set<Disposable>[] = [];

/** Called by every new tensor. */
export function track(t: Disposable): void {
  scopes[scopes.length - 1]?.add(t);
}

/** Called on dispose, so a scope does not hold dead tensors. */
export function untrack(t: Disposable): void {
  scopes[scopes.length - 1]?.delete(t);
}

/** Takes a tensor out of the current scope: it outlives `tidy` and must be disposed by its owner. */
export function keep<T extends Disposable>(t: T): T {
  for (const s of scopes) s.delete(t);
  return t;
}

function collect(value: unknown, into: Set<Disposable>, depth = 0): void {
  if (value === null || typeof value !== 'object' || depth > 4) return;
  if ('dispose' in value && 'isDisposed' in value) {
    into.add(value as Disposable);
    return;
  }
  const items = Array.isArray(value) ? value : value instanceof Map ? [...value.values()] : Object.values(value);
  for (const v of items) collect(v, into, depth + 1);
}

/**
 * Runs `fn` in a scope; every tensor created inside is disposed when it returns, except the
 * tensors in its result (a tensor, or arrays/objects/maps of them).
 *
 * @example
 * const loss = tidy(() => model.forward(x).sub(y).pow(2).mean());
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Disposable>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
    if (result instanceof Promise) throw new Error('tidy(): a scope must not span an await; return a value, not a promise');
  } catch (e) {
    scopes.pop();
    for (const t of scope) t.dispose();
    throw e;
  }
  scopes.pop();
  const kept = new Set<Disposable>();
  collect(result, kept);
  for (const t of scope) if (!kept.has(t)) t.dispose();
  const outer = scopes[scopes.length - 1];
  if (outer) for (const t of kept) if (scope.has(t) && !t.isDisposed) outer.add(t);
  return result;
}

/** Depth of open scopes (0 outside any `tidy`). */
export const scopeDepth = (): number => scopes.length;
