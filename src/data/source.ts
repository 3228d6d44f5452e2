/** Where a split's samples come from: pixels already in memory, or image files decoded on demand. */

/**
 * The boxes of one image: `boxes` holds 4·n values (x1, y1, x2, y2 in the source image's pixels,
 * pixel i spanning [i, i + 1]), `classes` n class ids. Empty arrays: a background image.
 */
export interface BoxTargets {
  boxes: Float32Array;
  classes: Int32Array;
}

/** Decoded images held in memory (IDX sets), HWC per image, one after the other. */
export interface MemorySource {
  kind: 'memory';
  /** N·H·W·C bytes. Backed by a SharedArrayBuffer when it comes from resolveClassifyData, so loader workers share it without copying. */
  images: Uint8Array;
  height: number;
  width: number;
  channels: 1 | 3;
  labels: Int32Array;
  /** One id per sample, e.g. "train/123". */
  ids: string[];
  /** Detection targets, one entry per sample. */
  boxes?: BoxTargets[];
  /** Segmentation targets: N·H·W class ids (255 = ignore), laid out as `images` without channels. */
  masks?: Uint8Array;
}

/** Image files, decoded (and converted to `channels`) by the loader. */
export interface FileSource {
  kind: 'files';
  paths: string[];
  labels: Int32Array;
  /** Channels to decode to (default 3). */
  channels?: 1 | 3;
  /** Detection targets, one entry per sample. */
  boxes?: BoxTargets[];
  /** Segmentation targets: one PNG per sample, 8-bit single channel, pixel = class id, 255 = ignore; the image's size. */
  masks?: string[];
}

export type DataSource = MemorySource | FileSource;

/** Number of samples in a source. */
export const sourceLength = (s: DataSource): number => s.labels.length;

/** The id of sample `i`: its memory id or its file path. */
export const sampleId = (s: DataSource, i: number): string => (s.kind === 'memory' ? s.ids[i]! : s.paths[i]!);

/** A file that was left out, and why. */
export interface Skipped {
  path: string;
  reason: string;
}

/** An image-classification data set, resolved and checked, ready for DataLoader. */
export interface ClassifyData {
  name: string;
  /** Class names; label k is classes[k]. */
  classes: string[];
  inChannels: 1 | 3;
  /** [h, w] when every image has one size (IDX sets; folders and manifests whose usable images all share it), else null. */
  nativeSize: [number, number] | null;
  splits: { train: DataSource; val: DataSource; test?: DataSource };
  /** Files left out while scanning (not an image extension, unreadable, truncated). */
  skipped: Skipped[];
}

/** The samples of `s` at `indices`, as a new source of the same kind. */
export function subset(s: DataSource, indices: ArrayLike<number>): DataSource {
  const idx = Array.from(indices);
  const labels = Int32Array.from(idx, (i) => s.labels[i]!);
  if (s.kind === 'files') {
    const out: FileSource = { kind: 'files', paths: idx.map((i) => s.paths[i]!), labels };
    if (s.channels !== undefined) out.channels = s.channels;
    if (s.boxes) out.boxes = idx.map((i) => s.boxes![i]!);
    if (s.masks) out.masks = idx.map((i) => s.masks![i]!);
    return out;
  }
  const out: MemorySource = { ...s, images: gather(s.images, idx, s.height * s.width * s.channels), labels, ids: idx.map((i) => s.ids[i]!) };
  if (s.boxes) out.boxes = idx.map((i) => s.boxes![i]!);
  if (s.masks) out.masks = gather(s.masks, idx, s.height * s.width);
  return out;
}

/** Items `idx` of `size` bytes each, packed into shared memory (loader workers read it without a copy). */
function gather(data: Uint8Array, idx: number[], size: number): Uint8Array {
  const out = new Uint8Array(new SharedArrayBuffer(idx.length * size));
  idx.forEach((i, k) => out.set(data.subarray(i * size, (i + 1) * size), k * size));
  return out;
}
