/**
 * nsfwjs (from 3.0) ships its models as browserify bundles: `model.min.js` whose module body is
 * `a.exports={modelTopology:…,weightsManifest:…}` and `group1-shardNofM.min.js` holding the shard
 * as a base64 string. Kestrel reads the literal out of the text instead of running the file: a
 * small parser of the JavaScript literal forms a minifier writes (unquoted keys, `!0`/`!1`, `.5`).
 */
import { TfjsError } from './model-json.js';

class LiteralParser {
  #i = 0;
  constructor(private readonly s: string, start: number) {
    this.#i = start;
  }

  #ws(): void {
    while (/\s/.test(this.s[this.#i] ?? '')) this.#i++;
  }

  #fail(what: string): never {
    throw new TfjsError(`the bundle's literal does not parse at character ${this.#i}: ${what}`);
  }

  value(): unknown {
    this.#ws();
    const ch = this.s[this.#i];
    if (ch === '{') return this.#object();
    if (ch === '[') return this.#array();
    if (ch === '"' || ch === "'") return this.#string();
    if (ch === '!') {
      this.#i++;
      const v = this.value();
      return !v;
    }
    if (this.s.startsWith('null', this.#i)) return (this.#i += 4), null;
    if (this.s.startsWith('true', this.#i)) return (this.#i += 4), true;
    if (this.s.startsWith('false', this.#i)) return (this.#i += 5), false;
    if (this.s.startsWith('void 0', this.#i)) return (this.#i += 6), undefined;
    const m = /^-?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?/i.exec(this.s.slice(this.#i, this.#i + 40));
    if (m) return (this.#i += m[0].length), Number(m[0]);
    return this.#fail(`unexpected ${JSON.stringify(ch)}`);
  }

  // A shard is one 5.6 MB base64 string: runs without escapes are sliced, not appended a character
  // at a time (which took 6.6 s for InceptionV3's 30 MB of shards).
  #string(): string {
    const q = this.s.charCodeAt(this.#i++);
    const backslash = 92;
    let out = '';
    for (;;) {
      let j = this.#i;
      while (j < this.s.length && this.s.charCodeAt(j) !== q && this.s.charCodeAt(j) !== backslash) j++;
      out += this.s.slice(this.#i, j);
      this.#i = j;
      if (j >= this.s.length) this.#fail('unterminated string');
      this.#i++;
      if (this.s.charCodeAt(j) === q) return out;
      const e = this.s[this.#i++]!;
      if (e === 'u') {
        out += String.fromCharCode(parseInt(this.s.slice(this.#i, this.#i + 4), 16));
        this.#i += 4;
      } else out += ({ n: '\n', t: '\t', r: '\r', b: '\b', f: '\f', v: '\v', '0': '\0' } as Record<string, string>)[e] ?? e;
    }
  }

  #key(): string {
    this.#ws();
    const ch = this.s[this.#i];
    if (ch === '"' || ch === "'") return this.#string();
    const m = /^[A-Za-z_$0-9][\w$]*/.exec(this.s.slice(this.#i, this.#i + 200));
    if (!m) this.#fail('expected a key');
    this.#i += m[0].length;
    return m[0];
  }

  #object(): Record<string, unknown> {
    this.#i++;
    const out: Record<string, unknown> = {};
    this.#ws();
    if (this.s[this.#i] === '}') return this.#i++, out;
    for (;;) {
      const k = this.#key();
      this.#ws();
      if (this.s[this.#i++] !== ':') this.#fail('expected ":"');
      Object.defineProperty(out, k, { value: this.value(), enumerable: true, writable: true, configurable: true });
      this.#ws();
      const sep = this.s[this.#i++];
      if (sep === '}') return out;
      if (sep !== ',') this.#fail('expected "," or "}"');
    }
  }

  #array(): unknown[] {
    this.#i++;
    const out: unknown[] = [];
    this.#ws();
    if (this.s[this.#i] === ']') return this.#i++, out;
    for (;;) {
      out.push(this.value());
      this.#ws();
      const sep = this.s[this.#i++];
      if (sep === ']') return out;
      if (sep !== ',') this.#fail('expected "," or "]"');
    }
  }
}

/** The value a browserify bundle's module 1 assigns to `module.exports`. */
export function bundleExports(text: string, what: string): unknown {
  // The UMD prelude mentions module.exports too; the module body is the assignment to a literal.
  const m = /\b[A-Za-z_$][\w$]*\.exports\s*=\s*(?=[{"'])/.exec(text);
  if (!m) throw new TfjsError(`${what} is not a bundle Kestrel reads (no module.exports literal)`);
  return new LiteralParser(text, m.index + m[0].length).value();
}

/** A shard bundle's bytes. */
export function bundleShard(text: string, what: string): Uint8Array {
  const v = bundleExports(text, what);
  if (typeof v !== 'string') throw new TfjsError(`${what} does not hold a base64 weight shard`);
  return new Uint8Array(Buffer.from(v, 'base64'));
}
