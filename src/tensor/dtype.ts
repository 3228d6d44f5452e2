/** Element types, named as in PyTorch without the `torch.` prefix. Codes are c10::ScalarType's. */
export const DTYPES = {
  uint8: 0,
  int8: 1,
  int16: 2,
  int32: 3,
  int64: 4,
  float16: 5,
  float32: 6,
  float64: 7,
  bool: 11,
  bfloat16: 15,
} as const;

export type DType = keyof typeof DTYPES;

const BY_CODE = new Map<number, DType>(Object.entries(DTYPES).map(([k, v]) => [v, k as DType]));

export function dtypeCode(d: DType): number {
  const code = DTYPES[d];
  if (code === undefined) throw new TypeError(`unknown dtype '${String(d)}' (expected one of ${Object.keys(DTYPES).join(', ')})`);
  return code;
}

export function dtypeOf(code: number): DType {
  const d = BY_CODE.get(code);
  if (!d) throw new TypeError(`unsupported native dtype code ${code}`);
  return d;
}

export const isFloating = (d: DType): boolean => d === 'float32' || d === 'float64' || d === 'float16' || d === 'bfloat16';

export const BYTES: Record<DType, number> = {
  uint8: 1, int8: 1, int16: 2, int32: 4, int64: 8, float16: 2, float32: 4, float64: 8, bool: 1, bfloat16: 2,
};

/** The typed array that holds a dtype's values when read back (half types are widened to float32). */
export type DataArray = Float32Array | Float64Array | Int32Array | Int16Array | Int8Array | Uint8Array | BigInt64Array;

export function viewAs(dtype: DType, buf: ArrayBuffer): DataArray {
  switch (dtype) {
    case 'float32': case 'float16': case 'bfloat16': return new Float32Array(buf);
    case 'float64': return new Float64Array(buf);
    case 'int64': return new BigInt64Array(buf);
    case 'int32': return new Int32Array(buf);
    case 'int16': return new Int16Array(buf);
    case 'int8': return new Int8Array(buf);
    case 'uint8': case 'bool': return new Uint8Array(buf);
  }
}

/** The dtype a typed array maps to when a tensor is made from it. */
export function dtypeOfArray(a: ArrayBufferView): DType | undefined {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Float64Array) return 'float64';
  if (a instanceof BigInt64Array) return 'int64';
  if (a instanceof Int32Array) return 'int32';
  if (a instanceof Int16Array) return 'int16';
  if (a instanceof Int8Array) return 'int8';
  if (a instanceof Uint8Array || a instanceof Uint8ClampedArray) return 'uint8';
  return undefined;
}
