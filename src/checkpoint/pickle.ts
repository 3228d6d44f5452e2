/**
 * A restricted unpickler for PyTorch state dicts. A pickle is a program: its GLOBAL opcodes name
 * any Python callable and REDUCE calls it, so loading an untrusted `.pth` with Python's pickle can
 * run anything. This VM runs no Python at all: it implements the opcodes a state dict uses and
 * maps the few globals a state dict names (OrderedDict, torch's tensor rebuilders, storage types)
 * to JS functions; any other global stops the load with a one-line error at the opcode that names
 * it, before any call is made.
 */

/** A pickled Python dict (or OrderedDict): insertion-ordered, with attributes set by BUILD. */
export class PyDict {
  readonly items = new Map<PyKey, unknown>();
  attrs: unknown = null;
}

export type PyKey = string | number | bigint | boolean | null;

/** A Python tuple, kept apart from lists so tuple-taking rebuilders can check their arguments. */
export class PyTuple extends Array<unknown> {}

/** The answer to a persistent id (torch's storages). */
export type PersistentLoad = (pid: unknown) => unknown;

/** What a permitted global does when REDUCE calls it. */
export type PyCallable = (args: unknown[]) => unknown;

export class PickleError extends Error {
  override readonly name = 'PickleError';
}

const tuple = (xs: unknown[]): PyTuple => {
  const t = new PyTuple();
  for (const x of xs) t.push(x);
  return t;
};

/** Python's `pickle` opcodes this VM runs, by byte. */
const OP = {
  MARK: 0x28, STOP: 0x2e, POP: 0x30, POP_MARK: 0x31, DUP: 0x32, BINFLOAT: 0x47, BININT: 0x4a, BININT1: 0x4b, BININT2: 0x4d,
  NONE: 0x4e, BINPERSID: 0x51, REDUCE: 0x52, BINSTRING: 0x54, SHORT_BINSTRING: 0x55, BINUNICODE: 0x58,
  EMPTY_LIST: 0x5d, APPEND: 0x61, BUILD: 0x62, GLOBAL: 0x63, APPENDS: 0x65, BINGET: 0x68, LONG_BINGET: 0x6a,
  EMPTY_DICT: 0x7d, BINPUT: 0x71, LONG_BINPUT: 0x72, SETITEM: 0x73, TUPLE: 0x74, SETITEMS: 0x75, EMPTY_TUPLE: 0x29,
  BINBYTES: 0x42, SHORT_BINBYTES: 0x43, PROTO: 0x80, NEWOBJ: 0x81, TUPLE1: 0x85, TUPLE2: 0x86, TUPLE3: 0x87,
  NEWTRUE: 0x88, NEWFALSE: 0x89, LONG1: 0x8a, LONG4: 0x8b, SHORT_BINUNICODE: 0x8c, BINUNICODE8: 0x8d,
  BINBYTES8: 0x8e, STACK_GLOBAL: 0x93, MEMOIZE: 0x94, FRAME: 0x95,
} as const;

