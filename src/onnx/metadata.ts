/**
 * Editing the deployment contract's entries in `metadata_props` without parsing the whole
 * contract (src/onnx/contract.ts reads it), so graph transforms stay free of its dependencies.
 */
import type { StringStringEntryProto } from './proto.js';

/**
 * The props with `precision` set, when they carry a Kestrel contract (a `kestrel` key); other
 * models' metadata is returned unchanged.
 */
export function setPrecision(props: readonly StringStringEntryProto[] | undefined, precision: 'fp32' | 'fp16' | 'int8'): StringStringEntryProto[] {
  const list = [...(props ?? [])];
  if (!list.some((p) => p.key === 'kestrel')) return list;
  const rest = list.filter((p) => p.key !== 'precision');
  return [...rest, { key: 'precision', value: precision }];
}
