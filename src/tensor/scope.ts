/**
 * Ownership of native memory. Every tensor registers on the innermost open scope; `tidy(fn)`
 * disposes all tensors created inside `fn` except those it returns, which move to the outer scope.
 * Tensors made outside any scope belong to the caller (parameters, optimizer state).
 */
export interface Disposable {
  dispose(): void;
  readonly isDisposed: boolean;
  /**
   * Called when the object leaves the last scope alive (kept, or returned from the outermost
   * tidy): from then on nothing frees it but its owner, so tensors register with the GC backstop
   * here rather than at birth, which would cost every scoped temporary a registration.
   */
  unscoped?(): void;
}

const scopes: Set<Disposable>[] = [];

/** Called by every new tensor; false when no scope is open (the caller owns it alone). */
export function track(t: Disposable): boolean {
  const scope = scopes[scopes.length - 1];
  scope?.add(t);
  return scope !== undefined;
}

/** Called on dispose, so a scope does not hold dead tensors. */
export function untrack(t: Disposable): void {
  scopes[scopes.length - 1]?.delete(t);
}

/** Takes a tensor out of the current scope: it outlives `tidy` and must be disposed by its owner. */
export function keep<T extends Disposable>(t: T): T {
  for (const s of scopes) s.delete(t);
  t.unscoped?.();
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
  for (const t of kept) {
    if (!scope.has(t) || t.isDisposed) continue;
    if (outer) outer.add(t);
    else t.unscoped?.();
  }
  return result;
}

/** Depth of open scopes (0 outside any `tidy`). */
export const scopeDepth = (): number => scopes.length;
