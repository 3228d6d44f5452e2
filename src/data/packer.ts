/** Packs a batch's transformed samples, and their targets, into the buffers a BatchResult carries. */
import { PipelineError } from './errors.js';
import type { FusedSample } from './fused.js';
import type { Img } from './pixels.js';
import type { Sample, SampleGeometry } from './targets.js';

/** Which targets the batch carries. */
export interface PackedTargets {
  boxes: boolean;
  masks: boolean;
  geometry: boolean;
}

export interface Packed {
  data: Float32Array;
  shape: [number, number, number];
  /** Slots of the batch that hold a sample, in order. */
  slots: number[];
  /** float32 [M, 6]: (index in the batch, class, x1, y1, x2, y2). */
  boxes?: Float32Array;
  /** slots.length · H · W class ids. */
  masks?: Uint8Array;
  geometry?: SampleGeometry[];
}

type Targets = Omit<Sample, 'img'>;

export class Packer {
  #data: Float32Array | null = null;
  #masks: Uint8Array | null = null;
  #shape: [number, number, number] = [0, 0, 0];
  readonly #filled: boolean[];
  readonly #targets: (Targets | undefined)[];

  /** `spare`: buffers of earlier batches to refill (one of exactly the batch's size is taken). */
  constructor(n: number, private readonly spare: ArrayBuffer[] = [], private readonly want: PackedTargets | null = null) {
    this.#filled = new Array<boolean>(n).fill(false);
    this.#targets = new Array<Targets | undefined>(n);
  }

  /** Where sample `slot`, of CHW shape `shape`, goes in the batch buffer (allocated by the first sample). */
  #at(slot: number, shape: [number, number, number]): number {
    const size = shape[0] * shape[1] * shape[2];
    if (this.#data === null) {
      this.#shape = shape;
      // A spare buffer, else an uninitialized one (no memset of the whole batch): every kept slot
      // is written in full, and finish() hands out only those.
      const n = this.#filled.length * size;
      const k = this.spare.findIndex((b) => b.byteLength === n * 4);
      const buffer = k >= 0 ? this.spare.splice(k, 1)[0]! : Buffer.allocUnsafeSlow(n * 4).buffer;
      this.#data = new Float32Array(buffer, 0, n);
    } else if (shape.some((v, k) => v !== this.#shape[k])) {
      throw new PipelineError(`samples in a batch differ in size (${shape.join('×')} vs ${this.#shape.join('×')}): end the transforms with a fixed-size crop or resize`);
    }
    this.#filled[slot] = true;
    return slot * size;
  }

  put(slot: number, img: Img & { data: Float32Array }): void {
    const at = this.#at(slot, [img.channels, img.height, img.width]);
    this.#data!.set(img.data, at);
  }

  /** Lets the fused tail write the sample in place. */
  write(slot: number, s: FusedSample): void {
    const at = this.#at(slot, s.shape);
    s.write(this.#data!, at);
  }

  /** The targets of the sample just put in `slot` (its mask has the image's size). */
  targets(slot: number, t: Targets): void {
    this.#targets[slot] = t;
    if (!t.mask) return;
    const plane = this.#shape[1] * this.#shape[2];
    this.#masks ??= new Uint8Array(this.#filled.length * plane);
    this.#masks.set(t.mask, slot * plane);
  }

  finish(): Packed {
    const slots: number[] = [];
    const data = this.#data ?? new Float32Array(0);
    const size = this.#shape[0] * this.#shape[1] * this.#shape[2];
    const plane = this.#shape[1] * this.#shape[2];
    this.#filled.forEach((filled, slot) => {
      if (!filled) return;
      const k = slots.length;
      if (k !== slot) {
        data.copyWithin(k * size, slot * size, (slot + 1) * size);
        this.#masks?.copyWithin(k * plane, slot * plane, (slot + 1) * plane);
      }
      slots.push(slot);
    });
    const out: Packed = { data: data.subarray(0, slots.length * size), shape: this.#shape, slots };
    const want = this.want;
    if (!want) return out;
    const kept = slots.map((s) => this.#targets[s] ?? {});
    if (want.boxes) out.boxes = packBoxes(kept);
    if (want.masks) out.masks = this.#masks?.subarray(0, slots.length * plane) ?? new Uint8Array(0);
    if (want.geometry) out.geometry = kept.map((t) => t.geometry!);
    return out;
  }
}

/** Every sample's boxes as rows (index in batch, class, x1, y1, x2, y2). */
function packBoxes(kept: Targets[]): Float32Array {
  const out = new Float32Array(6 * kept.reduce((n, t) => n + (t.classes?.length ?? 0), 0));
  let r = 0;
  kept.forEach((t, k) => {
    for (let i = 0; i < (t.classes?.length ?? 0); i++, r += 6) {
      out[r] = k;
      out[r + 1] = t.classes![i]!;
      out.set(t.boxes!.subarray(4 * i, 4 * i + 4), r + 2);
    }
  });
  return out;
}