/** Little-endian two's-complement integer of `b` (LONG1/LONG4), as a number when it fits exactly. */
function decodeLong(b: Uint8Array): number | bigint {
  if (b.length === 0) return 0;
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
  if (b[b.length - 1]! & 0x80) v -= 1n << BigInt(8 * b.length);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

const isKey = (k: unknown): k is PyKey => k === null || ['string', 'number', 'bigint', 'boolean'].includes(typeof k);

/**
 * Runs the pickle in `bytes` from `start` to its STOP; returns the object and where it ended.
 * `globals` maps 'module.name' to the only callables the pickle may name.
 *
 * @example
 * const { value } = unpickle(bytes, { globals: new Map([['collections.OrderedDict', () => new PyDict()]]) });
 */
export function unpickle(bytes: Uint8Array, opts: { globals: ReadonlyMap<string, PyCallable>; persistentLoad?: PersistentLoad; start?: number; source?: string }): { value: unknown; end: number } {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const src = opts.source ?? 'pickle';
  const fail = (problem: string): never => { throw new PickleError(`${src}: ${problem}`); };
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  let p = opts.start ?? 0;
  const need = (n: number): number => {
    if (p + n > buf.length) fail(`ends in the middle of an opcode at byte ${p}: truncated`);
    const at = p;
    p += n;
    return at;
  };
  const pop = (): unknown => (stack.length === 0 ? fail('pops an empty stack: corrupt pickle') : stack.pop());
  const top = (): unknown => (stack.length === 0 ? fail('reads an empty stack: corrupt pickle') : stack[stack.length - 1]);
  const popMark = (): unknown[] => {
    const m = marks.pop();
    if (m === undefined) return fail('has no MARK to pop to: corrupt pickle');
    return stack.splice(m);
  };
  const line = (): string => {
    const end = buf.indexOf(0x0a, p);
    if (end < 0) return fail('a GLOBAL has no newline: truncated');
    const s = buf.toString('latin1', p, end);
    p = end + 1;
    return s;
  };
  const lookup = (raw: string, name: string): PyCallable => {
    // Protocol 2 writes Python 3's module names as Python 2's (fix_imports); report the real ones.
    const module = raw === '__builtin__' ? 'builtins' : raw;
    const f = opts.globals.get(`${module}.${name}`);
    if (f === undefined) return fail(`refuses to load: the pickle calls ${module}.${name}, which a state dict never needs (a .pth is a program; this one may be hostile)`);
    return f;
  };
  const setItems = (d: unknown, kv: unknown[]): void => {
    if (!(d instanceof PyDict)) return fail('SETITEM on a non-dict');
    for (let i = 0; i + 1 < kv.length; i += 2) {
      const k = kv[i];
      if (!isKey(k)) return fail('a dict key is not a string or number');
      d.items.set(k, kv[i + 1]);
    }
  };
  const append = (l: unknown, xs: unknown[]): void => {
    if (!Array.isArray(l) || l instanceof PyTuple) return fail('APPEND on a non-list');
    l.push(...xs);
  };
  const str = (n: number, enc: 'utf8' | 'latin1'): string => buf.toString(enc, need(n), p);
  const bin = (n: number): Uint8Array => new Uint8Array(buf.subarray(need(n), p));

  for (;;) {
    const op = buf[need(1)]!;
    switch (op) {
      case OP.PROTO: need(1); break;
      case OP.FRAME: need(8); break;
      case OP.MARK: marks.push(stack.length); break;
      case OP.STOP: return { value: pop(), end: p };
      case OP.POP: pop(); break;
      case OP.POP_MARK: popMark(); break;
      case OP.DUP: stack.push(top()); break;
      case OP.NONE: stack.push(null); break;
      case OP.NEWTRUE: stack.push(true); break;
      case OP.NEWFALSE: stack.push(false); break;
      case OP.BININT: stack.push(buf.readInt32LE(need(4))); break;
      case OP.BININT1: stack.push(buf[need(1)]); break;
      case OP.BININT2: stack.push(buf.readUInt16LE(need(2))); break;
      case OP.LONG1: { const n = buf[need(1)]!; stack.push(decodeLong(bin(n))); break; }
      case OP.LONG4: { const n = buf.readInt32LE(need(4)); if (n < 0) fail('negative LONG4 length'); stack.push(decodeLong(bin(n))); break; }
      case OP.BINFLOAT: stack.push(buf.readDoubleBE(need(8))); break;
      case OP.SHORT_BINUNICODE: stack.push(str(buf[need(1)]!, 'utf8')); break;
      case OP.BINUNICODE: stack.push(str(buf.readUInt32LE(need(4)), 'utf8')); break;
      case OP.BINUNICODE8: stack.push(str(Number(buf.readBigUInt64LE(need(8))), 'utf8')); break;
      // Python 2's str: bytes that torch's old files use for names; latin1 keeps every byte.
      case OP.SHORT_BINSTRING: stack.push(str(buf[need(1)]!, 'latin1')); break;
      case OP.BINSTRING: stack.push(str(buf.readInt32LE(need(4)), 'latin1')); break;
      case OP.SHORT_BINBYTES: stack.push(bin(buf[need(1)]!)); break;
      case OP.BINBYTES: stack.push(bin(buf.readUInt32LE(need(4)))); break;
      case OP.BINBYTES8: stack.push(bin(Number(buf.readBigUInt64LE(need(8))))); break;
      case OP.EMPTY_DICT: stack.push(new PyDict()); break;
      case OP.EMPTY_LIST: stack.push([]); break;
      case OP.EMPTY_TUPLE: stack.push(tuple([])); break;
      case OP.TUPLE: stack.push(tuple(popMark())); break;
      case OP.TUPLE1: stack.push(tuple([pop()])); break;
      case OP.TUPLE2: { const b = pop(); const a = pop(); stack.push(tuple([a, b])); break; }
      case OP.TUPLE3: { const c = pop(); const b = pop(); const a = pop(); stack.push(tuple([a, b, c])); break; }
      case OP.BINPUT: memo.set(buf[need(1)]!, top()); break;
      case OP.LONG_BINPUT: memo.set(buf.readUInt32LE(need(4)), top()); break;
      case OP.MEMOIZE: memo.set(memo.size, top()); break;
      case OP.BINGET: case OP.LONG_BINGET: {
        const k = op === OP.BINGET ? buf[need(1)]! : buf.readUInt32LE(need(4));
        if (!memo.has(k)) fail(`reads memo slot ${k}, never written: corrupt pickle`);
        stack.push(memo.get(k));
        break;
      }
      case OP.GLOBAL: { const module = line(); stack.push(lookup(module, line())); break; }
      case OP.STACK_GLOBAL: {
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL without two strings');
        stack.push(lookup(module as string, name as string));
        break;
      }
      case OP.REDUCE: case OP.NEWOBJ: {
        const args = pop();
        const f = pop();
        if (typeof f !== 'function') fail('calls something that is not a permitted global');
        if (!(args instanceof PyTuple)) fail('calls with arguments that are not a tuple');
        stack.push((f as PyCallable)([...(args as PyTuple)]));
        break;
      }
      case OP.BUILD: {
        const state = pop();
        const obj = top();
        if (!(obj instanceof PyDict)) fail('sets the state of an object other than a dict');
        (obj as PyDict).attrs = state;
        break;
      }
      case OP.SETITEM: { const v = pop(); const k = pop(); setItems(top(), [k, v]); break; }
      case OP.SETITEMS: { const kv = popMark(); setItems(top(), kv); break; }
      case OP.APPEND: { const x = pop(); append(top(), [x]); break; }
      case OP.APPENDS: { const xs = popMark(); append(top(), xs); break; }
      case OP.BINPERSID: {
        if (!opts.persistentLoad) fail('holds a persistent id where none is expected');
        stack.push(opts.persistentLoad!(pop()));
        break;
      }
      default:
        fail(`uses pickle opcode 0x${op.toString(16).padStart(2, '0')} at byte ${p - 1}, which a state dict does not need`);
    }
  }
}
